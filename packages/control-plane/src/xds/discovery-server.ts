// The gRPC discovery server: one bidirectional stream per subscriber, state-of-the-world and
// delta on the same method. It sees only the snapshot cache's read side (SnapshotCache), as
// go-control-plane's server sees only its cache's watch interface.
import { Metadata, Server, ServerCredentials, status as Status, type ServiceDefinition } from '@grpc/grpc-js';
import { createResponseEncoder, decodeRequest, discoveryService } from '@skein/protocol';
import { bearerToken, type AuthClaim, type StreamAuthenticator } from '../auth/stream-auth.js';
import type { SnapshotCache } from '../snapshot/snapshot-cache.js';
import type { Locality } from '../snapshot/subscriber.js';
import type { SubscriberRegistry } from '../snapshot/subscriber-registry.js';
import { silentLogger, type DiscoveryEvents, type DiscoveryLogger } from './discovery-events.js';
import { DiscoveryStream, type DiscoveryCall } from './discovery-stream.js';
import { SendBudget } from './send-budget.js';

export interface KeepaliveOptions {
  /** Interval of server pings on an idle connection. Default 30 000. */
  timeMs?: number;
  /** How long a ping may go unanswered before the connection is dropped. Default 10 000. */
  timeoutMs?: number;
  /** Whether clients may ping with no call open. Default true. */
  permitWithoutCalls?: boolean;
  /** Shortest interval between client pings the server tolerates. Default 10 000. */
  minPingIntervalMs?: number;
}

export interface DiscoveryServerOptions {
  cache: SnapshotCache;
  registry: SubscriberRegistry;
  /** This replica's id, written into every response. */
  controlPlaneId: string;
  /** Largest request accepted; a larger one ends its stream with RESOURCE_EXHAUSTED. Default 4 MiB. */
  maxReceiveMessageBytes?: number;
  keepalive?: KeepaliveOptions;
  logger?: DiscoveryLogger;
  events?: Partial<DiscoveryEvents>;
  /** Clock for connection and NACK times. Default Date.now. */
  now?: () => number;
  /** Checks each stream's token against the pod its node claims. Default: every stream is admitted. */
  authenticator?: StreamAuthenticator;
  /** A Node's locality from its labels, sent to subscribers on that Node. Default: none. */
  localityOf?: (nodeName: string) => Locality | undefined;
  /**
   * Bytes of large responses (64 KiB and more: full views, big coalesced deltas) in flight
   * across all streams; more wait their turn, first come first served. Bounds memory when many
   * subscribers (re)connect at once. Default 32 MiB; 0: no bound.
   */
  maxPushBytesInFlight?: number;
}

const DEFAULT_PUSH_BYTES_IN_FLIGHT = 32 * 1024 * 1024;
/** The usual delta push (a few changed resources) never waits behind full views. */
const SMALL_PUSH_BYTES = 64 * 1024;
/** A client that stops reading stops counting after this: it keeps its copy, not everybody's turn. */
const PUSH_HOLD_LIMIT_MS = 10_000;

/** Initial metadata naming the replica that took the stream, so a client knows it before any response. */
export const CONTROL_PLANE_HEADER = 'x-skein-control-plane';

/**
 * The Discovery service's method definition with a decoder that returns errors as values,
 * so an undecodable request ends its stream with INVALID_ARGUMENT and a log line, and a
 * serializer that writes every response into one reused buffer (gRPC copies it at once).
 */
const serviceDefinition = () => ({
  stream: { ...discoveryService.stream, requestDeserialize: (bytes: Buffer) => decodeRequest(bytes), responseSerialize: createResponseEncoder() },
}) satisfies ServiceDefinition;

export class DiscoveryServer {
  private readonly server: Server;
  private readonly streams = new Set<DiscoveryStream>();
  private readonly logger: DiscoveryLogger;
  private nextId = 0;
  private stopping: Promise<void> | undefined;
  private readonly budget: SendBudget | undefined;

  constructor(private readonly options: DiscoveryServerOptions) {
    this.logger = options.logger ?? silentLogger;
    const keepalive = options.keepalive ?? {};
    this.server = new Server({
      'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? 4 * 1024 * 1024,
      'grpc.keepalive_time_ms': keepalive.timeMs ?? 30_000,
      'grpc.keepalive_timeout_ms': keepalive.timeoutMs ?? 10_000,
      // Client-ping policy, as for gRPC C-core peers; grpc-js servers accept client pings anyway.
      'grpc.keepalive_permit_without_calls': keepalive.permitWithoutCalls === false ? 0 : 1,
      'grpc.http2.min_ping_interval_without_data_ms': keepalive.minPingIntervalMs ?? 10_000,
    });
    this.server.addService(serviceDefinition(), { stream: (call: DiscoveryCall) => this.onCall(call) });
    const maxBytes = options.maxPushBytesInFlight ?? DEFAULT_PUSH_BYTES_IN_FLIGHT;
    if (maxBytes > 0) {
      this.budget = new SendBudget({
        maxBytes, smallBytes: SMALL_PUSH_BYTES, holdLimitMs: PUSH_HOLD_LIMIT_MS,
        clock: { now: Date.now, setTimeout: (fn, ms) => setTimeout(fn, ms).unref(), clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout) },
      });
    }
  }

  /** Large responses in flight (bytes) and streams waiting for room, for metrics. */
  pushQueue(): { inFlightBytes: number; waitingStreams: number } {
    return { inFlightBytes: this.budget?.inFlight ?? 0, waitingStreams: this.budget?.waiting ?? 0 };
  }

  /** Streams currently open. */
  get streamCount(): number {
    return this.streams.size;
  }

  /**
   * Listens on `host:port` (plaintext h2c; port 0 picks a free port). Resolves with the bound
   * port; rejects if the address cannot be bound. May be called for several addresses.
   */
  listen(host: string, port: number): Promise<number> {
    const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, ServerCredentials.createInsecure(), (err, bound) => {
        if (err) reject(new Error(`discovery server: cannot listen on ${address}: ${err.message}`));
        else resolve(bound);
      });
    });
  }

  /**
   * Stops accepting connections, ends every stream with UNAVAILABLE (after its queued
   * responses) so clients move to another replica, and waits up to `graceMs` for connections
   * to close before closing them forcibly. Idempotent; resolves when the server is down.
   */
  shutdown(graceMs = 5_000): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.logger.warn({ streams: this.streams.size, graceMs }, 'discovery server: grace period over, closing connections');
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
      for (const stream of [...this.streams]) stream.shutdown();
    });
    return this.stopping;
  }

  private onCall(call: DiscoveryCall): void {
    try {
      if (this.stopping) {
        call.emit('error', { code: Status.UNAVAILABLE, details: 'control plane shutting down' });
        return;
      }
      const headers = new Metadata();
      headers.set(CONTROL_PLANE_HEADER, this.options.controlPlaneId);
      call.sendMetadata(headers);
      const authenticator = this.options.authenticator;
      const stream = new DiscoveryStream(call, {
        id: String(++this.nextId),
        cache: this.options.cache,
        registry: this.options.registry,
        controlPlaneId: this.options.controlPlaneId,
        logger: this.logger,
        events: this.options.events ?? {},
        now: this.options.now ?? Date.now,
        onEnd: (s) => this.streams.delete(s),
        ...(authenticator ? { admit: (claim: AuthClaim, nodeToken: string) => authenticator.authenticate(tokenOf(call, nodeToken), claim) } : {}),
        ...(this.options.localityOf ? { localityOf: this.options.localityOf } : {}),
        ...(this.budget ? { budget: this.budget } : {}),
      });
      this.streams.add(stream);
    } catch (err) {
      this.logger.error({ err }, 'discovery server: cannot start stream');
      call.emit('error', { code: Status.INTERNAL, details: 'internal error in the discovery server' });
    }
  }
}

/**
 * The stream's token: call metadata `authorization: Bearer <token>` (the standard place, as
 * Envoy and Istio send it), else the `token` field of the first request's Node.
 */
function tokenOf(call: DiscoveryCall, nodeToken: string): string | undefined {
  const header = call.metadata.get('authorization')[0];
  return bearerToken(typeof header === 'string' ? header : undefined) ?? (nodeToken || undefined);
}
