// One discovery stream: checks who opens it, feeds requests and snapshots to its SubscriberState
// and writes what it says is due. Never throws out of a handler: a bug ends this stream with
// INTERNAL, not the process.
import { status as Status, type ServerDuplexStream } from '@grpc/grpc-js';
import { Mode, type DiscoveryRequest, type OutgoingResponse, type Result } from '@skein/protocol';
import type { AuthClaim, AuthDecision } from '../auth/stream-auth.js';
import type { SnapshotCache } from '../snapshot/snapshot-cache.js';
import { SubscriberState, type Locality } from '../snapshot/subscriber.js';
import type { SubscriberRegistry } from '../snapshot/subscriber-registry.js';
import type { DiscoveryEvents, DiscoveryLogger, StreamEndReason } from './discovery-events.js';
import { encodedResponseSize } from './response-size.js';
import type { SendBudget, SendGrant } from './send-budget.js';

/** The server side of a call; requests arrive already decoded (or as a decode error). */
export type DiscoveryCall = ServerDuplexStream<Result<DiscoveryRequest>, OutgoingResponse>;

export interface DiscoveryStreamOptions {
  id: string;
  cache: SnapshotCache;
  registry: SubscriberRegistry;
  controlPlaneId: string;
  logger: DiscoveryLogger;
  events: Partial<DiscoveryEvents>;
  now: () => number;
  /** Called once when the stream has ended and released everything it held. */
  onEnd: (stream: DiscoveryStream) => void;
  /**
   * Checks the identity the first request claims, before that request changes any state or
   * anything is sent; requests arriving meanwhile wait. Absent: every stream is admitted.
   */
  admit?: (claim: AuthClaim, nodeToken: string) => Promise<AuthDecision>;
  /** A Node's locality from its labels; undefined when the Node or its labels are unknown. */
  localityOf?: (nodeName: string) => Locality | undefined;
  /** Shared by the server's streams: large responses wait here for room. Absent: nothing waits. */
  budget?: SendBudget;
}

const MAX_HELD_REQUESTS = 64;

const REFUSAL_CODES = {
  'unauthenticated': Status.UNAUTHENTICATED,
  'permission-denied': Status.PERMISSION_DENIED,
  'unavailable': Status.UNAVAILABLE,
} as const;

export class DiscoveryStream {
  readonly state: SubscriberState;
  private readonly peer: string;
  private unwatch: (() => void) | undefined;
  /** write() returned false: nothing more until 'drain'. */
  private blocked = false;
  /** A response waiting for room in the send budget (already recorded as sent), and how to leave the line. */
  private parked: { leave: () => void } | undefined;
  /** Budget taken by writes that gRPC has not finished; given back when they finish or the stream ends. */
  private readonly grants = new Set<SendGrant>();
  /** No more writes: ending or ended. */
  private ending = false;
  private endReason: StreamEndReason | undefined;
  private released = false;
  /** `checking`: the first request's identity is being checked; `held` keeps what arrives meanwhile. */
  private admission: 'unchecked' | 'checking' | 'admitted';
  private held: Array<Result<DiscoveryRequest>> = [];
  /** Who the token proved, for the log. */
  private subject: string | undefined;

  constructor(private readonly call: DiscoveryCall, private readonly options: DiscoveryStreamOptions) {
    this.peer = peerOf(call);
    this.admission = options.admit ? 'unchecked' : 'admitted';
    this.state = new SubscriberState({ controlPlaneId: options.controlPlaneId, now: options.now, id: options.id, peer: this.peer });
    call.on('data', (request: Result<DiscoveryRequest>) => this.guard(() => this.onRequest(request)));
    call.on('end', () => this.guard(() => this.end(Status.OK, 'client closed the stream', 'client-closed')));
    // gRPC ended the call: client cancel, dropped connection, oversized message, our own status.
    call.on('cancelled', () => this.release(this.endReason ?? 'cancelled'));
    call.on('close', () => this.release(this.endReason ?? 'cancelled'));
    call.on('error', (err: unknown) => {
      if (!this.endReason) this.options.logger.warn({ peer: this.peer, err }, 'discovery stream error');
      this.release(this.endReason ?? 'cancelled');
    });
    this.emit('streamOpened', { peer: this.peer });
  }

  /** Ends the stream with UNAVAILABLE so the client reconnects to another replica. */
  shutdown(): void {
    this.end(Status.UNAVAILABLE, 'control plane shutting down', 'shutdown');
  }

  private onRequest(decoded: Result<DiscoveryRequest>): void {
    if (this.ending) return;
    if (this.admission === 'checking') {
      // A client sends one request per type before its first answer; a flood is not one.
      if (this.held.push(decoded) > MAX_HELD_REQUESTS) this.reject(`more than ${MAX_HELD_REQUESTS} requests before the identity check finished`);
      return;
    }
    if (!decoded.ok) {
      this.reject(decoded.error);
      return;
    }
    const claimed = decoded.value.node;
    // A first request without a node id is rejected below, as without authentication.
    if (this.admission === 'unchecked' && claimed?.id) {
      this.admission = 'checking';
      this.held.push(decoded);
      const claim: AuthClaim = { pod: claimed.podName ?? '', namespace: claimed.namespace ?? '', nodeName: claimed.nodeName ?? '' };
      this.options.admit!(claim, claimed.token ?? '').then(
        (decision) => this.guard(() => this.onAdmission(decision, claim)),
        (err: unknown) => this.guard(() => { throw err; }),
      );
      return;
    }
    const identified = this.state.node !== undefined;
    const result = this.state.onRequest(decoded.value);
    if (!result.ok) {
      this.reject(result.error);
      return;
    }
    const node = this.state.node!;
    if (!identified) {
      this.options.registry.add(this.state);
      this.unwatch = this.options.cache.watch((snapshot) => this.guard(() => {
        this.state.noteSnapshot(snapshot);
        this.pump();
      }));
      this.options.logger.info({ peer: this.peer, node, ...(this.subject ? { auth: this.subject } : {}) }, 'subscriber connected');
    }
    const { typeUrl, outcome } = result;
    if (outcome.type === 'ack') {
      this.emit('ack', { node, typeUrl, version: outcome.version, sinceEventMs: outcome.sinceEventMs });
    } else if (outcome.type === 'nack') {
      this.options.logger.warn({ node: node.id, typeUrl, nack: outcome.nack }, 'subscriber rejected a response (NACK)');
      this.emit('nack', { node, typeUrl, nack: outcome.nack });
    } else if (outcome.type === 'stale') {
      this.options.logger.debug({ node: node.id, typeUrl, nonce: outcome.nonce }, 'request answers a stale nonce');
    }
    this.pump();
  }

  /** Writes every due response from the newest snapshot, until gRPC or the send budget asks us to wait. */
  private pump(): void {
    if (this.ending || this.blocked || this.parked) return;
    const snapshot = this.options.cache.current();
    const node = this.state.node;
    if (!snapshot || !node) return;
    if (this.options.localityOf) this.state.setNodeLocality(this.options.localityOf(node.nodeName));
    for (const typeUrl of this.state.subscribedTypes()) {
      const response = this.state.nextResponse(typeUrl, snapshot);
      if (!response) continue;
      const bytes = encodedResponseSize(response);
      const budget = this.options.budget;
      const grant = budget ? budget.tryAcquire(bytes) : undefined;
      if (budget && !grant) {
        // Its turn comes when room frees; meanwhile later snapshots coalesce as for an unACKed response.
        this.parked = {
          leave: budget.enqueue(bytes, (granted) => this.guard(() => {
            this.parked = undefined;
            if (this.ending) granted.release();
            else if (this.write(response, bytes, granted)) this.pump();
          })),
        };
        return;
      }
      if (!this.write(response, bytes, grant)) return;
    }
  }

  /** Hands `response` to gRPC. False: gRPC asked us to wait for 'drain' (updates coalesce meanwhile). */
  private write(response: OutgoingResponse, bytes: number, grant: SendGrant | undefined): boolean {
    const node = this.state.node!;
    let flushed: boolean;
    if (grant?.counted) {
      this.grants.add(grant);
      flushed = this.call.write(response, () => {
        this.grants.delete(grant);
        grant.release();
      });
    } else {
      flushed = this.call.write(response);
    }
    this.emit('responseSent', {
      node, typeUrl: response.typeUrl, mode: response.mode === Mode.MODE_DELTA ? 'delta' : 'sotw', bytes,
      resources: response.resources.length, removed: response.removedResources.length,
    });
    if (flushed) return true;
    // Backpressure: recompute from the newest snapshot once drained (updates coalesce).
    this.blocked = true;
    this.call.once('drain', () => this.guard(() => {
      this.blocked = false;
      this.pump();
    }));
    return false;
  }

  /** Admitted: the held requests are handled in order. Refused: the stream ends with the refusal's status. */
  private onAdmission(decision: AuthDecision, claim: AuthClaim): void {
    if (this.ending) return;
    const held = this.held;
    this.held = [];
    if (decision.type === 'refuse') {
      const pod = `${claim.namespace}/${claim.pod}`;
      // A check that could not run is the control plane's problem (RBAC, API server down).
      const level = decision.status === 'unavailable' ? 'error' : 'warn';
      this.options.logger[level]({ peer: this.peer, pod, reason: decision.reason }, `discovery stream refused for pod ${pod}: ${decision.message}`);
      this.emit('authRefused', { peer: this.peer, pod, reason: decision.reason });
      this.end(REFUSAL_CODES[decision.status], decision.message, 'refused');
      return;
    }
    this.admission = 'admitted';
    this.subject = decision.subject;
    for (const request of held) {
      if (this.ending) return;
      this.onRequest(request);
    }
  }

  private reject(reason: string): void {
    const node = this.state.node;
    this.options.logger.warn({ peer: this.peer, node: node?.id, reason }, 'discovery request rejected');
    this.emit('requestRejected', { peer: this.peer, ...(node ? { node } : {}), reason });
    this.end(Status.INVALID_ARGUMENT, reason, 'rejected');
  }

  /** Ends the call with a status (after queued writes) and releases the stream's state. */
  private end(code: Status, details: string, reason: StreamEndReason): void {
    if (this.ending) return;
    this.ending = true;
    this.endReason = reason;
    this.release(reason);
    try {
      // grpc-js turns an 'error' carrying {code, details} into the call's status; OK is a plain end.
      if (code === Status.OK) this.call.end();
      else this.call.emit('error', { code, details });
    } catch (err) {
      this.options.logger.error({ peer: this.peer, err }, 'cannot end discovery stream');
    }
  }

  private release(reason: StreamEndReason): void {
    if (this.released) return;
    this.released = true;
    this.ending = true;
    this.unwatch?.();
    this.unwatch = undefined;
    this.parked?.leave();
    this.parked = undefined;
    // gRPC does not complete the writes of a call that ended early: give their budget back here.
    for (const grant of this.grants) grant.release();
    this.grants.clear();
    this.options.registry.remove(this.state);
    const node = this.state.node;
    this.options.logger.info({ peer: this.peer, node: node?.id, reason }, 'discovery stream ended');
    this.emit('streamClosed', { peer: this.peer, ...(node ? { node } : {}), reason });
    this.options.onEnd(this);
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.options.logger.error({ peer: this.peer, err }, 'discovery stream handler failed');
      this.end(Status.INTERNAL, 'internal error in the discovery server', 'internal');
    }
  }

  private emit<K extends keyof DiscoveryEvents>(name: K, info: Parameters<DiscoveryEvents[K]>[0]): void {
    try {
      (this.options.events[name] as ((i: typeof info) => void) | undefined)?.(info);
    } catch (err) {
      this.options.logger.warn({ err, event: name }, 'discovery event handler threw');
    }
  }
}

function peerOf(call: DiscoveryCall): string {
  try {
    return call.getPeer();
  } catch {
    return 'unknown';
  }
}
