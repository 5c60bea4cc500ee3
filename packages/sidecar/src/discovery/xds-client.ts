// The control-plane client: one bidirectional discovery stream in DELTA mode for Services and
// EndpointGroups. Each response is applied to the MeshConfig, then ACKed or NACKed with every
// reason. A broken stream reconnects with jittered backoff and resumes from the versions the
// config holds; until then the last good config stays in force (ARCHITECTURE sections 3, 5).
// The token goes in call metadata, read again at every connect (projected tokens rotate).
import {
  connectivityState, credentials, makeGenericClientConstructor, Metadata, status as Status,
  type ChannelOptions, type Client, type ClientDuplexStream, type StatusObject,
} from '@grpc/grpc-js';
import {
  discoveryService, isResourceType, Mode, RESOURCE_TYPES, WILDCARD,
  type DiscoveryRequestInit, type DiscoveryResponse, type Node,
} from '@skein/protocol';
import { AGENT_VERSION, type NodeIdentity } from '../identity.js';
import { noopLogger, type Logger } from '../logger.js';
import { Backoff } from './backoff.js';
import { DiscoveryStats, type DiscoveryStatsSnapshot } from './discovery-stats.js';
import type { MeshConfig, NackRecord, ResourceError } from './mesh-config.js';
import { bearer, staticToken, type TokenSource } from './token-source.js';

/** What to subscribe to: every Service, the own namespace (plus others on demand), or only names used. */
export type DiscoveryScope = 'all' | 'namespace' | 'on-demand';

export interface XdsClientOptions {
  /** Control plane discovery address, "host:port". */
  address: string;
  identity: NodeIdentity;
  config: MeshConfig;
  /** Default 'all' ("*"). 'namespace' subscribes "<own ns>/*" and other names on demand. */
  scope?: DiscoveryScope;
  logger?: Logger;
  backoff?: { initialMs?: number; maxMs?: number };
  /** grpc-js channel options, merged over the defaults (64 MiB receive limit, keepalive). */
  channelOptions?: ChannelOptions;
  /** The token sent as `authorization: Bearer`, asked for before every connect. Default: `identity.token`. */
  token?: TokenSource;
  /**
   * Called when the locality this proxy should use changes: the zone and region of its Node as
   * the control plane knows them, except where `identity` sets them (flags win).
   */
  onLocality?: (locality: Locality) => void;
}

export interface Locality {
  readonly zone: string;
  readonly region: string;
}

export interface XdsClientStatus {
  /** A stream is open and the control plane answers on it. */
  connected: boolean;
  /** Id of the replica that took the current (or last) stream. */
  controlPlane: string | null;
  /** Why the last stream ended (or could not open). */
  lastError: string | null;
  /** Streams opened after the first one. */
  reconnects: number;
  /** Type URL -> version_info of the last ACKed response. */
  acked: Record<string, string>;
  lastNack: NackRecord | null;
  /** Since start: responses received, resources they carried and names they removed (a resumed stream adds nothing it holds). */
  received: { responses: number; resources: number; removed: number };
}

/** Snapshots of a large cluster exceed grpc-js's 4 MiB default. */
const MAX_RECEIVE_BYTES = 64 * 1024 * 1024;
/** A stream that lived this long was healthy even if nothing changed (delta sends nothing then). */
const HEALTHY_STREAM_MS = 10_000;
/** Keep NACK messages readable; every name and reason also goes into resource_errors. */
const NACK_SUMMARY_CHARS = 2_000;
/** Initial metadata naming the replica that took the stream (control plane xds/discovery-server.ts). */
const CONTROL_PLANE_HEADER = 'x-skein-control-plane';

const DiscoveryClient = makeGenericClientConstructor(discoveryService, 'skein.v1.Discovery');
type DiscoveryCall = ClientDuplexStream<DiscoveryRequestInit, DiscoveryResponse>;

interface StreamState {
  readonly client: Client;
  readonly call: DiscoveryCall;
  readonly openedAt: number;
  answered: boolean;
}

/** Subscribes to the control plane and keeps a MeshConfig current. Never throws out of I/O callbacks. */
export class XdsClient {
  private readonly scope: DiscoveryScope;
  private readonly logger: Logger;
  private readonly backoff: Backoff;
  private node: Node;
  private readonly token: TokenSource;
  private readonly channelOptions: ChannelOptions;
  private stream: StreamState | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private started = false;
  private closed = false;
  private opened = 0;
  private lastError: string | null = null;
  private controlPlane: string | null = null;
  private readonly acked: Record<string, string> = {};
  private readonly counters = new DiscoveryStats();
  /** Types answered at least once (on any stream): the config is complete once all are. */
  private readonly seenTypes = new Set<string>();
  private queuedWants: string[] = [];
  private removeWantHandler: (() => void) | undefined;
  private readonly received = { responses: 0, resources: 0, removed: 0 };
  /** Bumped on close and on every connect, so a token read that finishes late is dropped. */
  private attempt = 0;
  /** "region/zone" the last response reported for this proxy's Node. */
  private knownLocality: string | undefined;

  constructor(private readonly options: XdsClientOptions) {
    const { identity } = options;
    this.scope = options.scope ?? 'all';
    if (!identity.id) throw new Error('xds client: the node identity needs a non-empty id');
    if (this.scope === 'namespace' && !identity.namespace) throw new Error('xds client: scope "namespace" needs the node\'s namespace');
    this.logger = options.logger ?? noopLogger;
    this.backoff = new Backoff(options.backoff);
    // The token travels in call metadata only, never in the Node.
    this.node = {
      id: identity.id, podName: identity.podName, namespace: identity.namespace, nodeName: identity.nodeName,
      locality: { zone: identity.zone, region: identity.region }, labels: { ...identity.labels },
      agentVersion: AGENT_VERSION, token: '', adminAddress: identity.adminAddress ?? '',
    };
    this.token = options.token ?? staticToken(identity.token);
    this.channelOptions = {
      'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
      // Detect a dead control plane (or a silently dropped connection) within ~40 s.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      ...options.channelOptions,
    };
  }

  /** Opens the stream (once). Failures are retried in the background; see `status()`. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    if (this.scope !== 'all') {
      this.removeWantHandler = this.options.config.onWant({ want: (name) => this.queueWant(name), covers: (name) => this.covers(name) });
    }
    this.connect();
  }

  /** Ends the stream and the channel; leaves no timer or socket behind. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.attempt++;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.removeWantHandler?.();
    const stream = this.stream;
    this.stream = undefined;
    if (!stream) return;
    const ended = new Promise<void>((resolve) => stream.call.once('status', () => resolve()));
    stream.call.cancel();
    await withTimeout(ended, 1_000);
    stream.client.close();
  }

  status(): XdsClientStatus {
    const s = this.stream;
    const connected = s !== undefined && (s.answered || s.client.getChannel().getConnectivityState(false) === connectivityState.READY);
    return {
      connected, controlPlane: this.controlPlane, lastError: this.lastError, reconnects: Math.max(0, this.opened - 1),
      acked: { ...this.acked }, lastNack: this.options.config.lastNack ?? null, received: { ...this.received },
    };
  }

  /** Per type: version in force, when applied, responses applied and NACKed; reconnects. For metrics. */
  stats(): DiscoveryStatsSnapshot {
    return this.counters.snapshot();
  }

  /** Reads the token, then opens the stream; an unreadable token is retried like a failed stream. */
  private connect(): void {
    this.timer = undefined;
    if (this.closed) return;
    const attempt = ++this.attempt;
    void this.token().then((result) => {
      if (this.closed || attempt !== this.attempt) return;
      if (result.ok) {
        this.open(result.token);
        return;
      }
      this.lastError = result.error;
      const delay = this.backoff.next();
      this.logger.warn({ controlPlane: this.options.address, error: result.error, retryInMs: delay }, 'xds: no token to show the control plane; keeping the last good config');
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }

  private open(token: string | undefined): void {
    const client = new DiscoveryClient(this.options.address, credentials.createInsecure(), this.channelOptions);
    const metadata = new Metadata();
    if (token) metadata.set('authorization', bearer(token));
    const call = (client as unknown as { stream(metadata: Metadata): DiscoveryCall }).stream(metadata);
    const stream: StreamState = { client, call, openedAt: Date.now(), answered: false };
    this.stream = stream;
    if (++this.opened > 1) this.counters.reconnected();
    // 'error' repeats the status; a listener keeps it from becoming an uncaught exception.
    call.on('error', () => undefined);
    call.on('metadata', (headers: Metadata) => {
      const replica = headers.get(CONTROL_PLANE_HEADER)[0];
      if (this.stream === stream && typeof replica === 'string' && replica) this.controlPlane = replica;
    });
    call.on('data', (response: DiscoveryResponse) => this.guard(stream, () => this.onResponse(stream, response)));
    call.on('status', (status: StatusObject) => this.onStreamEnd(stream, status));
    const names = this.subscriptionNames();
    this.logger.info({ controlPlane: this.options.address, scope: this.scope, attempt: this.opened }, 'xds: opening discovery stream');
    for (const [i, typeUrl] of RESOURCE_TYPES.entries()) {
      // Sending what we hold makes the server send only what differs (resume after reconnect).
      this.write(stream, {
        ...(i === 0 ? { node: this.node } : {}), typeUrl, mode: Mode.MODE_DELTA,
        resourceNamesSubscribe: names, initialResourceVersions: this.options.config.versions(typeUrl),
      });
    }
  }

  private onResponse(stream: StreamState, response: DiscoveryResponse): void {
    if (this.stream !== stream) return;
    stream.answered = true;
    if (response.controlPlane) this.controlPlane = response.controlPlane;
    this.received.responses++;
    this.received.resources += response.resources.length;
    this.received.removed += response.removedResources.length;
    if (response.nodeLocality) this.learnLocality(response.nodeLocality);
    const { typeUrl } = response;
    if (!isResourceType(typeUrl)) {
      this.nack(stream, response, `unknown type_url "${typeUrl}"`, []);
      return;
    }
    const result = this.options.config.apply(typeUrl, {
      resources: response.resources.map((r) => ({ name: r.name ?? '', version: r.version ?? '', body: r.body ?? new Uint8Array() })),
      removed: response.removedResources,
      replace: false,
    });
    this.seenTypes.add(typeUrl);
    if (RESOURCE_TYPES.every((t) => this.seenTypes.has(t))) this.options.config.markReady();
    if (result.rejected.length === 0) {
      this.acked[typeUrl] = response.versionInfo;
      this.counters.applied(typeUrl, response.versionInfo, Date.now());
      this.write(stream, { typeUrl, mode: Mode.MODE_DELTA, responseNonce: response.nonce });
      this.logger.debug({ typeUrl, version: response.versionInfo, applied: result.applied.length, removed: response.removedResources.length }, 'xds: applied (ACK)');
      return;
    }
    const summary = result.rejected.map((e) => `${e.name}: ${e.message}`).join('; ');
    const message = `rejected ${result.rejected.length} of ${response.resources.length} ${typeUrl} resources (previous versions stay in force): ${summary}`;
    this.nack(stream, response, message.length > NACK_SUMMARY_CHARS ? `${message.slice(0, NACK_SUMMARY_CHARS)}…` : message, result.rejected);
  }

  private nack(stream: StreamState, response: DiscoveryResponse, message: string, errors: ResourceError[]): void {
    this.options.config.recordNack({ typeUrl: response.typeUrl, message, resources: errors, at: Date.now() });
    // A type the server should not send is counted apart, so its name cannot grow the label set.
    this.counters.nacked(isResourceType(response.typeUrl) ? response.typeUrl : 'unknown');
    this.logger.warn({ typeUrl: response.typeUrl, version: response.versionInfo, errors }, 'xds: rejected a response (NACK)');
    this.write(stream, {
      typeUrl: response.typeUrl, mode: Mode.MODE_DELTA, responseNonce: response.nonce,
      errorDetail: { message, resourceErrors: errors.map((e) => ({ name: e.name, message: e.message })) },
    });
  }

  private onStreamEnd(stream: StreamState, status: StatusObject): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    stream.client.close();
    this.lastError = `${Status[status.code] ?? status.code}: ${status.details}`;
    if (this.closed) return;
    // Reset only after a healthy stream, so a server that accepts and drops us still backs off.
    if (stream.answered || Date.now() - stream.openedAt >= HEALTHY_STREAM_MS) this.backoff.reset();
    const delay = this.backoff.next();
    const fields = { controlPlane: this.options.address, replica: this.controlPlane, error: this.lastError, retryInMs: delay };
    if (status.code === Status.UNAUTHENTICATED || status.code === Status.PERMISSION_DENIED) {
      // Retried all the same: a token that is not valid yet (clock skew, a fresh pod) may become valid.
      this.logger.error(fields, `xds: the control plane refused this proxy's identity (pod ${this.node.namespace}/${this.node.podName}); keeping the last good config and retrying`);
    } else {
      this.logger.warn(fields, 'xds: discovery stream ended; keeping the last good config');
    }
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /**
   * Takes the Node's locality from a response: fields the identity leaves empty follow it, and
   * the next stream claims the result, so a replica that agrees sends nothing for it.
   */
  private learnLocality(reported: { zone?: string | null; region?: string | null }): void {
    const known = { zone: reported.zone ?? '', region: reported.region ?? '' };
    const key = `${known.region}/${known.zone}`;
    if (key === this.knownLocality) return;
    this.knownLocality = key;
    const { identity } = this.options;
    for (const field of ['zone', 'region'] as const) {
      if (identity[field] && known[field] && identity[field] !== known[field]) {
        this.logger.warn({ [field]: identity[field], nodeLabel: known[field] }, `xds: the Node's ${field} label says "${known[field]}"; keeping the configured "${identity[field]}"`);
      }
    }
    const next = { zone: identity.zone || known.zone, region: identity.region || known.region };
    const current = this.node.locality ?? {};
    if (next.zone === (current.zone ?? '') && next.region === (current.region ?? '')) return;
    this.node = { ...this.node, locality: next };
    this.logger.info({ nodeName: this.node.nodeName, ...next }, 'xds: locality from the Node\'s labels');
    this.options.onLocality?.(next);
  }

  /** Standing patterns, names wanted on demand, and held names outside the scope (from the cache) so they stay current. */
  private subscriptionNames(): string[] {
    const patterns = this.scope === 'all' ? [WILDCARD] : this.scope === 'namespace' ? [`${this.node.namespace}/*`] : [];
    const names = new Set(this.options.config.wantedNames());
    for (const typeUrl of RESOURCE_TYPES) {
      for (const name of this.options.config.resources(typeUrl).keys()) if (!this.covers(name)) names.add(name);
    }
    return [...patterns, ...names];
  }

  private covers(name: string): boolean {
    if (this.scope === 'all') return true;
    return this.scope === 'namespace' && name.startsWith(`${this.node.namespace}/`);
  }

  /** Batches wants of one tick into one subscribe request per type. */
  private queueWant(name: string): void {
    this.queuedWants.push(name);
    if (this.queuedWants.length === 1) queueMicrotask(() => this.flushWants());
  }

  private flushWants(): void {
    const names = this.queuedWants;
    this.queuedWants = [];
    const stream = this.stream;
    // Without a stream the next connect subscribes them (config.wantedNames()).
    if (!stream || this.closed || names.length === 0) return;
    this.logger.debug({ names }, 'xds: subscribing on demand');
    for (const typeUrl of RESOURCE_TYPES) this.write(stream, { typeUrl, mode: Mode.MODE_DELTA, resourceNamesSubscribe: names });
  }

  private write(stream: StreamState, request: DiscoveryRequestInit): void {
    if (this.stream !== stream) return;
    try {
      stream.call.write(request);
    } catch (err) {
      this.logger.warn({ err }, 'xds: cannot write to the discovery stream');
    }
  }

  /** A bug while handling a response ends this stream (and reconnects), never the process. */
  private guard(stream: StreamState, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger.error({ err }, 'xds: failed to handle a discovery response; restarting the stream');
      stream.call.cancel();
    }
  }
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
