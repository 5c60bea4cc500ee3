// client-node's Watch with the guards an informer needs to be stoppable and to notice dead
// connections. client-node's ListWatch is used unchanged around it (makeInformer builds exactly
// `new ListWatch(path, new Watch(config), listFn, false)`; we only swap the Watch).
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Timers } from './timers.js';

/** What a {@link GuardedWatch} tells its informer. */
export interface WatchHooks {
  /**
   * The informer asks for a watch: everything it listed before has been delivered. Returns
   * how long to wait before connecting (0: at once).
   */
  beforeWatch(): number;
  /** The server accepted the watch (200) and the stream is open. */
  opened(): void;
}

export interface GuardedWatchOptions {
  /**
   * Each watch sends a timeoutSeconds between this and twice this: the server ends the watch
   * then and the informer re-watches (client-go spreads its watch timeouts the same way).
   */
  timeoutSeconds: number;
  timers: Timers;
  random: () => number;
}

type WatchCallback = (phase: string, apiObj: unknown, watchObj?: unknown) => void;
type DoneCallback = (err: unknown) => void;

/** A silent stream this long past its timeoutSeconds is taken for a dead connection. */
const DEAD_STREAM_GRACE_MS = 30_000;
/** stop() waits at most this long for a watch request that is still connecting. */
const CLOSE_WAIT_MS = 2_000;

function abortedController(): AbortController {
  const controller = new AbortController();
  controller.abort();
  return controller;
}

/**
 * A Watch that
 * - asks for bookmarks (fewer 410s on resume) and a server-side timeout (client-node sends
 *   neither: its own 30 s timeout signal is overwritten before use);
 * - aborts a stream that outlives that timeout, since the connection must be dead;
 * - lets the informer delay a re-watch (ListWatch re-watches at once after a clean end, which
 *   spins if a server or proxy keeps closing watches as soon as they open);
 * - after {@link close}, refuses new watches and aborts one that was connecting meanwhile
 *   (ListWatch.stop() cannot: the controller is stored only once the response arrives).
 */
export class GuardedWatch extends Watch {
  private closed = false;
  private active: AbortController | undefined;
  private connecting: Promise<unknown> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    config: KubeConfig,
    private readonly options: GuardedWatchOptions,
    private readonly hooks: WatchHooks,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: WatchCallback,
    done: DoneCallback,
  ): Promise<AbortController> {
    if (this.closed) return abortedController();
    const delayMs = this.hooks.beforeWatch();
    if (delayMs > 0) await this.sleep(delayMs);
    if (this.closed) return abortedController();
    const { timers, random } = this.options;
    const timeoutSeconds = Math.round(this.options.timeoutSeconds * (1 + random()));
    const params = { ...queryParams, allowWatchBookmarks: true, timeoutSeconds };
    let finished = false;
    let deadline: unknown;
    let deadReason: Error | undefined;
    let controller: AbortController | undefined;
    const onDone: DoneCallback = (err) => {
      if (finished) return;
      finished = true;
      if (deadline !== undefined) timers.clearTimeout(deadline);
      if (this.active === controller) this.active = undefined;
      done(deadReason ?? err);
    };
    const connecting = super.watch(path, params, callback, onDone);
    this.connecting = connecting;
    try {
      controller = await connecting;
    } catch (err) {
      // Only config.applyToFetchOptions throws (e.g. an exec credential plugin failed).
      onDone(err);
      return abortedController();
    } finally {
      if (this.connecting === connecting) this.connecting = undefined;
    }
    if (this.closed) {
      controller.abort();
    } else if (!finished) {
      this.active = controller;
      const live = controller;
      deadline = timers.setTimeout(() => {
        deadReason = new Error(`watch ${path} silent past its ${timeoutSeconds} s timeout`);
        live.abort();
      }, timeoutSeconds * 1000 + DEAD_STREAM_GRACE_MS);
      this.hooks.opened();
    }
    return controller;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.options.timers.setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        this.wake = undefined;
        this.options.timers.clearTimeout(handle);
        resolve();
      };
    });
  }

  /** Aborts the open watch, refuses new ones, and waits (briefly) for one still connecting. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.active?.abort();
    const connecting = this.connecting;
    if (!connecting) return;
    let timer: NodeJS.Timeout | undefined;
    const cap = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_WAIT_MS);
      timer.unref();
    });
    await Promise.race([connecting.then(() => undefined, () => undefined), cap]);
    clearTimeout(timer);
  }
}
