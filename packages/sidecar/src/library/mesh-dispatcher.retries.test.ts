// Library mode honours a Service's `skein.io/retries` (with the retry budget) and
// `skein.io/timeout` the way the sidecar's HTTP/1.1 proxy does (proxy/http-retries.test.ts):
// through undici.request (legacy handlers), compose() (controller handlers) and fetch, against
// in-process endpoints that answer 503, reset the connection, hang, stall mid-body, or answer 200.
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetch, request, type Dispatcher } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { LeastRequestPicker } from '../balancer/least-request.js';
import type { AttemptOutcome, Dataplane, Destination } from '../dataplane.js';
import { waitFor } from '../proxy/fake-dataplane.test-helper.js';
import { createMesh } from './create-mesh.js';
import { MeshDispatcher } from './mesh-dispatcher.js';
import { MeshError } from './mesh-error.js';
import { StaticDataplane, type StaticEntry } from './static-dataplane.js';

type Behaviour = 'ok' | '503' | 'reset' | 'hang' | 'stall';

interface Backend {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly server: Server;
  /** Requests received. */
  total: number;
  /** Responses held by a hanging or stalling backend, until released. */
  readonly held: ServerResponse[];
  /** Connections that carried a request and closed. */
  closed: number;
}

async function backend(behaviour: Behaviour, name: string): Promise<Backend> {
  const held: ServerResponse[] = [];
  const b = { name, address: '127.0.0.1', total: 0, held, closed: 0 } as Backend & { port: number; server: Server };
  b.server = createServer((req, res) => {
    b.total++;
    req.socket.once('close', () => b.closed++);
    req.resume();
    if (behaviour === 'ok') res.end(`ok ${name}`);
    else if (behaviour === '503') res.writeHead(503, { 'content-type': 'text/plain', 'x-backend': name }).end(`unavailable ${name}`);
    else if (behaviour === 'reset') req.socket.destroy();
    else if (behaviour === 'hang') held.push(res);
    else {
      // Half of the promised body, then silence.
      res.writeHead(200, { 'content-length': '10' }).write('half.');
      held.push(res);
    }
  });
  await new Promise<void>((resolve) => b.server.listen(0, '127.0.0.1', resolve));
  b.port = (b.server.address() as AddressInfo).port;
  return b;
}

const key = (b: Backend): string => `${b.address}:${b.port}`;

/** The code of `error` or of the first error in its `cause` chain that has one. */
function codeOf(error: unknown): string | undefined {
  for (let e = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

interface Seen {
  readonly events: string[];
  readonly body: string;
}

/** Sends GET `path` with a hand-written handler of `style`, recording what the caller hears. */
function dispatchRaw(dispatcher: Dispatcher, style: 'legacy' | 'controller', origin: string): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const events: string[] = [];
    let body = '';
    const legacy: Dispatcher.DispatchHandler = {
      onConnect: () => events.push('connect'),
      onHeaders: (status) => {
        events.push(`headers ${status}`);
        return true;
      },
      onData: (chunk) => {
        body += chunk.toString();
        return true;
      },
      onComplete: () => resolve({ events, body }),
      onError: reject,
    };
    const controller: Dispatcher.DispatchHandler = {
      onRequestStart: () => events.push('start'),
      onResponseStart: (_c, status) => events.push(`status ${status}`),
      onResponseData: (_c, chunk) => {
        body += chunk.toString();
      },
      onResponseEnd: () => resolve({ events, body }),
      onResponseError: (_c, error) => reject(error),
    };
    dispatcher.dispatch({ origin, path: '/', method: 'GET' }, style === 'legacy' ? legacy : controller);
  });
}

describe('MeshDispatcher: skein.io/retries, retry budget, skein.io/timeout', () => {
  const backends: Backend[] = [];
  const reports: string[] = [];
  let dispatcher: MeshDispatcher;

  const start = async (behaviour: Behaviour, name: string): Promise<Backend> => {
    const b = await backend(behaviour, name);
    backends.push(b);
    return b;
  };
  /** A dispatcher over `web.demo:80` = `endpoints` (round robin from the first) with `policy`. */
  const setup = (endpoints: readonly Backend[], policy: Omit<Extract<StaticEntry, { endpoints: unknown }>, 'endpoints'> = {}): void => {
    const entry = { endpoints: endpoints.map((b) => ({ address: b.address, port: b.port })), service: 'demo/web', ...policy };
    const dataplane = new StaticDataplane({ 'web.demo:80': entry }, { onReport: (_s, target, outcome) => reports.push(`${target.key} ${outcome}`) });
    dispatcher = new MeshDispatcher({ dataplane });
  };

  afterEach(async () => {
    for (const b of backends) for (const res of b.held.splice(0)) res.destroy();
    await dispatcher.close();
    reports.length = 0;
  });
  afterAll(async () => {
    for (const b of backends) {
      b.server.closeAllConnections();
      await new Promise<void>((resolve) => b.server.close(() => resolve()));
    }
  });

  it('retries a GET answered 503 on another endpoint (request, fetch, controller handlers)', async () => {
    const bad = await start('503', 'bad');
    const good = await start('ok', 'good');
    setup([bad, good], { retries: 1 });
    const res = await request('http://web.demo/', { dispatcher });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('ok good');
    expect([bad.total, good.total]).toEqual([1, 1]);
    expect(reports).toEqual([`${key(bad)} http-5xx`, `${key(good)} success`]);
    expect(dispatcher.retryBudget('demo/web')).toMatchObject({ active: 0, retrying: 0, exhausted: 0 });

    const fetched = await fetch('http://web.demo/', { dispatcher });
    expect([fetched.status, await fetched.text()]).toEqual([200, 'ok good']);
    const composed = dispatcher.compose((dispatch) => (opts, handler) => dispatch(opts, handler));
    const viaController = await request('http://web.demo/', { dispatcher: composed });
    expect([viaController.statusCode, await viaController.body.text()]).toEqual([200, 'ok good']);
    expect(dispatcher.retryBudget('demo/web')).toMatchObject({ active: 0, retrying: 0 });
  });

  it.each(['legacy', 'controller'] as const)('never lets the retried 503 reach a %s handler', async (style) => {
    const bad = await start('503', 'bad');
    const good = await start('ok', 'good');
    setup([bad, good], { retries: 2 });
    const seen = await dispatchRaw(dispatcher, style, 'http://web.demo');
    expect(seen).toEqual({ events: style === 'legacy' ? ['connect', 'headers 200'] : ['start', 'status 200'], body: 'ok good' });
    expect(bad.total).toBe(1);
  });

  it('passes the last 503 through, body included, once the retries are spent', async () => {
    const bads = [await start('503', 'bad1'), await start('503', 'bad2'), await start('503', 'bad3')];
    setup(bads, { retries: 1 });
    const res = await request('http://web.demo/', { dispatcher });
    expect(res.statusCode).toBe(503);
    const last = bads.find((b) => res.headers['x-backend'] === b.name)!;
    expect(await res.body.text()).toBe(`unavailable ${last.name}`);
    expect(bads.reduce((n, b) => n + b.total, 0)).toBe(2);
    expect(reports).toHaveLength(2);
    expect(reports.every((r) => r.endsWith(' http-5xx'))).toBe(true);
    expect(reports[1]).toBe(`${key(last)} http-5xx`);
  });

  it('passes a 503 through when retries is unset, or when no other endpoint is left', async () => {
    const bad = await start('503', 'bad');
    const good = await start('ok', 'good');
    setup([bad, good]);
    const res = await request('http://web.demo/', { dispatcher });
    expect([res.statusCode, await res.body.text()]).toEqual([503, 'unavailable bad']);
    expect([bad.total, good.total]).toEqual([1, 0]);
    await dispatcher.close();

    const only = await start('503', 'only');
    setup([only], { retries: 3 });
    const alone = await request('http://web.demo/', { dispatcher });
    expect([alone.statusCode, await alone.body.text()]).toEqual([503, 'unavailable only']);
    expect(only.total).toBe(1);
  });

  it('never retries a POST, nor a request with a body', async () => {
    const bad = await start('503', 'bad');
    const good = await start('ok', 'good');
    setup([bad, good], { retries: 2 });
    const post = await request('http://web.demo/', { dispatcher, method: 'POST', body: 'payload' });
    expect([post.statusCode, await post.body.text()]).toEqual([503, 'unavailable bad']);
    const next = await request('http://web.demo/', { dispatcher, method: 'POST' }); // round robin: the good one
    expect(next.statusCode).toBe(200);
    await next.body.text();
    const bare = await request('http://web.demo/', { dispatcher, method: 'POST' });
    expect([bare.statusCode, await bare.body.text()]).toEqual([503, 'unavailable bad']);
    await (await request('http://web.demo/', { dispatcher })).body.text(); // good again
    // PUT is idempotent, but its body has been sent to the failed endpoint.
    const put = await request('http://web.demo/', { dispatcher, method: 'PUT', body: 'state' });
    expect([put.statusCode, await put.body.text()]).toEqual([503, 'unavailable bad']);
    expect(bad.total).toBe(3);
  });

  it('retries a GET whose connection is reset before any response byte', async () => {
    const reset = await start('reset', 'reset');
    const good = await start('ok', 'good');
    setup([reset, good], { retries: 2 });
    const res = await request('http://web.demo/', { dispatcher });
    expect([res.statusCode, await res.body.text()]).toEqual([200, 'ok good']);
    expect(reports).toEqual([`${key(reset)} reset`, `${key(good)} success`]);
    await dispatcher.close();
    reports.length = 0;

    // Without the policy, the reset is the caller's error.
    setup([reset, good]);
    const error = await request('http://web.demo/', { dispatcher }).catch((e: unknown) => e);
    expect(['UND_ERR_SOCKET', 'ECONNRESET']).toContain(codeOf(error));
    expect(reports).toEqual([`${key(reset)} reset`]);
  });

  it('stops retrying once retrying requests reach the budget (at least 3, else 20% of active)', async () => {
    const bad = await start('503', 'bad');
    const hang = await start('hang', 'hang');
    setup([bad, hang], { retries: 1 });
    const budget = dispatcher.retryBudget('demo/web');
    // 20 requests at once: round robin sends 10 to `bad`, 10 to `hang` (held). Each 503 wants a
    // retry on `hang`, where it is held too: with 20 active, max(3, 20% of 20) = 4 may retry.
    const statuses: number[] = [];
    const pending = Array.from({ length: 20 }, async () => {
      const res = await request('http://web.demo/', { dispatcher });
      statuses.push(res.statusCode);
      return res.body.text();
    });
    await waitFor(() => hang.held.length === 14 && statuses.length === 6, 'retries held, the rest answered');
    expect(statuses).toEqual([503, 503, 503, 503, 503, 503]);
    expect(budget).toMatchObject({ retrying: 4, exhausted: 6 });
    for (const res of hang.held) res.end('ok hang');
    const bodies = await Promise.all(pending);
    expect(bodies.filter((b) => b === 'ok hang')).toHaveLength(14);
    expect([bad.total, hang.total]).toEqual([10, 14]);
    expect(budget).toMatchObject({ active: 0, retrying: 0, exhausted: 6 });
  });

  it('fails with SKEIN_ERR_TIMEOUT when no response comes in time, and does not retry', async () => {
    const slow = await start('hang', 'slow');
    const other = await start('hang', 'other');
    setup([slow, other], { retries: 2, timeoutMs: 300 });
    const error = await request('http://web.demo/', { dispatcher }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MeshError);
    expect(error).toMatchObject({ code: 'SKEIN_ERR_TIMEOUT', status: 504 });
    expect((error as Error).message).toBe('skein: request to web.demo:80 (service demo/web) timed out after 300 ms');
    await waitFor(() => slow.closed === 1, 'the attempt aborted');
    expect(reports).toEqual([`${key(slow)} timeout`]);
    expect(other.total).toBe(0);
    expect(dispatcher.retryBudget('demo/web').active).toBe(0);

    // Controller-style handlers (compose) and fetch time out the same way.
    const composed = dispatcher.compose((dispatch) => (opts, handler) => dispatch(opts, handler));
    await expect(request('http://web.demo/', { dispatcher: composed })).rejects.toMatchObject({ code: 'SKEIN_ERR_TIMEOUT' });
    const fetchError = await fetch('http://web.demo/', { dispatcher }).catch((e: unknown) => e);
    expect(fetchError).toBeInstanceOf(TypeError);
    expect((fetchError as TypeError).cause).toMatchObject({ code: 'SKEIN_ERR_TIMEOUT' });
    expect(reports.filter((r) => r.endsWith(' timeout'))).toHaveLength(3);
  });

  it('times out a response body that stalls mid-way (request and mesh.fetch)', async () => {
    const stall = await start('stall', 'stall');
    setup([stall], { timeoutMs: 300 });
    const res = await request('http://web.demo/', { dispatcher });
    expect(res.statusCode).toBe(200);
    const error = await res.body.text().catch((e: unknown) => e);
    expect(codeOf(error)).toBe('SKEIN_ERR_TIMEOUT');
    expect(reports).toEqual([`${key(stall)} timeout`]);

    const mesh = createMesh({ dataplane: dispatcher.dataplane });
    try {
      const fetched = await mesh.fetch('http://web.demo/');
      expect(fetched.status).toBe(200);
      const fetchError = await fetched.text().catch((e: unknown) => e);
      expect(codeOf(fetchError)).toBe('SKEIN_ERR_TIMEOUT');
    } finally {
      await mesh.close();
    }
  });

  it('clears the overall timer when the response completes in time', async () => {
    const good = await start('ok', 'fast');
    setup([good], { timeoutMs: 60_000, retries: 1 });
    // Warm the pooled connection first, so only the request's own timer could differ.
    await (await request('http://web.demo/', { dispatcher })).body.text();
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const res = await request('http://web.demo/', { dispatcher });
    expect(await res.body.text()).toBe('ok fast');
    expect(timers()).toBe(before);
    expect(dispatcher.retryBudget('demo/web').active).toBe(0);
  });

  it('ends a request the caller aborts: no retry, no timeout, budget released', async () => {
    const slow = await start('hang', 'slow');
    const other = await start('ok', 'other');
    setup([slow, other], { retries: 2, timeoutMs: 60_000 });
    const controller = new AbortController();
    const pending = request('http://web.demo/', { dispatcher, signal: controller.signal }).catch((e: unknown) => e);
    await waitFor(() => slow.held.length === 1, 'request held');
    controller.abort();
    expect((await pending as Error).name).toBe('AbortError');
    await waitFor(() => slow.closed === 1, 'the attempt aborted');
    expect(other.total).toBe(0);
    // The caller gave up, not the endpoint: nothing for passive health (as in the sidecar).
    expect(reports).toEqual([]);
    expect(dispatcher.retryBudget('demo/web').active).toBe(0);
  });

  it('keeps least-request counts balanced across retries and timeouts', async () => {
    const bad = await start('503', 'bad');
    const good = await start('ok', 'good');
    const slow = await start('hang', 'slow');
    const picker = new LeastRequestPicker([bad, good].map((b) => ({ address: b.address, port: b.port, weight: 1 })), Math.random);
    const slowPicker = new LeastRequestPicker([{ address: slow.address, port: slow.port, weight: 1 }], Math.random);
    const outstanding = (): number => [bad, good, slow].reduce((n, b) => n + picker.outstandingOf(key(b)) + slowPicker.outstandingOf(key(b)), 0);
    const destinations: Record<string, Destination> = {
      web: { type: 'service', service: 'demo/web', servicePort: 80, portName: 'http', appProtocol: 'http', picker, retries: 1 },
      slow: { type: 'service', service: 'demo/slow', servicePort: 80, portName: 'http', appProtocol: 'http', picker: slowPicker, timeoutMs: 300 },
    };
    const outcomes: AttemptOutcome[] = [];
    const dataplane: Dataplane = {
      ready: true,
      resolve: (host) => destinations[host.split('.')[0]!]!,
      whenKnown: () => Promise.resolve(),
      report: (_s, _t, outcome) => outcomes.push(outcome),
      onChange: () => () => undefined,
    };
    dispatcher = new MeshDispatcher({ dataplane });
    const bodies = await Promise.all(Array.from({ length: 10 }, async () => (await request('http://web.demo/', { dispatcher })).body.text()));
    expect(bodies).toEqual(Array.from({ length: 10 }, () => 'ok good'));
    await expect(request('http://slow.demo/', { dispatcher })).rejects.toMatchObject({ code: 'SKEIN_ERR_TIMEOUT' });
    await waitFor(() => outstanding() === 0, 'outstanding back to zero');
    expect(outcomes.filter((o) => o === 'success')).toHaveLength(10);
    expect(outcomes.filter((o) => o === 'http-5xx')).toHaveLength(bad.total);
    expect(outcomes.filter((o) => o === 'timeout')).toHaveLength(1);
  });
});
