// Runs a Skein binary as a real child process for process-level tests: waits for its
// "listening" log line, keeps its output for assertions, and never leaves it running.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface SpawnedProcess {
  readonly child: ChildProcess;
  /** Parsed JSON log lines (non-JSON lines are kept as { raw }). */
  readonly lines: Array<Record<string, unknown>>;
  /** The fields of the first log line whose msg is "listening". */
  readonly listening: Record<string, unknown>;
  /** Resolves with the first line matching `predicate`, waiting up to `timeoutMs`. */
  waitForLine(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends `signal` (default SIGTERM) and resolves with the exit code once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export async function spawnProcess(
  script: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; waitFor?: string; execArgv?: string[] } = {},
): Promise<SpawnedProcess> {
  // execArgv: node's own flags (--cpu-prof for benchmarks), which NODE_OPTIONS may not carry.
  const child = spawn(process.execPath, [...(options.execArgv ?? []), script, ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const lines: Array<Record<string, unknown>> = [];
  const watchers = new Set<() => void>();
  const onLine = (text: string): void => {
    let parsed: Record<string, unknown>;
    try {
      const value: unknown = JSON.parse(text);
      parsed = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : { raw: text };
    } catch {
      parsed = { raw: text };
    }
    lines.push(parsed);
    for (const watcher of [...watchers]) watcher();
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', (text) => onLine(text));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    live.delete(child);
    for (const watcher of [...watchers]) watcher();
    resolve(code);
  }));

  const waitForLine = (predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.find(predicate);
        if (found) {
          finish();
          resolve(found);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          finish();
          reject(new Error(`process exited (${child.exitCode ?? child.signalCode}) before the expected line; output:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a line; output:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        watchers.delete(check);
      };
      watchers.add(check);
      check();
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    try {
      return await exited;
    } finally {
      clearTimeout(killer);
    }
  };

  const waitFor = options.waitFor ?? 'listening';
  let listening: Record<string, unknown>;
  try {
    listening = await waitForLine((line) => line.msg === waitFor, options.timeoutMs ?? 20_000);
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
  return { child, lines, listening, waitForLine, stop, exited };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
