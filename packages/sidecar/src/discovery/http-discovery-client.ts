// HTTP-only discovery for workloads without a sidecar or a gRPC stream (serverless functions):
// polls the control plane's GET /v1/snapshot with If-None-Match and a long-poll wait, and
// applies the whole set each time. Uses only the fetch API, so it runs on serverless runtimes
// (ARCHITECTURE section 7). Errors back off; the last good config stays in force.
import { TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '@skein/protocol';
import { noopLogger, type Logger } from '../logger.js';
import { Backoff } from './backoff.js';
import { DiscoveryStats, type DiscoveryStatsSnapshot } from './discovery-stats.js';
import type { IncomingResource, MeshConfig, NackRecord, ResourceError } from './mesh-config.js';
import { redactUrl, scrubSecrets, urlSecrets } from './redact-url.js';
import { bearer, type TokenSource } from './token-source.js';

export interface HttpDiscoveryClientOptions {
  /** Control plane HTTP base, e.g. http://127.0.0.1:15014. */
  url: string;
  config: MeshConfig;
  /** Only these namespaces; default everything. */
  namespaces?: string[];
  /** Long-poll hold in seconds for `start()`'s loop. Default 30. */
  waitSeconds?: number;
  fetch?: typeof fetch;
  logger?: Logger;
  backoff?: { initialMs?: number; maxMs?: number };
  /** Sent as `Authorization: Bearer`, asked for before every poll. Default: none. */
  token?: TokenSource;
}

export interface HttpDiscoveryStatus {
  /** The last poll succeeded (200 or 304). */
  connected: boolean;
  /** ETag of the snapshot in force, sent as If-None-Match. */
  etag: string | null;
  lastError: string | null;
  /** Consecutive failed polls. */
  failures: number;
  lastNack: NackRecord | null;
}

/** The body of GET /v1/snapshot (control-plane src/http/snapshot-api.ts). */
interface SnapshotBody {
  version?: unknown;
  services?: unknown;
  endpointGroups?: unknown;
}

/** A poll may take the wait plus this long before it is aborted as hung. */
const REQUEST_SLACK_MS = 15_000;
/** Floor between polls, so a server or proxy that ignores `wait` cannot make the loop spin. */
const MIN_POLL_INTERVAL_MS = 100;

/** Keeps a MeshConfig current from the HTTP snapshot API. */
export class HttpDiscoveryClient {
  private readonly fetch: typeof fetch;
  private readonly logger: Logger;
  private readonly backoff: Backoff;
  private readonly waitSeconds: number;
  /** Credentials in the URL, kept out of errors and logs. */
  private readonly secrets: string[];
  private etag: string | undefined;
  private lastError: string | null = null;
  private ok = false;
  /** A poll failed since the last success: the next success counts as a reconnect. */
  private failedSinceOk = false;
  private readonly counters = new DiscoveryStats();
  private running = false;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly inFlight = new Set<AbortController>();
  private refreshing: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  /** Ends the loop's current pause early (close). */
  private wake: (() => void) | undefined;

  constructor(private readonly options: HttpDiscoveryClientOptions) {
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.logger = options.logger ?? noopLogger;
    this.backoff = new Backoff(options.backoff);
    this.waitSeconds = Math.max(0, options.waitSeconds ?? 30);
    this.secrets = urlSecrets(options.url);
  }

  /** Starts the long-poll loop (once). */
  start(): void {
    if (this.running || this.closed) return;
    this.running = true;
    this.loop = this.pollLoop();
  }

  /**
   * One poll without waiting, for functions that call it per invocation. Never rejects: a
   * failure keeps the last good config and shows in `status()`. Concurrent calls share one poll.
   */
  refresh(): Promise<void> {
    this.refreshing ??= this.poll(0).then(() => undefined).finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Stops polling and aborts the request in flight. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.wake?.();
    for (const controller of this.inFlight) controller.abort();
    await Promise.allSettled([this.loop, this.refreshing]);
  }

  status(): HttpDiscoveryStatus {
    return {
      connected: this.ok, etag: this.etag ?? null, lastError: this.lastError, failures: this.backoff.attempts,
      lastNack: this.options.config.lastNack ?? null,
    };
  }

  /** Per type: the snapshot ETag in force, when applied, snapshots applied and rejected; recoveries. For metrics. */
  stats(): DiscoveryStatsSnapshot {
    return this.counters.snapshot();
  }

  private async pollLoop(): Promise<void> {
    while (!this.closed) {
      const ok = await this.poll(this.waitSeconds);
      if (this.closed) return;
      await this.sleep(ok ? MIN_POLL_INTERVAL_MS : this.backoff.next());
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        clearTimeout(this.timer);
        this.timer = undefined;
        this.wake = undefined;
        resolve();
      };
      this.timer = setTimeout(this.wake, ms);
    });
  }

  /** One GET; returns whether it succeeded. Never throws. */
  private async poll(waitSeconds: number): Promise<boolean> {
    const controller = new AbortController();
    this.inFlight.add(controller);
    const hung = setTimeout(() => controller.abort(), waitSeconds * 1000 + REQUEST_SLACK_MS);
    try {
      const token = this.options.token ? await this.options.token() : undefined;
      if (token && !token.ok) throw new Error(token.error);
      const res = await this.fetch(this.snapshotUrl(waitSeconds), {
        headers: {
          accept: 'application/json', ...(this.etag ? { 'if-none-match': `"${this.etag}"` } : {}),
          ...(token?.token ? { authorization: bearer(token.token) } : {}),
        },
        signal: controller.signal,
      });
      if (res.status === 304) {
        await res.body?.cancel();
      } else if (res.status === 200) {
        this.applySnapshot((await res.json()) as SnapshotBody, stripEtag(res.headers.get('etag')));
      } else {
        const text = await res.text().catch(() => '');
        throw new Error(`GET /v1/snapshot answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
      }
      this.ok = true;
      this.lastError = null;
      this.backoff.reset();
      if (this.failedSinceOk) this.counters.reconnected();
      this.failedSinceOk = false;
      return true;
    } catch (err) {
      if (this.closed) return false;
      this.ok = false;
      this.failedSinceOk = true;
      this.lastError = controller.signal.aborted ? 'snapshot request timed out' : scrubSecrets((err as Error).message, this.secrets);
      this.logger.warn({ url: redactUrl(this.options.url), error: this.lastError }, 'http discovery: poll failed; keeping the last good config');
      return false;
    } finally {
      clearTimeout(hung);
      this.inFlight.delete(controller);
    }
  }

  private snapshotUrl(waitSeconds: number): string {
    const url = new URL('/v1/snapshot', this.options.url);
    for (const ns of this.options.namespaces ?? []) url.searchParams.append('namespace', ns);
    if (waitSeconds > 0 && this.etag) url.searchParams.set('wait', `${waitSeconds}s`);
    return url.toString();
  }

  /** Applies the whole set (replace) after validating every resource as the gRPC path does. */
  private applySnapshot(body: SnapshotBody, etag: string | undefined): void {
    const services = entries(body.services, 'services');
    const groups = entries(body.endpointGroups, 'endpointGroups');
    const [s, g] = this.options.config.applyAll([
      { typeUrl: TYPE_SERVICE, update: { resources: services, removed: [], replace: true } },
      { typeUrl: TYPE_ENDPOINT_GROUP, update: { resources: groups, removed: [], replace: true } },
    ]);
    this.options.config.markReady();
    const rejected: Array<[string, ResourceError[]]> = [[TYPE_SERVICE, s!.rejected], [TYPE_ENDPOINT_GROUP, g!.rejected]];
    const version = etag ?? (typeof body.version === 'string' ? body.version : '');
    for (const [typeUrl, errors] of rejected) {
      if (errors.length === 0) {
        this.counters.applied(typeUrl, version, Date.now());
        continue;
      }
      this.counters.nacked(typeUrl);
      const message = `rejected ${errors.length} ${typeUrl} resources from the HTTP snapshot (previous versions stay in force)`;
      this.options.config.recordNack({ typeUrl, message, resources: errors, at: Date.now() });
      this.logger.warn({ typeUrl, errors }, 'http discovery: resources rejected');
    }
    // Like an xDS NACK, a rejected snapshot is not fetched again until its content changes.
    this.etag = etag ?? (typeof body.version === 'string' ? body.version : undefined);
  }
}

/** `[{name, version, resource}]` -> resources for MeshConfig; a malformed entry becomes a rejection. */
function entries(list: unknown, field: string): IncomingResource[] {
  if (!Array.isArray(list)) throw new Error(`snapshot: "${field}" is not a list`);
  return list.map((item: unknown, i) => {
    const entry = (typeof item === 'object' && item !== null ? item : {}) as { name?: unknown; version?: unknown; resource?: unknown };
    const name = typeof entry.name === 'string' ? entry.name : `${field}[${i}]`;
    return { name, version: typeof entry.version === 'string' ? entry.version : '', json: entry.resource };
  });
}

function stripEtag(value: string | null): string | undefined {
  return value?.replace(/^W\//, '').replace(/^"(.*)"$/, '$1') || undefined;
}
