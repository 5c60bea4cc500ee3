// The fake API server's etcd: objects by resource type, one global resourceVersion counter, a
// bounded history of change events (for watches that resume), and live change listeners.
import { randomUUID } from 'node:crypto';
import { apiVersionOf, resourceByKind, type ResourceType } from './resources.js';
import type { StoredObject } from './selectors.js';

/** A change, as a watch reports it before filtering. */
export interface ChangeEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  resource: ResourceType;
  /** resourceVersion of the change (the object's, for ADDED/MODIFIED/DELETED alike). */
  resourceVersion: number;
  object: StoredObject;
  /** The object before the change (MODIFIED only): watches with selectors need it. */
  previous?: StoredObject;
}

export type ChangeListener = (event: ChangeEvent) => void;

/** Metadata fields the store fills in; everything else is kept as given. */
interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  [field: string]: unknown;
}

function keyOf(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

export class ObjectStore {
  private rv = 0;
  private compactedRv = 0;
  private readonly objects = new Map<string, Map<string, StoredObject>>();
  private history: ChangeEvent[] = [];
  private readonly listeners = new Set<ChangeListener>();

  constructor(private readonly historyLimit: number) {}

  /** The newest resourceVersion handed out (etcd's revision). */
  get resourceVersion(): number {
    return this.rv;
  }

  /** Watches and continue tokens from a resourceVersion below this get 410 Expired. */
  get oldestResumable(): number {
    return this.compactedRv;
  }

  /** Subscribes to every change; returns the unsubscribe function. */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Objects of a type (in one namespace if given), sorted by namespace/name like etcd keys. */
  list(resource: ResourceType, namespace?: string): StoredObject[] {
    const byKey = this.objects.get(resource.kind);
    if (!byKey) return [];
    return [...byKey.entries()]
      .filter(([, o]) => namespace === undefined || o.metadata?.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => o);
  }

  get(resource: ResourceType, namespace: string | undefined, name: string): StoredObject | undefined {
    return this.objects.get(resource.kind)?.get(keyOf(resource.namespaced ? namespace : undefined, name));
  }

  /**
   * The retained changes after `resourceVersion`, or "expired" when some of them were
   * compacted away (the caller answers 410 Gone).
   */
  changesSince(resourceVersion: number): ChangeEvent[] | 'expired' {
    if (resourceVersion < this.compactedRv) return 'expired';
    return this.history.filter((e) => e.resourceVersion > resourceVersion);
  }

  /** Forgets all history: resuming from any older resourceVersion now gets 410. */
  compact(): void {
    this.history = [];
    this.compactedRv = this.rv;
  }

  /** Stores a new object; throws if it exists or is malformed. Returns the stored copy. */
  create(input: StoredObject): StoredObject {
    const { resource, object, key } = this.normalize(input);
    const byKey = this.bucket(resource);
    if (byKey.has(key)) throw new Error(`fake-kube-api: ${resource.kind} "${key}" already exists`);
    const meta = object.metadata as Meta;
    meta.uid = meta.uid ?? randomUUID();
    meta.creationTimestamp = meta.creationTimestamp ?? new Date().toISOString();
    meta.resourceVersion = String(++this.rv);
    byKey.set(key, object);
    this.record({ type: 'ADDED', resource, resourceVersion: this.rv, object });
    return structuredClone(object);
  }

  /** Replaces an existing object, keeping uid and creationTimestamp; bumps resourceVersion. */
  update(input: StoredObject): StoredObject {
    const { resource, object, key } = this.normalize(input);
    const byKey = this.bucket(resource);
    const previous = byKey.get(key);
    if (!previous) throw new Error(`fake-kube-api: ${resource.kind} "${key}" not found`);
    const meta = object.metadata as Meta;
    const prevMeta = previous.metadata as Meta;
    meta.uid = prevMeta.uid;
    meta.creationTimestamp = prevMeta.creationTimestamp;
    meta.resourceVersion = String(++this.rv);
    byKey.set(key, object);
    this.record({ type: 'MODIFIED', resource, resourceVersion: this.rv, object, previous });
    return structuredClone(object);
  }

  /** Creates or updates. */
  apply(input: StoredObject): StoredObject {
    const { resource, key } = this.normalize(input);
    return this.bucket(resource).has(key) ? this.update(input) : this.create(input);
  }

  /** Removes an object; returns its last state, or undefined if there was none. */
  delete(kind: string, namespace: string | undefined, name: string): StoredObject | undefined {
    const resource = this.resource(kind);
    const byKey = this.bucket(resource);
    const key = keyOf(resource.namespaced ? (namespace ?? 'default') : undefined, name);
    const existing = byKey.get(key);
    if (!existing) return undefined;
    byKey.delete(key);
    // The API server reports a deletion with a fresh resourceVersion on the deleted object.
    const object = structuredClone(existing);
    (object.metadata as Meta).resourceVersion = String(++this.rv);
    this.record({ type: 'DELETED', resource, resourceVersion: this.rv, object });
    return structuredClone(object);
  }

  private record(event: ChangeEvent): void {
    this.history.push(event);
    while (this.history.length > this.historyLimit) {
      this.compactedRv = this.history.shift()!.resourceVersion;
    }
    for (const listener of [...this.listeners]) listener(event);
  }

  private bucket(resource: ResourceType): Map<string, StoredObject> {
    let byKey = this.objects.get(resource.kind);
    if (!byKey) this.objects.set(resource.kind, (byKey = new Map()));
    return byKey;
  }

  private resource(kind: string): ResourceType {
    const resource = resourceByKind(kind);
    if (!resource) throw new Error(`fake-kube-api: kind "${kind}" is not served`);
    return resource;
  }

  /** A private deep copy with kind, apiVersion and namespace settled. */
  private normalize(input: StoredObject): { resource: ResourceType; object: StoredObject; key: string } {
    const resource = this.resource(String(input.kind));
    const object = structuredClone(input);
    object.apiVersion = apiVersionOf(resource);
    const meta = (object.metadata ?? {}) as Meta;
    object.metadata = meta;
    if (typeof meta.name !== 'string' || meta.name === '') {
      throw new Error(`fake-kube-api: ${resource.kind} without metadata.name`);
    }
    if (resource.namespaced) meta.namespace = meta.namespace || 'default';
    else delete meta.namespace;
    return { resource, object, key: keyOf(meta.namespace, meta.name) };
  }
}
