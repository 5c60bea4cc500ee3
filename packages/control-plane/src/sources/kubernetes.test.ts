// Real client-node informers against @skein/testkit's fake API server.
import { FakeKubeApi, type StoredObject } from '@skein/testkit';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { refKey, type KubeObject } from '../model/kube-objects.js';
import { KubernetesSource, type KubernetesSourceOptions } from './kubernetes.js';
import type { SourceEvent } from './source.js';
import { SYSTEM_TIMERS, type Timers } from './timers.js';

const FAST_BACKOFF = { initialMs: 20, maxMs: 200, resetAfterMs: 60_000 };

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startApi(objects: StoredObject[] = []): Promise<FakeKubeApi> {
  const api = await FakeKubeApi.start({ objects });
  cleanups.push(() => api.stop());
  return api;
}

/** A started source and what it said: every event, and the objects it describes now. */
async function startSource(api: FakeKubeApi, options: KubernetesSourceOptions = {}) {
  const events: SourceEvent[] = [];
  const objects = new Map<string, KubeObject>();
  const source = new KubernetesSource({ kubeconfig: { yaml: api.kubeconfig() }, backoff: FAST_BACKOFF, ...options });
  await source.start((event) => {
    events.push(event);
    if (event.type === 'upsert') {
      const meta = event.object.metadata!;
      objects.set(refKey({ kind: event.kind, namespace: meta.namespace ?? '', name: meta.name! }), event.object);
    } else if (event.type === 'delete') {
      objects.delete(refKey(event.ref));
    }
  });
  cleanups.push(() => source.stop());
  return { source, events, objects, synced: () => events.some((e) => e.type === 'synced') };
}

async function until(predicate: () => boolean, what = 'condition', timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function service(name: string, namespace = 'default', port = 80) {
  return { kind: 'Service', apiVersion: 'v1', metadata: { name, namespace }, spec: { ports: [{ name: 'http', port }] } };
}
const slice = (name: string, namespace = 'default') => ({
  kind: 'EndpointSlice',
  metadata: { name, namespace, labels: { 'kubernetes.io/service-name': name.split('-')[0]! } },
  addressType: 'IPv4',
  endpoints: [{ addresses: ['10.0.0.1'], hints: { forNodes: [{ name: 'n1' }] } }],
  ports: [{ name: 'http', port: 8080 }],
});
const node = (name: string) => ({ kind: 'Node', metadata: { name, labels: { 'topology.kubernetes.io/zone': 'z1' } } });
const endpoints = (name: string, namespace = 'default') => ({
  kind: 'Endpoints',
  metadata: { name, namespace },
  subsets: [{ addresses: [{ ip: '10.0.0.9' }], ports: [{ port: 9000 }] }],
});

const retries = (events: SourceEvent[], kind: string) =>
  events.filter((e) => e.type === 'status' && e.state === 'retrying' && e.detail?.startsWith(kind)).length;

describe('KubernetesSource', () => {
  it('delivers every kind, then synced once, keeping namespaces and plain JSON', async () => {
    const api = await startApi([service('web'), service('api', 'team-a'), slice('web-abc'), node('n1'), endpoints('legacy', 'team-a')]);
    const { events, objects, synced } = await startSource(api);
    await until(synced, 'synced');
    const syncedAt = events.findIndex((e) => e.type === 'synced');
    expect(events.slice(0, syncedAt).filter((e) => e.type === 'upsert')).toHaveLength(5);
    expect([...objects.keys()].sort()).toEqual([
      'EndpointSlice/default/web-abc', 'Endpoints/team-a/legacy', 'Node//n1', 'Service/default/web', 'Service/team-a/api',
    ]);
    const teamService = objects.get('Service/team-a/api')!;
    expect(teamService).toMatchObject({ kind: 'Service', apiVersion: 'v1', metadata: { namespace: 'team-a' } });
    expect(typeof (teamService.metadata as { creationTimestamp?: unknown }).creationTimestamp).toBe('string');
    // Fields are passed through as the API wrote them, including ones newer than client models.
    expect(objects.get('EndpointSlice/default/web-abc')).toMatchObject({
      apiVersion: 'discovery.k8s.io/v1',
      endpoints: [{ hints: { forNodes: [{ name: 'n1' }] } }],
    });
    expect(objects.get('Node//n1')!.metadata).not.toHaveProperty('namespace');
    expect(events.filter((e) => e.type === 'status')).toEqual([{ type: 'status', state: 'connected' }]);
    // Pods are not watched by default.
    expect(api.requests.some((r) => r.path.includes('pods'))).toBe(false);

    api.create(service('late'));
    await until(() => objects.has('Service/default/late'), 'late service');
    expect(events.filter((e) => e.type === 'synced')).toHaveLength(1);
  });

  it('lists in pages', async () => {
    const api = await startApi(['a', 'b', 'c', 'd', 'e'].map((name) => service(name)));
    const { objects, synced } = await startSource(api, { pageSize: 2 });
    await until(synced, 'synced');
    expect([...objects.keys()].filter((k) => k.startsWith('Service/'))).toHaveLength(5);
    const pages = api.requests.filter((r) => r.path === '/api/v1/services' && !r.watch);
    expect(pages.map((r) => r.query.limit)).toEqual(['2', '2', '2']);
    expect(pages.filter((r) => r.query.continue)).toHaveLength(2);
  });

  it('propagates adds, modifications and deletes, Pods included when asked', async () => {
    const api = await startApi([service('web')]);
    const { events, objects, synced } = await startSource(api, { watchPods: true });
    await until(synced, 'synced');
    api.create(service('new', 'team-b'));
    api.update(service('web', 'default', 8080));
    api.create({ kind: 'Pod', metadata: { name: 'p1', namespace: 'team-b' }, status: { podIP: '10.1.0.1' } });
    api.delete('Service', 'default', 'web');
    api.create(node('n2'));
    api.delete('Node', undefined, 'n2');
    const changes = () => events.slice(events.findIndex((e) => e.type === 'synced') + 1);
    // Kinds are separate watches, so only the order within a kind is the API's order.
    const of = (kind: string) =>
      changes().flatMap((e) =>
        e.type === 'upsert' && e.kind === kind
          ? [`upsert ${e.object.metadata?.namespace ?? ''}/${e.object.metadata?.name}`]
          : e.type === 'delete' && e.ref.kind === kind
            ? [`delete ${e.ref.namespace}/${e.ref.name}`]
            : [],
      );
    await until(() => of('Service').length === 3 && of('Node').length === 2 && of('Pod').length === 1, 'changes');
    expect(of('Service')).toEqual(['upsert team-b/new', 'upsert default/web', 'delete default/web']);
    expect(of('Node')).toEqual(['upsert /n2', 'delete /n2']);
    expect(of('Pod')).toEqual(['upsert team-b/p1']);
    expect(changes()).toContainEqual({
      type: 'upsert',
      kind: 'Service',
      origin: 'kubernetes',
      object: expect.objectContaining({ spec: { ports: [{ name: 'http', port: 8080 }] } }),
    });
    expect(objects.has('Service/default/web')).toBe(false);
  });

  it('dates watch events by their arrival, and the initial list not at all (for push latency)', async () => {
    const api = await startApi([service('web')]);
    let time = 1_000;
    const timers: Timers = { ...SYSTEM_TIMERS, now: () => time };
    const seen: Array<[string, number | undefined]> = [];
    const source = new KubernetesSource({ kubeconfig: { yaml: api.kubeconfig() }, backoff: FAST_BACKOFF, timers });
    cleanups.push(() => source.stop());
    await source.start((event, seenAt) => seen.push([event.type === 'upsert' ? `upsert ${event.object.metadata?.name}` : event.type, seenAt]));
    await until(() => seen.some(([type]) => type === 'synced'), 'synced');
    expect(seen.find(([type]) => type === 'upsert web')).toEqual(['upsert web', undefined]);
    time = 2_000;
    api.create(service('new'));
    api.delete('Service', 'default', 'web');
    await until(() => seen.some(([type]) => type === 'delete'), 'the delete');
    expect(seen.filter(([type]) => type === 'upsert new' || type === 'delete')).toEqual([['upsert new', 2_000], ['delete', 2_000]]);
  });

  it('watches one namespace when configured (Nodes stay cluster-wide)', async () => {
    const api = await startApi([service('a', 'team-a'), service('b', 'team-b'), node('n1')]);
    const { objects, synced } = await startSource(api, { namespace: 'team-a' });
    await until(synced, 'synced');
    expect([...objects.keys()].sort()).toEqual(['Node//n1', 'Service/team-a/a']);
    expect(api.requests.some((r) => r.path === '/api/v1/namespaces/team-a/services' && r.watch)).toBe(true);
  });

  it.each([
    ['cut', false],
    ['ended cleanly', true],
  ])('relists after watches are %s and history compacted, reporting deletes missed in the gap', async (_, graceful) => {
    const api = await startApi([service('keep'), service('gone'), service('changed'), node('n1')]);
    const { objects, synced } = await startSource(api);
    await until(synced, 'synced');
    await until(() => api.openWatches === 4, 'watches open');
    const rvBefore = api.resourceVersion;
    const requestsBefore = api.requests.length;
    // In one tick: the client cannot see these changes on the connection being dropped.
    api.dropWatches({ graceful });
    api.delete('Service', 'default', 'gone');
    api.update(service('changed', 'default', 9090));
    api.create(service('born'));
    api.delete('Node', undefined, 'n1');
    api.compactHistory();
    await until(
      () => !objects.has('Service/default/gone') && objects.has('Service/default/born') && !objects.has('Node//n1'),
      'convergence',
    );
    expect(objects.get('Service/default/changed')).toMatchObject({ spec: { ports: [{ port: 9090 }] } });
    // The resume from the old resourceVersion got 410 Expired, and the informer relisted.
    const after = api.requests.slice(requestsBefore).filter((r) => r.path === '/api/v1/services');
    const resumed = after.findIndex((r) => r.watch && r.query.resourceVersion === rvBefore);
    expect(resumed).toBeGreaterThanOrEqual(0);
    expect(after.slice(resumed).some((r) => !r.watch)).toBe(true);
    api.create(service('after'));
    await until(() => objects.has('Service/default/after'), 'watching again');
  });

  it('restarts with backoff after a 500 on watch and recovers', async () => {
    const api = await startApi([service('web')]);
    const { events, objects, synced } = await startSource(api);
    await until(synced, 'synced');
    await until(() => api.openWatches === 4, 'watches open');
    api.failNext({ pathPrefix: '/api/v1/services', watch: true, status: 500, count: 3 });
    api.dropWatches();
    api.create(service('during'));
    await until(() => objects.has('Service/default/during'), 'recovery');
    expect(retries(events, 'Service')).toBeGreaterThanOrEqual(3);
    const lastRetry = events.findLastIndex((e) => e.type === 'status' && e.state === 'retrying');
    await until(() => events.slice(lastRetry).some((e) => e.type === 'status' && e.state === 'connected'), 'connected again');
  });

  it('retries a failing first list with growing delays, then syncs; a long healthy period resets the backoff', async () => {
    const api = await startApi([node('n1')]);
    let now = 0;
    const timers: Timers = {
      now: () => now,
      // Retry delays shrink to 1 ms: the test checks the policy (in status details), not the clock.
      setTimeout: (callback, ms) => setTimeout(callback, ms > 10_000 ? ms : 1),
      clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    };
    api.failNext({ pathPrefix: '/api/v1/nodes', watch: false, status: 500, count: 3 });
    const { events, objects, synced } = await startSource(api, {
      timers,
      random: () => 0.5,
      backoff: { initialMs: 200, maxMs: 30_000, resetAfterMs: 60_000 },
    });
    await until(synced, 'synced');
    expect(objects.has('Node//n1')).toBe(true);
    expect(retries(events, 'Node')).toBe(3);
    const nodeDelays = () =>
      events.flatMap((e) => (e.type === 'status' && e.detail?.startsWith('Node') ? [Number(/retrying in (\d+) ms/.exec(e.detail)?.[1])] : []));
    expect(nodeDelays()).toEqual([150, 300, 600]);
    expect(api.requests.filter((r) => r.path === '/api/v1/nodes' && !r.watch)).toHaveLength(4);

    now += 60_000;
    api.failNext({ pathPrefix: '/api/v1/nodes', watch: true, status: 503 });
    api.dropWatches();
    await until(() => retries(events, 'Node') >= 4, 'fourth retry');
    expect(nodeDelays()[3]).toBe(150); // 1200 without the reset
  });

  it('backs off when watches keep ending as soon as they open', async () => {
    const api = await startApi([service('web')]);
    // A clock that never moves: every watch looks like it ended at once.
    const timers: Timers = { ...SYSTEM_TIMERS, now: () => 0 };
    const { events, objects, synced } = await startSource(api, { timers });
    await until(synced, 'synced');
    await until(() => api.openWatches === 4, 'watches open');
    api.dropWatches({ graceful: true });
    await until(() => retries(events, 'Service') === 1, 'retry');
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'status', state: 'retrying', detail: expect.stringContaining('ended right after it opened') }),
    );
    api.create(service('later'));
    await until(() => objects.has('Service/default/later'), 'watching again');
  });

  it('aborts a watch that outlives its timeout (a dead connection) and watches again', async () => {
    const api = await startApi([service('web')]);
    // Long timers (the dead-stream deadline) fire after 50 ms.
    const timers: Timers = { ...SYSTEM_TIMERS, setTimeout: (callback, ms) => setTimeout(callback, ms >= 30_000 ? 50 : ms) };
    const { events, objects, synced } = await startSource(api, { timers });
    await until(synced, 'synced');
    await until(() => events.some((e) => e.type === 'status' && e.detail?.includes('silent past its')), 'watchdog');
    api.create(service('later'));
    await until(() => objects.has('Service/default/later'), 'watching again');
  });

  it('starts while the API server is down, retries, and syncs once it is up', async () => {
    const api = await startApi([service('web'), node('n1')]);
    await api.stop();
    const { events, objects, synced } = await startSource(api);
    await until(() => retries(events, 'Service') >= 2 && retries(events, 'Node') >= 2, 'retries');
    expect(synced()).toBe(false);
    await api.restart();
    await until(synced, 'synced');
    expect(objects.has('Service/default/web')).toBe(true);
    expect(events.at(-1)).toEqual({ type: 'synced' });
    expect(events.at(-2)).toEqual({ type: 'status', state: 'connected' });
  });

  it('loads a kubeconfig file and never crashes on a throwing sink', async () => {
    const api = await startApi([service('bad'), service('good')]);
    const dir = await mkdtemp(join(tmpdir(), 'skein-kube-'));
    cleanups.push(() => rm(dir, { recursive: true }));
    const events: SourceEvent[] = [];
    const source = new KubernetesSource({ kubeconfig: { path: await api.writeKubeconfig(dir) }, backoff: FAST_BACKOFF });
    cleanups.push(() => source.stop());
    await source.start((event) => {
      if (event.type === 'upsert' && event.object.metadata?.name === 'bad') throw new Error('boom');
      events.push(event);
    });
    await until(() => events.some((e) => e.type === 'synced'), 'synced');
    expect(events).toContainEqual(expect.objectContaining({ type: 'invalid', ref: { kind: 'Service', namespace: 'default', name: 'bad' } }));
    expect(events).toContainEqual(expect.objectContaining({ type: 'upsert', object: expect.objectContaining({ metadata: expect.objectContaining({ name: 'good' }) }) }));
  });

  it('stop() closes every connection and timer and delivers nothing afterwards', async () => {
    const baseline = countResources();
    const api = await startApi([service('web')]);
    const { source, events, synced } = await startSource(api, { watchPods: true });
    await until(synced, 'synced');
    await until(() => api.openWatches === 5, 'watches open');
    await source.stop();
    await until(() => api.openConnections === 0, 'connections closed');
    const count = events.length;
    api.create(service('after-stop'));
    api.dropWatches();
    await api.stop();
    await until(() => sameResources(countResources(), baseline), 'no leaked handles');
    expect(events).toHaveLength(count);
  });

  it('stop() while retrying against a down server leaves no timers', async () => {
    const baseline = countResources();
    const api = await startApi();
    await api.stop();
    const { source, events } = await startSource(api, { backoff: { initialMs: 50, maxMs: 50, resetAfterMs: 1000 } });
    await until(() => retries(events, 'Service') >= 2, 'retries');
    await source.stop();
    const count = events.length;
    await until(() => sameResources(countResources(), baseline), 'no leaked handles');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(events).toHaveLength(count);
  });

  it('throws at start for an unreadable kubeconfig (configuration, not connectivity)', async () => {
    const source = new KubernetesSource({ kubeconfig: { path: '/nonexistent/kubeconfig' } });
    await expect(source.start(() => undefined)).rejects.toThrow();
  });
});

function countResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

/** Sockets and timers back to (at most) the baseline. */
function sameResources(now: Record<string, number>, baseline: Record<string, number>): boolean {
  return ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'].every((k) => (now[k] ?? 0) <= (baseline[k] ?? 0));
}
