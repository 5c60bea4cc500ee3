// Test support for the proxy suites: a Dataplane over a static map of service names to
// endpoints with a round-robin picker, plus small process and socket helpers. Not a test file
// itself (vitest only runs *.test.ts).
import { execFile } from 'node:child_process';
import { connect, isIP } from 'node:net';
import type { AttemptOutcome, Dataplane, Destination, PickResult, Picker, Target } from '../dataplane.js';

/** One endpoint as tests write it. */
export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

/** Round robin over fixed targets; skips excluded keys while others remain. */
class RoundRobinPicker implements Picker {
  private next = 0;
  private readonly picks: PickResult[];

  constructor(private readonly service: string, targets: readonly Target[]) {
    this.picks = targets.map((target) => ({ type: 'pick', target }));
  }

  get size(): number {
    return this.picks.length;
  }

  pick(exclude?: ReadonlySet<string>): PickResult {
    const n = this.picks.length;
    if (n === 0) {
      return { type: 'fail', error: { code: 'SKEIN_ERR_NO_ENDPOINT', message: `skein: service "${this.service}" has no ready endpoint`, status: 503 } };
    }
    for (let i = 0; i < n; i++) {
      const candidate = this.picks[(this.next + i) % n]!;
      if (candidate.type === 'pick' && exclude?.has(candidate.target.key) === true) continue;
      this.next = (this.next + i + 1) % n;
      return candidate;
    }
    const fallback = this.picks[this.next % n]!;
    this.next = (this.next + 1) % n;
    return fallback;
  }
}

/** Per-service request policy, as dataplane-core sets it from the MeshPolicy. */
export interface RequestPolicy {
  readonly retries?: number;
  readonly timeoutMs?: number;
}

interface ServiceEntry {
  readonly service: string;
  readonly picker: RoundRobinPicker;
  readonly policy: RequestPolicy;
}

/**
 * A Dataplane for tests. `set("web.demo", 80, endpoints)` makes `web.demo:80` a mesh service;
 * IP literals resolve `direct` (passthrough); other names are rejected as unknown, unless
 * registered with `later()`, which makes them known when `whenKnown` is first called for them
 * (an on-demand subscription the control plane answers).
 */
export class FakeDataplane implements Dataplane {
  readonly ready = true;
  readonly reports: Array<{ service: string; target: string; outcome: AttemptOutcome }> = [];
  readonly whenKnownCalls: string[] = [];
  private readonly services = new Map<string, ServiceEntry>();
  private readonly pending = new Map<string, () => void>();

  /** Makes `host:port` a service with these endpoints (replacing any previous ones). */
  set(host: string, port: number, endpoints: readonly Endpoint[], policy: RequestPolicy = {}): this {
    const targets = endpoints.map((e) => ({ address: e.address, port: e.port, key: `${e.address}:${e.port}` }));
    const service = `demo/${host.split('.')[0]}`;
    this.services.set(`${host}:${port}`, { service, picker: new RoundRobinPicker(service, targets), policy });
    return this;
  }

  /** Registers a service that only becomes known once someone waits for it. */
  later(host: string, port: number, endpoints: readonly Endpoint[]): this {
    this.pending.set(host, () => this.set(host, port, endpoints));
    return this;
  }

  resolve(host: string, port: number): Destination {
    const entry = this.services.get(`${host}:${port}`);
    if (entry !== undefined) {
      return { type: 'service', service: entry.service, servicePort: port, portName: 'http', appProtocol: 'http', picker: entry.picker, ...entry.policy };
    }
    if (isIP(host) !== 0 || host === 'localhost') return { type: 'direct', host, port, reason: 'passthrough' };
    return { type: 'reject', error: { code: 'SKEIN_ERR_UNKNOWN_SERVICE', message: `skein: unknown service "${host}"`, status: 503 } };
  }

  whenKnown(host: string, _timeoutMs: number): Promise<void> {
    this.whenKnownCalls.push(host);
    const register = this.pending.get(host);
    this.pending.delete(host);
    return new Promise((resolve) => setImmediate(() => {
      register?.();
      resolve();
    }));
  }

  report(service: string, target: Target, outcome: AttemptOutcome): void {
    this.reports.push({ service, target: target.key, outcome });
  }

  onChange(): () => void {
    return () => undefined;
  }
}

/** Result of a curl run. */
export interface CurlResult {
  /** Exit code (0 = success). */
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs /usr/bin/curl with `args` (add `-s`); never rejects. */
export function curl(args: readonly string[], input?: Buffer): Promise<CurlResult> {
  return new Promise((resolve) => {
    const child = execFile('/usr/bin/curl', ['-s', '-S', ...args], { maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Sends raw bytes to 127.0.0.1:port and resolves with everything read until the server closes. */
export function rawExchange(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(bytes);
  });
}

/** Polls `predicate` until true (the test timeout bounds the wait; nothing asserts timings). */
export async function waitFor(predicate: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; !predicate(); i++) {
    if (i > 2000) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A port on which nothing listens: bind one, note it, close it. */
export async function deadPort(address = '127.0.0.1'): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
