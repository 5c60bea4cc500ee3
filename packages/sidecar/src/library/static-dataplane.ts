// A Dataplane over a fixed table the app edits: for testing code that uses createMesh()
// without a control plane, and for custom discovery (feed it from your own registry).
// Same contract as the real data plane, with round robin over each name's endpoints.
import type { AttemptOutcome, Dataplane, Destination, DestinationError, Target } from '../dataplane.js';
import { FailPicker } from '../balancer/fail-picker.js';
import { RoundRobinPicker } from '../balancer/round-robin.js';
import { destinationError, ErrorCode, joinHostPort, notInRegistryError } from '../errors.js';
import type { OutboundPolicy } from '../routing/router.js';

/** What one `host:port` names. */
export type StaticEntry =
  /**
   * A service: round robin over these endpoints (an empty list fails with SKEIN_ERR_NO_ENDPOINT),
   * with the request policy a Service's `skein.io/retries` and `skein.io/timeout` would give.
   */
  | {
    readonly endpoints: ReadonlyArray<{ readonly address: string; readonly port: number }>;
    readonly service?: string;
    readonly retries?: number;
    readonly timeoutMs?: number;
  }
  /** Connect to host:port as given. */
  | { readonly direct: { readonly host: string; readonly port: number } }
  /** Refuse with this error. */
  | { readonly reject: DestinationError };

export interface StaticDataplaneOptions {
  /** Names not in the table: connect directly ('allow-any', default) or refuse ('registry-only'). */
  outboundPolicy?: OutboundPolicy;
  /** Called for every reported attempt outcome (passive health has nothing to learn here). */
  onReport?: (service: string, target: Target, outcome: AttemptOutcome) => void;
}

/** A Dataplane over `entries`, keyed "host:port" exactly as requests name them ("web.demo:80"). */
export class StaticDataplane implements Dataplane {
  readonly ready = true;
  private readonly table = new Map<string, Destination>();
  private readonly listeners = new Set<() => void>();

  constructor(entries: Readonly<Record<string, StaticEntry>> = {}, private readonly options: StaticDataplaneOptions = {}) {
    for (const [name, entry] of Object.entries(entries)) this.table.set(name, toDestination(name, entry));
  }

  /** Sets what `name` ("host:port") resolves to and notifies onChange listeners. */
  set(name: string, entry: StaticEntry): this {
    this.table.set(name, toDestination(name, entry));
    this.changed();
    return this;
  }

  /** Forgets `name` and notifies onChange listeners. */
  delete(name: string): this {
    this.table.delete(name);
    this.changed();
    return this;
  }

  resolve(host: string, port: number): Destination {
    const known = this.table.get(joinHostPort(host, port));
    if (known) return known;
    if (this.options.outboundPolicy === 'registry-only') return { type: 'reject', error: notInRegistryError(host, port) };
    return { type: 'direct', host, port, reason: 'passthrough' };
  }

  whenKnown(): Promise<void> {
    return Promise.resolve();
  }

  report(service: string, target: Target, outcome: AttemptOutcome): void {
    this.options.onReport?.(service, target, outcome);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

function toDestination(name: string, entry: StaticEntry): Destination {
  if ('reject' in entry) return { type: 'reject', error: entry.reject };
  if ('direct' in entry) return { type: 'direct', host: entry.direct.host, port: entry.direct.port, reason: 'passthrough' };
  const service = entry.service ?? name;
  const picker = entry.endpoints.length === 0
    ? new FailPicker(destinationError(ErrorCode.NO_ENDPOINT, `skein: service "${service}" has no endpoint`))
    // A fixed start, so tests see the same order every run.
    : new RoundRobinPicker(entry.endpoints.map((e) => ({ ...e, weight: 1 })), () => 0);
  const servicePort = Number(name.slice(name.lastIndexOf(':') + 1));
  return {
    type: 'service', service, servicePort, portName: '', appProtocol: 'http', picker,
    ...(entry.retries !== undefined ? { retries: entry.retries } : {}),
    ...(entry.timeoutMs !== undefined ? { timeoutMs: entry.timeoutMs } : {}),
  };
}
