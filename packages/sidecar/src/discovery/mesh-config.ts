// The applied mesh config: what discovery clients (gRPC stream, HTTP poller, cache file)
// write and what routing reads. Only validated resources get in; a rejected resource leaves
// its previous good version in force (CONVENTIONS rule 6, xDS NACK semantics).
import {
  decodeResourceBody, isResourceType, resourceFromJson, resourceToJson, splitResourceName, validateResource,
  TYPE_ENDPOINT_GROUP, TYPE_SERVICE, type EndpointGroup, type ResourceType, type Result, type Service,
} from '@skein/protocol';
import { noopLogger, type Logger } from '../logger.js';
import { ResourceInterner } from './resource-interner.js';

export interface ConfigChange {
  /** Resource names ("<ns>/<name>") of Services added, changed or removed. */
  readonly services: ReadonlySet<string>;
  /** Resource names of EndpointGroups added, changed or removed. */
  readonly endpointGroups: ReadonlySet<string>;
}

/** What routing and the balancer read. */
export interface MeshConfigView {
  /** Current Services by resource name. The map is replaced, never mutated, on change. */
  services(): ReadonlyMap<string, Service>;
  endpointGroup(name: string): EndpointGroup | undefined;
  /** True once a first complete config (snapshot or cache file) is applied. */
  readonly ready: boolean;
  /** Called after every applied change; returns an unsubscribe function. */
  onChange(listener: (change: ConfigChange) => void): () => void;
  /**
   * Asks discovery for a resource name the config does not hold yet (on-demand
   * subscription). A no-op when discovery already subscribes to everything.
   * `answered(name)` tells whether discovery has since answered for it (present or not).
   */
  want(name: string): void;
  answered(name: string): boolean;
}

/** One resource as received: encoded (gRPC stream, cache file) or in the protocol's JSON form (HTTP API). */
export type IncomingResource =
  | { readonly name: string; readonly version: string; readonly body: Uint8Array }
  | { readonly name: string; readonly version: string; readonly json: unknown };

export interface ConfigUpdate {
  readonly resources: readonly IncomingResource[];
  /** Names that no longer exist (delta `removed_resources`). */
  readonly removed: readonly string[];
  /** SotW / HTTP / cache file: the update is the whole set; held names absent from it are removed. */
  readonly replace: boolean;
  /** Names this update answers besides those it carries or removes (on-demand bookkeeping). */
  readonly answeredNames?: readonly string[];
}

export interface ResourceError {
  readonly name: string;
  readonly message: string;
}

export interface ApplyResult {
  /** Names whose new version is now in force (unchanged versions are not listed). */
  readonly applied: string[];
  /** Every resource that failed to decode or validate, with all its problems. */
  readonly rejected: ResourceError[];
}

/** The last rejected update, for /config_dump. */
export interface NackRecord {
  readonly typeUrl: string;
  readonly message: string;
  readonly resources: readonly ResourceError[];
  /** Epoch milliseconds. */
  readonly at: number;
}

/** Who serves on-demand names: the xDS client installs one when it does not subscribe to everything. */
export interface WantHandler {
  /** Subscribes `name` (both types). Called once per name the config neither holds nor covers. */
  want(name: string): void;
  /** Whether the standing subscription already covers `name` (wildcard or its namespace). */
  covers(name: string): boolean;
}

/** A held resource: its decoded body and the version the control plane gave it. */
export interface HeldResource<T> {
  readonly version: string;
  readonly body: T;
}

type Body = Service | EndpointGroup;

/**
 * The data plane's config store. Writers (discovery clients) call `apply`; readers use the
 * `MeshConfigView` side. Listeners are called synchronously after each apply that changed
 * something, once per apply, with exactly the changed names; they are also called (with empty
 * sets) when the config becomes ready or an on-demand name is answered without a change, so
 * `whenKnown` waiters wake up.
 */
export class MeshConfig implements MeshConfigView {
  private readonly held = new Map<ResourceType, Map<string, HeldResource<Body>>>([[TYPE_SERVICE, new Map()], [TYPE_ENDPOINT_GROUP, new Map()]]);
  private serviceMap: ReadonlyMap<string, Service> = new Map();
  private readonly listeners = new Set<(change: ConfigChange) => void>();
  private isReady = false;
  private nack: NackRecord | undefined;
  private wantHandler: WantHandler | undefined;
  /** Every name wanted on demand (re-subscribed on reconnect). */
  private readonly wanted = new Set<string>();
  /** Wanted names still awaiting an answer, with the types not yet answered. */
  private readonly pending = new Map<string, Set<ResourceType>>();
  private readonly logger: Logger;
  /** Shares equal strings and lists among held resources (see resource-interner.ts). */
  private readonly interner = new ResourceInterner();

  constructor(options: { logger?: Logger } = {}) {
    this.logger = options.logger ?? noopLogger;
  }

  get ready(): boolean {
    return this.isReady;
  }

  services(): ReadonlyMap<string, Service> {
    return this.serviceMap;
  }

  endpointGroup(name: string): EndpointGroup | undefined {
    return this.held.get(TYPE_ENDPOINT_GROUP)!.get(name)?.body as EndpointGroup | undefined;
  }

  /** Held resources of one type, by name (a live read-only view; copy before holding on to it). */
  resources(typeUrl: ResourceType): ReadonlyMap<string, HeldResource<Body>> {
    return this.held.get(typeUrl) ?? new Map();
  }

  /** Name -> version of what is held, for `initial_resource_versions` on (re)connect. */
  versions(typeUrl: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, r] of (isResourceType(typeUrl) ? this.held.get(typeUrl) : undefined) ?? []) out[name] = r.version;
    return out;
  }

  onChange(listener: (change: ConfigChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Applies one update of one type; see `applyAll`. */
  apply(typeUrl: string, update: ConfigUpdate): ApplyResult {
    return this.applyAll([{ typeUrl, update }])[0]!;
  }

  /**
   * Applies updates of several types at once (HTTP snapshot, cache file) with one
   * notification. Decodes and validates every resource; applies the valid ones; a rejected
   * resource keeps its previous good version (and is not removed by `replace`).
   */
  applyAll(updates: ReadonlyArray<{ typeUrl: string; update: ConfigUpdate }>): ApplyResult[] {
    const changed = { [TYPE_SERVICE]: new Set<string>(), [TYPE_ENDPOINT_GROUP]: new Set<string>() };
    let answeredSome = false;
    const results = updates.map(({ typeUrl, update }) => {
      if (!isResourceType(typeUrl)) {
        return { applied: [], rejected: update.resources.map((r) => ({ name: r.name, message: `unknown resource type "${typeUrl}"` })) };
      }
      const result = this.applyType(typeUrl, update, changed[typeUrl]);
      if (this.answer(typeUrl, update)) answeredSome = true;
      return result;
    });
    if (changed[TYPE_SERVICE].size > 0) {
      const services = new Map<string, Service>();
      for (const [name, r] of this.held.get(TYPE_SERVICE)!) services.set(name, r.body as Service);
      this.serviceMap = services;
    }
    if (changed[TYPE_SERVICE].size > 0 || changed[TYPE_ENDPOINT_GROUP].size > 0 || answeredSome) {
      this.notify({ services: changed[TYPE_SERVICE], endpointGroups: changed[TYPE_ENDPOINT_GROUP] });
    }
    return results;
  }

  /** A first complete config is in force (both types from the server, or the cache file). */
  markReady(): void {
    if (this.isReady) return;
    this.isReady = true;
    this.notify({ services: new Set(), endpointGroups: new Set() });
  }

  /** Records a rejected update for /config_dump and status pages. */
  recordNack(nack: NackRecord): void {
    this.nack = nack;
  }

  get lastNack(): NackRecord | undefined {
    return this.nack;
  }

  /** Installs the on-demand handler (one at a time); returns a function that removes it. */
  onWant(handler: WantHandler): () => void {
    this.wantHandler = handler;
    return () => {
      if (this.wantHandler === handler) this.wantHandler = undefined;
    };
  }

  want(name: string): void {
    const handler = this.wantHandler;
    if (!handler || this.wanted.has(name) || !isResourceName(name) || this.holds(name) || handler.covers(name)) return;
    this.wanted.add(name);
    this.pending.set(name, new Set([TYPE_SERVICE, TYPE_ENDPOINT_GROUP]));
    handler.want(name);
  }

  answered(name: string): boolean {
    if (this.pending.has(name)) return false;
    if (this.wanted.has(name) || this.holds(name) || !isResourceName(name)) return true;
    // Not wanted and not held: absent, once a complete config covering it is in force.
    return this.isReady && (this.wantHandler === undefined || this.wantHandler.covers(name));
  }

  /** Names wanted on demand so far, to subscribe again after a reconnect. */
  wantedNames(): string[] {
    return [...this.wanted];
  }

  /** The config in the HTTP snapshot API's JSON shape, plus versions, the last NACK and readiness. */
  toJSON(): Record<string, unknown> {
    const list = (typeUrl: ResourceType): unknown[] =>
      [...this.held.get(typeUrl)!].sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, r]) => ({ name, version: r.version, resource: resourceToJson(typeUrl, r.body) }));
    return {
      ready: this.isReady,
      services: list(TYPE_SERVICE),
      endpointGroups: list(TYPE_ENDPOINT_GROUP),
      versions: { [TYPE_SERVICE]: this.versions(TYPE_SERVICE), [TYPE_ENDPOINT_GROUP]: this.versions(TYPE_ENDPOINT_GROUP) },
      lastNack: this.nack ?? null,
      wanted: [...this.wanted].sort(),
    };
  }

  private applyType(typeUrl: ResourceType, update: ConfigUpdate, changed: Set<string>): ApplyResult {
    const held = this.held.get(typeUrl)!;
    const applied: string[] = [];
    const rejected: ResourceError[] = [];
    const named = new Set<string>();
    if (!update.replace) {
      for (const name of update.removed) if (held.delete(name)) changed.add(name);
    }
    for (const resource of update.resources) {
      named.add(resource.name);
      const decoded = decode(typeUrl, resource);
      const problems = decoded.ok ? validateResource(typeUrl, resource.name, decoded.value) : [decoded.error];
      if (problems.length > 0) {
        rejected.push({ name: resource.name, message: problems.join('; ') });
        continue;
      }
      if (held.get(resource.name)?.version === resource.version) continue;
      const body = (decoded as { value: Body }).value;
      held.set(resource.name, { version: resource.version, body: typeUrl === TYPE_SERVICE ? this.interner.service(body as Service) : this.interner.endpointGroup(body as EndpointGroup) });
      changed.add(resource.name);
      applied.push(resource.name);
    }
    if (update.replace) {
      for (const name of [...held.keys()]) {
        if (!named.has(name)) {
          held.delete(name);
          changed.add(name);
        }
      }
    }
    if (rejected.length > 0) this.logger.debug({ typeUrl, rejected }, 'mesh config: resources rejected');
    return { applied, rejected };
  }

  /** Marks wanted names this update answers for its type; true when a name became fully answered. */
  private answer(typeUrl: ResourceType, update: ConfigUpdate): boolean {
    if (this.pending.size === 0) return false;
    const names = update.replace
      ? [...this.pending.keys()]
      : [...update.resources.map((r) => r.name), ...update.removed, ...(update.answeredNames ?? [])];
    let done = false;
    for (const name of names) {
      const types = this.pending.get(name);
      if (!types?.delete(typeUrl) || types.size > 0) continue;
      this.pending.delete(name);
      done = true;
    }
    return done;
  }

  private holds(name: string): boolean {
    return this.held.get(TYPE_SERVICE)!.has(name) || this.held.get(TYPE_ENDPOINT_GROUP)!.has(name);
  }

  private notify(change: ConfigChange): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch (err) {
        // A faulty reader must not stop the config from reaching the others.
        this.logger.error({ err }, 'mesh config: change listener threw');
      }
    }
  }
}

function decode(typeUrl: ResourceType, resource: IncomingResource): Result<Body> {
  return 'body' in resource ? decodeResourceBody(typeUrl, resource.body) : resourceFromJson(typeUrl, resource.json);
}

function isResourceName(name: string): boolean {
  return splitResourceName(name) !== undefined;
}
