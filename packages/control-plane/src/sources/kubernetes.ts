// The Kubernetes source: one client-node informer per kind (Services, EndpointSlices, Endpoints,
// Nodes, optionally Pods) turned into SourceEvents. It survives what an API server does to
// clients: refused connections at start, 5xx, dropped watches, 410 Gone after compaction.
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { KubeKind, KubeObject, ObjectRef } from '../model/kube-objects.js';
import { Backoff, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { KindInformer, type InformerEvents, type KindSpec } from './kube-informer.js';
import type { Source, SourceEvent, SourceSink } from './source.js';
import { SYSTEM_TIMERS, type Timers } from './timers.js';

/** Options of {@link KubernetesSource}. */
export interface KubernetesSourceOptions {
  /**
   * Where the API server and credentials come from: a loaded KubeConfig, a kubeconfig file, or
   * kubeconfig YAML. Default: `KubeConfig.loadFromDefault()` ($KUBECONFIG, ~/.kube/config, or
   * the in-cluster service account).
   */
  kubeconfig?: KubeConfig | { path: string } | { yaml: string };
  /** Watch only this namespace (Nodes stay cluster-wide). Default: all namespaces. */
  namespace?: string;
  /** Also watch Pods (large clusters: memory and API load). Default false. */
  watchPods?: boolean;
  /** Restart delays after failures. Default 200 ms doubling to 30 s, reset after 60 s healthy. */
  backoff?: Partial<BackoffPolicy>;
  /** Objects per list request (0: unpaged). Default 500. */
  pageSize?: number;
  /** Timeout of one list request. Default 60 s. */
  listTimeoutMs?: number;
  /**
   * Server-side watch timeout; the informer re-watches after it. Each watch asks for a random
   * value between this and twice this, as client-go does, so re-watches spread out. Default 300 s.
   */
  watchTimeoutSeconds?: number;
  /** Clock and timers (tests). */
  timers?: Timers;
  /** Random source in [0, 1) for backoff jitter (tests). */
  random?: () => number;
}

interface KindInfo {
  apiVersion: string;
  /** Collection path without the `namespaces/{ns}/` part; `{ns}` goes after `prefix`. */
  prefix: string;
  plural: string;
  namespaced: boolean;
}

const KINDS: Record<KubeKind, KindInfo> = {
  Service: { apiVersion: 'v1', prefix: '/api/v1', plural: 'services', namespaced: true },
  EndpointSlice: { apiVersion: 'discovery.k8s.io/v1', prefix: '/apis/discovery.k8s.io/v1', plural: 'endpointslices', namespaced: true },
  Endpoints: { apiVersion: 'v1', prefix: '/api/v1', plural: 'endpoints', namespaced: true },
  Node: { apiVersion: 'v1', prefix: '/api/v1', plural: 'nodes', namespaced: false },
  Pod: { apiVersion: 'v1', prefix: '/api/v1', plural: 'pods', namespaced: true },
};

const ORIGIN = 'kubernetes';

/** Loads a kubeconfig as the source does; throws when it names no cluster (configuration error). */
export function loadKubeConfig(option: KubernetesSourceOptions['kubeconfig']): KubeConfig {
  if (option instanceof KubeConfig) return option;
  const config = new KubeConfig();
  if (option === undefined) config.loadFromDefault();
  else if ('path' in option) config.loadFromFile(option.path);
  else config.loadFromString(option.yaml);
  if (!config.getCurrentCluster()) throw new Error('kubernetes: the kubeconfig has no current cluster');
  return config;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A {@link Source} backed by the Kubernetes API. Emits `upsert` for every object listed or
 * watched (plain API JSON, kind and apiVersion set, metadata.namespace set for namespaced kinds),
 * `delete` when one disappears (also for deletions missed while disconnected, found by the
 * relist), `synced` once every kind has been listed, and `status` on connection changes.
 */
export class KubernetesSource implements Source {
  readonly name = 'kubernetes';
  private readonly informers = new Map<KubeKind, KindInformer>();
  private readonly listed = new Set<KubeKind>();
  private readonly unhealthy = new Set<KubeKind>();
  private sink: SourceSink | undefined;
  private synced = false;
  private connected = false;

  constructor(private readonly options: KubernetesSourceOptions = {}) {}

  /**
   * Loads the kubeconfig (throws if it cannot: that is configuration, not connectivity) and
   * starts every informer in the background. An unreachable API server is retried, never thrown.
   */
  async start(sink: SourceSink): Promise<void> {
    if (this.sink) throw new Error('kubernetes: source already started');
    const config = loadKubeConfig(this.options.kubeconfig);
    this.sink = sink;
    this.listed.clear();
    this.unhealthy.clear();
    this.synced = false;
    this.connected = false;
    const kinds: KubeKind[] = ['Service', 'EndpointSlice', 'Endpoints', 'Node'];
    if (this.options.watchPods) kinds.push('Pod');
    const timers = this.options.timers ?? SYSTEM_TIMERS;
    const policy = { ...DEFAULT_BACKOFF, ...this.options.backoff };
    const events = this.informerEvents();
    for (const kind of kinds) {
      this.unhealthy.add(kind);
      const spec: KindSpec = { kind, path: this.pathOf(kind) };
      const informer = new KindInformer(
        spec,
        {
          config,
          timers,
          backoff: new Backoff(policy, this.options.random),
          resetAfterMs: policy.resetAfterMs,
          pageSize: this.options.pageSize ?? 500,
          listTimeoutMs: this.options.listTimeoutMs ?? 60_000,
          watchTimeoutSeconds: this.options.watchTimeoutSeconds ?? 300,
          random: this.options.random ?? Math.random,
        },
        events,
      );
      this.informers.set(kind, informer);
    }
    for (const informer of this.informers.values()) informer.start();
  }

  /** Stops every informer, timer and connection; delivers nothing afterwards. */
  async stop(): Promise<void> {
    this.sink = undefined;
    await Promise.all([...this.informers.values()].map((informer) => informer.stop()));
    this.informers.clear();
  }

  private pathOf(kind: KubeKind): string {
    const info = KINDS[kind];
    const namespace = this.options.namespace;
    return info.namespaced && namespace !== undefined
      ? `${info.prefix}/namespaces/${encodeURIComponent(namespace)}/${info.plural}`
      : `${info.prefix}/${info.plural}`;
  }

  private informerEvents(): InformerEvents {
    return {
      upsert: (kind, object) => this.onUpsert(kind, object),
      delete: (kind, object) => {
        const ref = this.refOf(kind, object);
        if (ref) this.emit({ type: 'delete', ref, origin: ORIGIN }, this.seenAt());
      },
      invalid: (kind, reason) => this.emit({ type: 'invalid', origin: `${ORIGIN} ${kind}`, reason }),
      listed: (kind) => {
        this.listed.add(kind);
        if (!this.synced && this.listed.size === this.informers.size) {
          this.synced = true;
          this.updateConnected();
          this.emit({ type: 'synced' });
        }
      },
      healthy: (kind) => {
        this.unhealthy.delete(kind);
        // Before the first sync, "connected" waits for the last first list (see listed).
        if (this.synced) this.updateConnected();
      },
      retrying: (kind, error, delayMs) => {
        this.unhealthy.add(kind);
        this.connected = false;
        const detail = `${kind}: ${describeError(error)}; retrying in ${delayMs} ms`;
        this.emit({ type: 'status', state: 'retrying', detail });
      },
    };
  }

  private updateConnected(): void {
    if (this.connected || this.unhealthy.size > 0) return;
    this.connected = true;
    this.emit({ type: 'status', state: 'connected' });
  }

  /** The object's identity, or undefined (after an `invalid` event) when it has none. */
  private refOf(kind: KubeKind, object: KubeObject | KubernetesObject): ObjectRef | undefined {
    const name = object.metadata?.name;
    if (typeof name !== 'string' || name === '') {
      this.emit({ type: 'invalid', origin: `${ORIGIN} ${kind}`, reason: `${kind} without metadata.name` });
      return undefined;
    }
    if (!KINDS[kind].namespaced) return { kind, namespace: '', name };
    const namespace = object.metadata?.namespace || this.options.namespace;
    if (!namespace) {
      this.emit({ type: 'invalid', origin: `${ORIGIN} ${kind}`, reason: `${kind} "${name}" without metadata.namespace` });
      return undefined;
    }
    return { kind, namespace, name };
  }

  private onUpsert(kind: KubeKind, object: KubernetesObject): void {
    const ref = this.refOf(kind, object);
    if (!ref) return;
    // A shallow copy: list items lack kind/apiVersion, and the informer keeps the original.
    const copy = {
      ...object,
      apiVersion: object.apiVersion || KINDS[kind].apiVersion,
      kind,
      metadata: KINDS[kind].namespaced ? { ...object.metadata, namespace: ref.namespace } : { ...object.metadata },
    } as KubeObject;
    this.emit({ type: 'upsert', kind, object: copy, origin: ORIGIN }, this.seenAt());
  }

  /** Arrival time of a watch event; the initial list (before `synced`) has none. */
  private seenAt(): number | undefined {
    return this.synced ? (this.options.timers ?? SYSTEM_TIMERS).now() : undefined;
  }

  /** Delivers to the sink; a throwing sink must not break the informers that call us. */
  private emit(event: SourceEvent, seenAt?: number): void {
    const sink = this.sink;
    if (!sink) return;
    try {
      sink(event, seenAt);
    } catch (err) {
      if (event.type === 'invalid') return;
      const ref = event.type === 'upsert' ? this.refOf(event.kind, event.object) : event.type === 'delete' ? event.ref : undefined;
      try {
        sink({ type: 'invalid', origin: ORIGIN, ref, reason: `the ${event.type} event could not be applied: ${describeError(err)}` });
      } catch {
        // The sink rejects even that: nothing more a source can do.
      }
    }
  }
}
