// One kind's informer: client-node's ListWatch (list, then watch, relist on 410 Gone, deletes
// for objects missing from a relist) plus what it lacks: restart with backoff after an error
// (ListWatch gives up for good on any error but 410), a first-list signal, and a clean stop.
import { ListWatch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { KubeKind } from '../model/kube-objects.js';
import type { Backoff } from './backoff.js';
import { listAll } from './kube-list.js';
import { GuardedWatch } from './kube-watch.js';
import type { Timers } from './timers.js';

/** Where a kind lives in the API. */
export interface KindSpec {
  kind: KubeKind;
  /** Collection path, e.g. `/api/v1/services` or `/api/v1/namespaces/ns/services`. */
  path: string;
}

/** What a {@link KindInformer} reports, synchronously and in order. */
export interface InformerEvents {
  upsert(kind: KubeKind, object: KubernetesObject): void;
  delete(kind: KubeKind, object: KubernetesObject): void;
  invalid(kind: KubeKind, reason: string): void;
  /** A complete list has been delivered (after every start or relist). */
  listed(kind: KubeKind): void;
  /** The kind is connected again (a list or watch succeeded since the last error). */
  healthy(kind: KubeKind): void;
  /** The informer failed and restarts in `delayMs`. */
  retrying(kind: KubeKind, error: unknown, delayMs: number): void;
}

export interface KindInformerOptions {
  config: KubeConfig;
  timers: Timers;
  backoff: Backoff;
  /** Healthy this long, the next failure restarts the backoff from its start. */
  resetAfterMs: number;
  pageSize: number;
  listTimeoutMs: number;
  watchTimeoutSeconds: number;
  /** Random source in [0, 1) (watch timeout spread). */
  random: () => number;
}

/** A watch that ends sooner than this after opening counts as a failure (backoff). */
const MIN_WATCH_MS = 1_000;

export class KindInformer {
  private readonly informer: ListWatch<KubernetesObject>;
  private readonly watch: GuardedWatch;
  private readonly lists = new Set<AbortController>();
  private stopped = false;
  private retryTimer: unknown;
  /** A list returned; the next watch request means its items have been delivered. */
  private listPending = false;
  private healthySince: number | undefined;
  private watchOpenedAt: number | undefined;

  constructor(
    private readonly spec: KindSpec,
    private readonly options: KindInformerOptions,
    private readonly events: InformerEvents,
  ) {
    this.watch = new GuardedWatch(
      options.config,
      { timeoutSeconds: options.watchTimeoutSeconds, timers: options.timers, random: options.random },
      { beforeWatch: () => this.onBeforeWatch(), opened: () => this.onWatchOpened() },
    );
    this.informer = new ListWatch(spec.path, this.watch, () => this.list(), false);
    const kind = spec.kind;
    this.informer.on('add', (object) => events.upsert(kind, object));
    this.informer.on('update', (object) => events.upsert(kind, object));
    this.informer.on('delete', (object) => events.delete(kind, object));
    this.informer.on('error', (err) => this.onError(err));
  }

  /** Starts listing and watching in the background; failures are retried, never thrown. */
  start(): void {
    this.run();
  }

  /** Stops for good: cancels the retry timer, in-flight lists and the open watch. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer !== undefined) this.options.timers.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const list of this.lists) list.abort();
    await this.informer.stop();
    await this.watch.close();
  }

  private run(): void {
    this.retryTimer = undefined;
    if (this.stopped) return;
    // start() keeps the last resourceVersion: after an error the informer resumes the watch,
    // and the server's 410 (if history moved on) makes it relist.
    this.informer.start().catch((err: unknown) => this.onError(err));
  }

  private async list(): Promise<KubernetesListObject<KubernetesObject>> {
    const controller = new AbortController();
    this.lists.add(controller);
    let list: KubernetesListObject<KubernetesObject>;
    try {
      list = await listAll(this.options.config, this.spec.path, {
        pageSize: this.options.pageSize,
        timeoutMs: this.options.listTimeoutMs,
        signal: controller.signal,
      });
    } finally {
      this.lists.delete(controller);
    }
    // ListWatch would open a watch after this list even if stop() ran meanwhile.
    if (this.stopped) throw new Error(`${this.spec.kind}: informer stopped`);
    // ListWatch dereferences item.metadata unguarded; an item without it would crash the relist.
    list.items = list.items.filter((item) => {
      const ok = typeof item === 'object' && item !== null && typeof item.metadata === 'object' && item.metadata !== null;
      if (!ok) this.events.invalid(this.spec.kind, 'list item without metadata');
      return ok;
    });
    this.listPending = true;
    return list;
  }

  /** Delay before the next watch: none after a list, backoff if the last watch ended at once. */
  private onBeforeWatch(): number {
    if (this.listPending) {
      this.listPending = false;
      this.markHealthy();
      this.events.listed(this.spec.kind);
      return 0;
    }
    const openedAt = this.watchOpenedAt;
    this.watchOpenedAt = undefined;
    if (openedAt !== undefined && this.options.timers.now() - openedAt < MIN_WATCH_MS) {
      return this.failed(new Error(`watch ${this.spec.path} ended right after it opened`));
    }
    return 0;
  }

  private onWatchOpened(): void {
    this.watchOpenedAt = this.options.timers.now();
    this.markHealthy();
  }

  private markHealthy(): void {
    if (this.healthySince !== undefined) return;
    this.healthySince = this.options.timers.now();
    this.events.healthy(this.spec.kind);
  }

  private onError(err: unknown): void {
    // ListWatch reports the abort of stop() as an error too; and one failure may be reported
    // twice (a rejected start() after an error callback): one retry is enough.
    if (this.stopped || this.retryTimer !== undefined) return;
    const delay = this.failed(err);
    this.retryTimer = this.options.timers.setTimeout(() => this.run(), delay);
  }

  /** Counts a failure: reports it and returns the backoff delay before the next attempt. */
  private failed(err: unknown): number {
    const { timers, backoff, resetAfterMs } = this.options;
    if (this.healthySince !== undefined && timers.now() - this.healthySince >= resetAfterMs) backoff.reset();
    this.healthySince = undefined;
    this.watchOpenedAt = undefined;
    this.listPending = false;
    const delay = backoff.next();
    this.events.retrying(this.spec.kind, err, delay);
    return delay;
  }
}
