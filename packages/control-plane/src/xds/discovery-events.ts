// What the discovery server tells the outside: a pino-compatible logger and lifecycle events
// for metrics (the composition root wires prom-client to them). Both are optional.
import type { ResourceType } from '@skein/protocol';
import type { AuthFailureReason } from '../auth/stream-auth.js';
import type { NackRecord, NodeIdentity, SubscriptionMode } from '../snapshot/subscriber.js';

/** The part of pino's Logger the server uses. */
export interface DiscoveryLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const silentLogger: DiscoveryLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** How a stream ended. */
export type StreamEndReason =
  /** The client half-closed; the server answered with OK. */
  | 'client-closed'
  /** The client cancelled, the connection dropped, or gRPC ended the call (undecodable or oversized message). */
  | 'cancelled'
  /** A request broke the protocol; the stream ended with INVALID_ARGUMENT. */
  | 'rejected'
  /** The subscriber's identity was not proven; the stream ended with UNAUTHENTICATED, PERMISSION_DENIED or UNAVAILABLE. */
  | 'refused'
  /** The server is shutting down; the stream ended with UNAVAILABLE. */
  | 'shutdown'
  /** A bug in the server; the stream ended with INTERNAL. */
  | 'internal';

/**
 * Lifecycle events, called synchronously from the stream handlers. Implementations must be
 * cheap; an exception they throw is logged and otherwise ignored.
 */
export interface DiscoveryEvents {
  /** A stream was opened (before its first request). */
  streamOpened(info: { peer: string }): void;
  /** A stream ended; called exactly once per streamOpened. `node` is absent if it never identified. */
  streamClosed(info: { peer: string; node?: NodeIdentity; reason: StreamEndReason }): void;
  /** A response was handed to gRPC. `bytes` is its encoded size. */
  responseSent(info: { node: NodeIdentity; typeUrl: ResourceType; mode: SubscriptionMode; bytes: number; resources: number; removed: number }): void;
  /**
   * The client applied the response with this nonce. `sinceEventMs`: milliseconds from the
   * source's sighting of the oldest change this version first carried to this subscriber, to
   * this ACK (push latency); undefined when it carried none (first response, reconnect).
   */
  ack(info: { node: NodeIdentity; typeUrl: ResourceType; version: string; sinceEventMs: number | undefined }): void;
  /** The client rejected a response; its previous state stays in force. */
  nack(info: { node: NodeIdentity; typeUrl: ResourceType; nack: NackRecord }): void;
  /** A request broke the protocol and its stream was ended. */
  requestRejected(info: { peer: string; node?: NodeIdentity; reason: string }): void;
  /** The stream's token did not prove the pod its node claims ("<namespace>/<pod>"); the stream was ended. */
  authRefused(info: { peer: string; pod: string; reason: AuthFailureReason }): void;
}
