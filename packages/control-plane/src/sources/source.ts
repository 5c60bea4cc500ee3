// A Source emits object events from somewhere (Kubernetes API, a manifest directory). It
// knows nothing of the model: the composition root applies its events to the ClusterState.
import type { KubeKind, KubeObject, ObjectRef } from '../model/kube-objects.js';

export type SourceEvent =
  /** An object was added or changed. `origin` says where it came from, for error messages. */
  | { type: 'upsert'; kind: KubeKind; object: KubeObject; origin: string }
  /** An object is gone. */
  | { type: 'delete'; ref: ObjectRef; origin: string }
  /** Input that could not become an object (YAML error, missing kind/name...). Nothing changes. */
  | { type: 'invalid'; origin: string; ref?: ObjectRef; reason: string }
  /** The first complete view of every kind has been delivered. Sent once. */
  | { type: 'synced' }
  /** Connection state changed (for metrics and logs). */
  | { type: 'status'; state: 'connected' | 'retrying'; detail?: string };

/**
 * Receives a source's events. `seenAt` (epoch ms) comes with `upsert` and `delete` events the
 * source saw happen while it watched: when the watch event arrived or the file change was
 * first noticed. It is absent for the initial list or read, and feeds push-latency metrics.
 */
export type SourceSink = (event: SourceEvent, seenAt?: number) => void;

export interface Source {
  /** "kubernetes" or "files:<dir>". */
  readonly name: string;
  /**
   * Starts watching and delivers events to `sink`, in order, until `stop()`. Resolves once
   * watching has begun (not once synced: that is the `synced` event). Never throws for bad
   * input or a lost connection: those are events, and the source retries by itself.
   */
  start(sink: SourceSink): Promise<void>;
  /** Stops watching; no event is delivered after it resolves. */
  stop(): Promise<void>;
}
