// The boundary between the watcher (which builds snapshots) and the serving tier (which
// answers HTTP-only clients such as serverless functions). The serving tier reads only this
// interface, so it can run apart from the watcher with another store behind it.
import { combinedVersion, resourceToJson, decodeResourceBody, TYPE_SERVICE, type ResourceType, type EncodedResource } from '@skein/protocol';

/** One resource as JSON, pre-serialized once per version. */
export interface StoredResource {
  readonly typeUrl: ResourceType;
  readonly name: string;
  readonly namespace: string;
  readonly version: string;
  /** `{"name":…,"version":…,"resource":{…}}`, ready to splice into a response. */
  readonly json: string;
}

export interface StoredSnapshot {
  readonly version: string;
  readonly createdAt: number;
  readonly resources: readonly StoredResource[];
}

export interface SnapshotStore {
  /** The newest snapshot, or undefined before the first is published. */
  latest(): Promise<StoredSnapshot | undefined>;
  /**
   * Resolves with the newest snapshot once its version differs from `version`, or with
   * undefined when `timeoutMs` passes or `signal` aborts first. Never rejects.
   */
  waitForChange(version: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<StoredSnapshot | undefined>;
}

/** The view of a published snapshot the store needs (the snapshot cache's Snapshot fits). */
export interface PublishedSnapshot {
  readonly version: string;
  readonly createdAt: number;
  readonly resources: ReadonlyMap<ResourceType, ReadonlyMap<string, EncodedResource>>;
}

const jsonByEncoding = new WeakMap<EncodedResource, string>();

function resourceJson(resource: EncodedResource): string {
  let json = jsonByEncoding.get(resource);
  if (json === undefined) {
    const decoded = decodeResourceBody(resource.typeUrl, resource.body);
    const body = decoded.ok ? resourceToJson(resource.typeUrl, decoded.value) : { error: decoded.error };
    json = JSON.stringify({ name: resource.name, version: resource.version, resource: body });
    jsonByEncoding.set(resource, json);
  }
  return json;
}

/** Converts a published snapshot, re-serializing only resources whose version is new. */
export function toStoredSnapshot(snapshot: PublishedSnapshot): StoredSnapshot {
  const resources: StoredResource[] = [];
  for (const [typeUrl, byName] of snapshot.resources) {
    for (const resource of byName.values()) {
      resources.push({
        typeUrl, name: resource.name, namespace: resource.name.split('/')[0] ?? '',
        version: resource.version, json: resourceJson(resource),
      });
    }
  }
  resources.sort((a, b) => (a.typeUrl === b.typeUrl ? (a.name < b.name ? -1 : 1) : a.typeUrl === TYPE_SERVICE ? -1 : 1));
  return { version: snapshot.version, createdAt: snapshot.createdAt, resources };
}

/** ETag-able version of a filtered set of resources. */
export function resourcesVersion(resources: readonly StoredResource[]): string {
  return combinedVersion(resources.map((r) => [`${r.typeUrl}|${r.name}`, r.version] as const));
}

/** In-process store: the control plane publishes into it and serves from it. */
export class MemorySnapshotStore implements SnapshotStore {
  private snapshot: StoredSnapshot | undefined;
  private readonly waiters = new Set<() => void>();

  publish(snapshot: StoredSnapshot): void {
    if (this.snapshot?.version === snapshot.version) return;
    this.snapshot = snapshot;
    for (const wake of [...this.waiters]) wake();
  }

  async latest(): Promise<StoredSnapshot | undefined> {
    return this.snapshot;
  }

  waitForChange(version: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<StoredSnapshot | undefined> {
    if (this.snapshot && this.snapshot.version !== version) return Promise.resolve(this.snapshot);
    return new Promise((resolve) => {
      const done = (value: StoredSnapshot | undefined): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const wake = (): void => done(this.snapshot);
      const onAbort = (): void => done(undefined);
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Wakes every waiter with "no change" (shutdown). */
  close(): void {
    for (const wake of [...this.waiters]) wake();
  }
}
