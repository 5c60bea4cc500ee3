// `skeinctl wait-ready`: poll a sidecar's /ready until it answers 200 or time runs out. Injected
// pods without native sidecars run it as the sidecar's postStart hook: the kubelet starts the
// next container only once the hook returns, so apps start with a working proxy.

export interface WaitReadyOptions {
  /** Admin API address: host:port or a URL. */
  admin: string;
  timeoutMs: number;
  /** Pause between attempts (default 200 ms). */
  intervalMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export type WaitReadyResult =
  | { ready: true; attempts: number; elapsedMs: number }
  | { ready: false; attempts: number; elapsedMs: number; last: string };

/** `127.0.0.1:15000` or `http://127.0.0.1:15000/` -> `http://127.0.0.1:15000/ready`. */
export function readyUrl(admin: string): string {
  const base = /^https?:\/\//.test(admin) ? admin : `http://${admin}`;
  return `${base.replace(/\/+$/, '')}/ready`;
}

/**
 * One attempt's limit. Not cut to the time left: an attempt with a few milliseconds would only
 * report its own abort instead of what the sidecar says, so the wait may overrun by up to this.
 */
const ATTEMPT_TIMEOUT_MS = 1000;

function describeFailure(err: unknown): string {
  if ((err as Error).name === 'TimeoutError') return `no answer within ${ATTEMPT_TIMEOUT_MS} ms`;
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? cause.message : (err as Error).message;
}

export async function waitReady(options: WaitReadyOptions): Promise<WaitReadyResult> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const get = options.fetch ?? fetch;
  const url = readyUrl(options.admin);
  const start = now();
  let attempts = 0;
  let last = 'no attempt';
  for (;;) {
    attempts++;
    try {
      const res = await get(url, { signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) });
      const body = (await res.text()).trim();
      if (res.status === 200) return { ready: true, attempts, elapsedMs: now() - start };
      last = `HTTP ${res.status}${body ? `: ${body.slice(0, 200)}` : ''}`;
    } catch (err) {
      last = describeFailure(err);
    }
    const elapsed = now() - start;
    if (elapsed >= options.timeoutMs) return { ready: false, attempts, elapsedMs: elapsed, last };
    await sleep(Math.min(options.intervalMs ?? 200, options.timeoutMs - elapsed));
  }
}
