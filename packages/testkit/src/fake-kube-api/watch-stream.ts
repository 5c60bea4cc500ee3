// One open watch: a chunked HTTP response of newline-delimited JSON events, as the API server
// writes them (`{"type":"ADDED","object":{...}}\n`). It replays retained history from the
// requested resourceVersion (or the current state when none), then follows live changes.
import type { ServerResponse } from 'node:http';
import type { ChangeEvent, ObjectStore } from './object-store.js';
import { apiVersionOf, type ResourceType } from './resources.js';
import type { Selector, StoredObject } from './selectors.js';
import { kubeStatus } from './status.js';

/** What a watch request asked for. */
export interface WatchRequest {
  resource: ResourceType;
  /** Only this namespace; undefined for cluster-wide. */
  namespace?: string;
  labels: Selector;
  fields: Selector;
  /** Resume after this resourceVersion; undefined sends the current objects as ADDED first. */
  from?: number;
  /** Send BOOKMARK events every `bookmarkIntervalMs` (allowWatchBookmarks=true). */
  bookmarks: boolean;
  bookmarkIntervalMs: number;
  /** End the stream cleanly after this long (timeoutSeconds). */
  timeoutMs?: number;
}

type WireEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'; object: unknown };

export class WatchStream {
  private unsubscribe?: () => void;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly res: ServerResponse,
    private readonly request: WatchRequest,
    private readonly onClose: (stream: WatchStream) => void,
  ) {}

  /** Writes headers and the initial events, then follows the store. Call once. */
  start(): void {
    this.res.on('close', () => this.finish());
    this.res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
    this.res.flushHeaders();
    const { from } = this.request;
    if (from === undefined) {
      for (const object of this.store.list(this.request.resource, this.request.namespace)) {
        if (this.matches(object)) this.send({ type: 'ADDED', object });
      }
    } else {
      const changes = this.store.changesSince(from);
      if (changes === 'expired') {
        const oldest = this.store.oldestResumable;
        this.send({ type: 'ERROR', object: kubeStatus(410, `too old resource version: ${from} (${oldest})`) });
        this.res.end();
        return;
      }
      for (const change of changes) this.deliver(change);
    }
    this.unsubscribe = this.store.subscribe((change) => this.deliver(change));
    if (this.request.bookmarks) {
      this.timers.push(setInterval(() => this.bookmark(), this.request.bookmarkIntervalMs));
    }
    if (this.request.timeoutMs !== undefined) {
      this.timers.push(setTimeout(() => this.end(), this.request.timeoutMs));
    }
  }

  /** Ends the stream cleanly, as the server does when timeoutSeconds expires. */
  end(): void {
    this.finish();
    this.res.end();
  }

  /** Cuts the connection without a clean end (a network failure or a server crash). */
  drop(): void {
    this.finish();
    this.res.socket?.destroy();
    this.res.destroy();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    this.onClose(this);
  }

  private matches(object: StoredObject | undefined): boolean {
    if (!object) return false;
    const { namespace, labels, fields } = this.request;
    if (namespace !== undefined && object.metadata?.namespace !== namespace) return false;
    return labels(object) && fields(object);
  }

  /**
   * Filters one change for this watch. Like the API server, a modification that moves an
   * object into the selection is ADDED and one that moves it out is DELETED.
   */
  private deliver(change: ChangeEvent): void {
    if (change.resource !== this.request.resource) return;
    const now = this.matches(change.object);
    if (change.type !== 'MODIFIED') {
      if (now) this.send({ type: change.type, object: change.object });
      return;
    }
    const before = this.matches(change.previous);
    if (now) this.send({ type: before ? 'MODIFIED' : 'ADDED', object: change.object });
    else if (before) this.send({ type: 'DELETED', object: change.object });
  }

  private bookmark(): void {
    const resource = this.request.resource;
    const object = {
      kind: resource.kind,
      apiVersion: apiVersionOf(resource),
      metadata: { resourceVersion: String(this.store.resourceVersion) },
    };
    this.send({ type: 'BOOKMARK', object });
  }

  private send(event: WireEvent): void {
    if (!this.closed) this.res.write(`${JSON.stringify(event)}\n`);
  }
}
