// The latest good Kubernetes objects, fed by source events and read by the translator.
// Validate, then store (CONVENTIONS rule 6): an invalid object is reported and the previous
// good version of it stays in force, as a NACKed resource does on the data plane.
import {
  KUBE_KINDS, LABEL_REGION, LABEL_SERVICE_NAME, LABEL_ZONE, type EndpointSliceObject, type EndpointsObject,
  type KubeKind, type KubeObject, type KubeObjectByKind, type NodeObject, type ObjectRef, type PodObject,
  type ServiceObject,
} from './kube-objects.js';
import { matchesSelector } from './label-selector.js';
import type { Problem } from './mesh-model.js';
import { canonicalJson, toPlainData } from './plain-data.js';
import { validateObject } from './validate-object.js';

/** What ClusterState.apply takes: the SourceEvent cases that carry objects. */
export type ClusterEvent =
  | { type: 'upsert'; kind: KubeKind; object: KubeObject; origin: string }
  | { type: 'delete'; ref: ObjectRef; origin: string };

export interface ApplyResult {
  /** Whether the stored state changed (and `generation` was bumped). */
  changed: boolean;
  /** Why an upsert was refused; empty when it was stored or was already there. */
  problems: Problem[];
}

/** Services whose translation may differ since the last `takeChanges()`. */
export interface ModelChanges {
  /** Everything may differ (a Node's topology changed, or nothing was taken yet). */
  readonly all: boolean;
  /** Resource names "<namespace>/<name>" of the Services to translate again. */
  readonly services: ReadonlySet<string>;
}

interface Entry {
  readonly object: KubeObject;
  readonly canonical: string;
}

const key = (namespace: string, name: string): string => `${namespace}/${name}`;
const byKey = <T>(a: [string, T], b: [string, T]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/**
 * In-memory store of the latest good object of each kind, keyed by ObjectRef, with the
 * indexes the translator needs. Objects handed out are frozen plain data: do not mutate.
 */
export class ClusterState {
  private readonly objects = new Map<KubeKind, Map<string, Entry>>(KUBE_KINDS.map((kind) => [kind, new Map()]));
  /** "<ns>/<service>" -> names of the EndpointSlices labelled for it. */
  private readonly slicesByService = new Map<string, Set<string>>();
  private readonly podsByNamespace = new Map<string, Set<string>>();
  private readonly servicesByNamespace = new Map<string, Set<string>>();
  private zoneCache: ReadonlySet<string> | undefined;
  private dirty = new Set<string>();
  private dirtyAll = true;
  private gen = 0;

  /** Bumped on every effective change; equal generations mean equal contents. */
  get generation(): number {
    return this.gen;
  }

  /**
   * Applies one event. An upsert is validated first; if invalid, nothing changes and every
   * reason comes back as a Problem. Re-applying an object that differs only in
   * resourceVersion or managedFields is not a change.
   */
  apply(event: ClusterEvent): ApplyResult {
    return event.type === 'upsert' ? this.upsert(event.kind, event.object, event.origin) : this.remove(event.ref);
  }

  /** The stored object `ref` names (a Node's namespace is ignored). */
  get<K extends KubeKind>(ref: ObjectRef & { kind: K }): KubeObjectByKind[K] | undefined {
    const namespace = ref.kind === 'Node' ? '' : ref.namespace;
    return this.objects.get(ref.kind)?.get(key(namespace, ref.name))?.object as KubeObjectByKind[K] | undefined;
  }

  /** Every stored object of `kind`, sorted by namespace then name. */
  list<K extends KubeKind>(kind: K): KubeObjectByKind[K][] {
    return [...this.table(kind).entries()].sort(byKey).map(([, entry]) => entry.object as KubeObjectByKind[K]);
  }

  /** How many objects of each kind are stored. */
  counts(): Record<KubeKind, number> {
    const counts = {} as Record<KubeKind, number>;
    for (const kind of KUBE_KINDS) counts[kind] = this.table(kind).size;
    return counts;
  }

  /** A stored Service. */
  service(namespace: string, name: string): ServiceObject | undefined {
    return this.table('Service').get(key(namespace, name))?.object as ServiceObject | undefined;
  }

  /** The EndpointSlices labelled `kubernetes.io/service-name=<service>` in `namespace`, by name. */
  endpointSlicesFor(namespace: string, service: string): EndpointSliceObject[] {
    const names = [...(this.slicesByService.get(key(namespace, service)) ?? [])].sort();
    return names.map((name) => this.table('EndpointSlice').get(key(namespace, name))!.object as EndpointSliceObject);
  }

  /** The legacy v1 Endpoints object named like a Service. */
  endpoints(namespace: string, name: string): EndpointsObject | undefined {
    return this.table('Endpoints').get(key(namespace, name))?.object as EndpointsObject | undefined;
  }

  /** The Pods of `namespace`, by name. */
  podsIn(namespace: string): PodObject[] {
    const names = [...(this.podsByNamespace.get(namespace) ?? [])].sort();
    return names.map((name) => this.table('Pod').get(key(namespace, name))!.object as PodObject);
  }

  /** A stored Node. */
  node(name: string): NodeObject | undefined {
    return this.table('Node').get(key('', name))?.object;
  }

  /** Every zone named by a Node's `topology.kubernetes.io/zone` label. */
  zones(): ReadonlySet<string> {
    if (!this.zoneCache) {
      const zones = new Set<string>();
      for (const entry of this.table('Node').values()) {
        const zone = entry.object.metadata?.labels?.[LABEL_ZONE];
        if (zone) zones.add(zone);
      }
      this.zoneCache = zones;
    }
    return this.zoneCache;
  }

  /**
   * The Services dirtied since the previous call (or since creation: everything), for
   * incremental translation; then starts over. Meant for one consumer.
   */
  takeChanges(): ModelChanges {
    const changes = { all: this.dirtyAll, services: this.dirty };
    this.dirty = new Set();
    this.dirtyAll = false;
    return changes;
  }

  private table(kind: KubeKind): Map<string, Entry> {
    return this.objects.get(kind)!;
  }

  private upsert(kind: KubeKind, object: KubeObject, origin: string): ApplyResult {
    const ref = refOf(kind, object);
    const problem = (reason: string): Problem => (ref ? { origin, ref, reason } : { origin, reason });
    const reasons = validateObject(kind, object);
    if (reasons.length > 0) return { changed: false, problems: reasons.map(problem) };
    const plain = toPlainData(object);
    if (!plain.ok) return { changed: false, problems: [problem(plain.reason)] };
    const stored = deepFreeze(plain.value) as KubeObject;
    const canonical = canonicalJson(stored);
    const k = key(ref!.namespace, ref!.name);
    const previous = this.table(kind).get(k);
    this.table(kind).set(k, { object: stored, canonical });
    // Same meaning: keep the fresher resourceVersion, but nothing changed.
    if (previous?.canonical === canonical) return { changed: false, problems: [] };
    this.reindex(kind, ref!, previous?.object, stored);
    this.gen++;
    return { changed: true, problems: [] };
  }

  private remove(ref: ObjectRef): ApplyResult {
    const namespace = ref.kind === 'Node' ? '' : ref.namespace;
    const table = this.objects.get(ref.kind);
    const previous = table?.get(key(namespace, ref.name));
    if (!table || !previous) return { changed: false, problems: [] };
    table.delete(key(namespace, ref.name));
    this.reindex(ref.kind, { ...ref, namespace }, previous.object, undefined);
    this.gen++;
    return { changed: true, problems: [] };
  }

  /** Updates the indexes and the dirty set for a change from `before` to `after`. */
  private reindex(kind: KubeKind, ref: ObjectRef, before: KubeObject | undefined, after: KubeObject | undefined): void {
    const { namespace, name } = ref;
    switch (kind) {
      case 'Service':
        setIndex(this.servicesByNamespace, namespace, name, after !== undefined);
        this.dirty.add(key(namespace, name));
        break;
      case 'Endpoints':
        this.dirty.add(key(namespace, name));
        break;
      case 'EndpointSlice':
        for (const object of [before, after]) {
          const service = object?.metadata?.labels?.[LABEL_SERVICE_NAME];
          if (!service) continue;
          setIndex(this.slicesByService, key(namespace, service), name, object === after);
          this.dirty.add(key(namespace, service));
        }
        break;
      case 'Pod':
        setIndex(this.podsByNamespace, namespace, name, after !== undefined);
        for (const serviceName of this.servicesByNamespace.get(namespace) ?? []) {
          const selector = this.service(namespace, serviceName)?.spec?.selector;
          if ([before, after].some((pod) => pod && matchesSelector(selector, pod.metadata?.labels))) {
            this.dirty.add(key(namespace, serviceName));
          }
        }
        break;
      case 'Node': {
        // Only the topology labels of a Node are read; a heartbeat dirties nothing.
        const topology = (node: KubeObject | undefined): string =>
          `${node?.metadata?.labels?.[LABEL_ZONE] ?? ''}\n${node?.metadata?.labels?.[LABEL_REGION] ?? ''}`;
        if (topology(before) !== topology(after)) {
          this.dirtyAll = true;
          this.zoneCache = undefined;
        }
        break;
      }
    }
  }
}

/** The ref of an upserted object, when its metadata names one (validation says if not). */
function refOf(kind: KubeKind, object: KubeObject): ObjectRef | undefined {
  const meta = (object as { metadata?: unknown } | null)?.metadata as { name?: unknown; namespace?: unknown } | undefined;
  if (typeof meta !== 'object' || meta === null || typeof meta.name !== 'string' || meta.name === '') return undefined;
  const namespace = kind === 'Node' || typeof meta.namespace !== 'string' ? '' : meta.namespace;
  return { kind, namespace, name: meta.name };
}

function setIndex(index: Map<string, Set<string>>, group: string, member: string, present: boolean): void {
  let members = index.get(group);
  if (present) {
    if (!members) index.set(group, (members = new Set()));
    members.add(member);
  } else if (members) {
    members.delete(member);
    if (members.size === 0) index.delete(group);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) deepFreeze(item);
    Object.freeze(value);
  }
  return value;
}
