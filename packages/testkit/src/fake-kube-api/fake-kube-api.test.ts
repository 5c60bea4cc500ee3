import { get, type ClientRequest } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FakeKubeApi } from './fake-kube-api.js';

interface Item {
  kind?: string;
  apiVersion?: string;
  metadata: { name: string; namespace?: string; uid?: string; creationTimestamp?: string; resourceVersion?: string };
}
interface Body {
  kind?: string;
  code?: number;
  reason?: string;
  major?: string;
  versions?: string[];
  groups?: Array<{ name: string }>;
  resources?: Array<{ name: string }>;
  metadata: { name?: string; namespace?: string; resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: Item[];
}

interface WireEvent {
  type: string;
  object: { kind?: string; code?: number; reason?: string; metadata?: { name?: string; resourceVersion?: string } };
}

const apis: FakeKubeApi[] = [];
async function startApi(options: Parameters<typeof FakeKubeApi.start>[0] = {}): Promise<FakeKubeApi> {
  const api = await FakeKubeApi.start(options);
  apis.push(api);
  return api;
}
afterEach(async () => {
  await Promise.all(apis.splice(0).map((a) => a.stop()));
});

async function getJson(api: FakeKubeApi, path: string): Promise<{ status: number; body: Body }> {
  const res = await fetch(api.url + path, { headers: { authorization: `Bearer ${api.token}` } });
  return { status: res.status, body: (await res.json()) as Body };
}

/** Opens a watch and collects its events until it ends or `close()` is called. */
function openWatch(api: FakeKubeApi, path: string) {
  const events: WireEvent[] = [];
  let request: ClientRequest | undefined;
  const ended = new Promise<void>((resolve, reject) => {
    request = get(api.url + path, { headers: { authorization: `Bearer ${api.token}` } }, (res) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buffer.slice(0, nl)) as WireEvent);
          buffer = buffer.slice(nl + 1);
        }
      });
      res.on('end', () => resolve());
      res.on('error', () => resolve());
    });
    request.on('error', reject);
  });
  return { events, ended, close: () => request?.destroy() };
}

async function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function service(name: string, namespace = 'default', labels: Record<string, string> = {}) {
  return { kind: 'Service', metadata: { name, namespace, labels }, spec: { ports: [{ port: 80 }] } };
}

describe('FakeKubeApi list', () => {
  it('lists with kind, apiVersion and a resourceVersion, filling object metadata', async () => {
    const api = await startApi({ objects: [service('a'), service('b', 'other')] });
    const { status, body } = await getJson(api, '/api/v1/services');
    expect(status).toBe(200);
    expect(body).toMatchObject({ kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: api.resourceVersion } });
    expect(body.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`)).toEqual(['default/a', 'other/b']);
    const item = body.items[0]!;
    expect(item).toMatchObject({ kind: 'Service', apiVersion: 'v1' });
    expect(item.metadata.uid).toEqual(expect.any(String));
    expect(item.metadata.creationTimestamp).toEqual(expect.any(String));
    expect(item.metadata.resourceVersion).toEqual(expect.any(String));
  });

  it('serves namespaced paths, single objects, cluster-scoped nodes and endpointslices', async () => {
    const api = await startApi({
      objects: [
        service('a'),
        service('b', 'other'),
        { kind: 'Node', metadata: { name: 'n1', namespace: 'ignored' } },
        { kind: 'EndpointSlice', metadata: { name: 'a-x', labels: { 'kubernetes.io/service-name': 'a' } }, addressType: 'IPv4' },
      ],
    });
    expect((await getJson(api, '/api/v1/namespaces/other/services')).body.items).toHaveLength(1);
    expect((await getJson(api, '/api/v1/namespaces/other/services/b')).body.metadata.name).toBe('b');
    expect((await getJson(api, '/api/v1/namespaces/default/services/b')).status).toBe(404);
    const nodes = await getJson(api, '/api/v1/nodes');
    expect(nodes.body.kind).toBe('NodeList');
    expect(nodes.body.items[0]!.metadata.namespace).toBeUndefined();
    const slices = await getJson(api, '/apis/discovery.k8s.io/v1/endpointslices');
    expect(slices.body).toMatchObject({ kind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1' });
    expect(slices.body.items[0]).toMatchObject({ apiVersion: 'discovery.k8s.io/v1', metadata: { namespace: 'default' } });
    expect((await getJson(api, '/api/v1/widgets')).status).toBe(404);
  });

  it('pages with limit and continue at a stable resourceVersion', async () => {
    const api = await startApi({ objects: ['a', 'b', 'c', 'd', 'e'].map((n) => service(n)) });
    const names: string[] = [];
    let path = '/api/v1/services?limit=2';
    const first = await getJson(api, path);
    const rv = first.body.metadata.resourceVersion;
    expect(first.body.metadata.remainingItemCount).toBe(3);
    api.create(service('f'));
    let page = first;
    for (;;) {
      names.push(...page.body.items.map((i) => i.metadata.name));
      expect(page.body.metadata.resourceVersion).toBe(rv);
      if (!page.body.metadata.continue) break;
      path = `/api/v1/services?limit=2&continue=${encodeURIComponent(page.body.metadata.continue)}`;
      page = await getJson(api, path);
    }
    expect(names).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
  });

  it('expires continue tokens older than the retained history with 410', async () => {
    const api = await startApi({ objects: [service('a'), service('b')] });
    const first = await getJson(api, '/api/v1/services?limit=1');
    api.update(service('a'));
    api.compactHistory();
    const next = await getJson(api, `/api/v1/services?limit=1&continue=${first.body.metadata.continue}`);
    expect(next.status).toBe(410);
    expect(next.body).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
  });

  it('filters by label and field selectors', async () => {
    const api = await startApi({
      objects: [service('a', 'default', { app: 'web', tier: 'fe' }), service('b', 'default', { app: 'web' }), service('c', 'default', { app: 'db' })],
    });
    const names = async (query: string) =>
      (await getJson(api, `/api/v1/services?${query}`)).body.items.map((i) => i.metadata.name);
    expect(await names('labelSelector=app%3Dweb')).toEqual(['a', 'b']);
    expect(await names('labelSelector=app%3D%3Dweb,tier!%3Dfe')).toEqual(['b']);
    expect(await names(`labelSelector=${encodeURIComponent('app in (db, other)')}`)).toEqual(['c']);
    expect(await names(`labelSelector=${encodeURIComponent('app notin (db),!tier')}`)).toEqual(['b']);
    expect(await names('labelSelector=tier')).toEqual(['a']);
    expect(await names('fieldSelector=metadata.name%3Dc')).toEqual(['c']);
    expect(await names('fieldSelector=metadata.name!%3Dc,metadata.namespace%3Ddefault')).toEqual(['a', 'b']);
    expect((await getJson(api, `/api/v1/services?labelSelector=${encodeURIComponent('a in b')}`)).status).toBe(400);
  });

  it('requires the bearer token, answers discovery, rejects writes', async () => {
    const api = await startApi();
    expect((await fetch(`${api.url}/api/v1/services`)).status).toBe(401);
    expect((await getJson(api, '/version')).body.major).toBe('1');
    expect((await getJson(api, '/api')).body.versions).toEqual(['v1']);
    expect((await getJson(api, '/apis')).body.groups?.[0]?.name).toBe('discovery.k8s.io');
    const core = (await getJson(api, '/api/v1')).body.resources?.map((r) => r.name);
    expect(core).toEqual(expect.arrayContaining(['services', 'endpoints', 'nodes', 'pods']));
    const post = await fetch(`${api.url}/api/v1/services`, { method: 'POST', headers: { authorization: `Bearer ${api.token}` } });
    expect(post.status).toBe(405);
  });

  it('injects failures and logs requests', async () => {
    const api = await startApi();
    api.failNext({ pathPrefix: '/api/v1/services', status: 500, count: 2 });
    expect((await getJson(api, '/api/v1/services')).status).toBe(500);
    expect((await getJson(api, '/api/v1/nodes')).status).toBe(200);
    expect((await getJson(api, '/api/v1/services?limit=5')).body).toMatchObject({ code: 500, reason: 'InternalError' });
    expect((await getJson(api, '/api/v1/services')).status).toBe(200);
    expect(api.requests.map((r) => r.path)).toEqual(['/api/v1/services', '/api/v1/nodes', '/api/v1/services', '/api/v1/services']);
    expect(api.requests[2]).toMatchObject({ method: 'GET', query: { limit: '5' }, watch: false });
  });

  it('renders a kubeconfig pointing at the server', async () => {
    const api = await startApi();
    const dir = await mkdtemp(join(tmpdir(), 'fake-kube-'));
    try {
      const config = parse(await readFile(await api.writeKubeconfig(dir), 'utf8'));
      expect(config.clusters[0].cluster).toEqual({ server: api.url, 'insecure-skip-tls-verify': true });
      expect(config.users[0].user.token).toBe(api.token);
      expect(config['current-context']).toBe('fake');
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

describe('FakeKubeApi watch', () => {
  it('sends the current state as ADDED without a resourceVersion, then live changes', async () => {
    const api = await startApi({ objects: [service('a')] });
    const watch = openWatch(api, '/api/v1/services?watch=true');
    await until(() => watch.events.length === 1);
    api.update(service('a', 'default', { v: '2' }));
    api.create(service('b', 'other'));
    api.delete('Service', 'default', 'a');
    await until(() => watch.events.length === 4);
    expect(watch.events.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['ADDED a', 'MODIFIED a', 'ADDED b', 'DELETED a']);
    expect(watch.events[3]!.object.metadata?.resourceVersion).toBe(api.resourceVersion);
    watch.close();
    await until(() => api.openWatches === 0);
  });

  it('resumes from a resourceVersion, filtered by namespace and labels', async () => {
    const api = await startApi({ objects: [service('a', 'default', { app: 'web' })] });
    const rv = api.resourceVersion;
    api.create(service('b', 'other', { app: 'web' }));
    api.create(service('c', 'default', { app: 'db' }));
    api.update(service('c', 'default', { app: 'web' }));
    api.update(service('a', 'default', { app: 'db' }));
    const watch = openWatch(api, `/api/v1/namespaces/default/services?watch=1&resourceVersion=${rv}&labelSelector=app%3Dweb`);
    await until(() => watch.events.length === 2);
    // c moved into the selection (ADDED), a moved out of it (DELETED).
    expect(watch.events.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['ADDED c', 'DELETED a']);
    watch.close();
  });

  it('answers a watch from a compacted resourceVersion with a 410 Expired ERROR and ends', async () => {
    const api = await startApi({ objects: [service('a')] });
    const rv = api.resourceVersion;
    api.update(service('a', 'default', { v: '2' }));
    api.compactHistory();
    const watch = openWatch(api, `/api/v1/services?watch=true&resourceVersion=${rv}`);
    await watch.ended;
    expect(watch.events).toEqual([
      { type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) },
    ]);
    // The current resourceVersion itself is still resumable.
    const fresh = openWatch(api, `/api/v1/services?watch=true&resourceVersion=${api.resourceVersion}`);
    await until(() => api.openWatches === 1);
    fresh.close();
  });

  it('expires resumes that fell out of a bounded history', async () => {
    const api = await startApi({ historyLimit: 2, objects: [service('a')] });
    const rv = api.resourceVersion;
    for (let i = 0; i < 3; i++) api.update(service('a', 'default', { i: String(i) }));
    const watch = openWatch(api, `/api/v1/services?watch=true&resourceVersion=${rv}`);
    await watch.ended;
    expect(watch.events[0]!.object.code).toBe(410);
  });

  it('sends bookmarks when allowed and honours timeoutSeconds', async () => {
    const api = await startApi({ bookmarkIntervalMs: 20, objects: [service('a')] });
    const watch = openWatch(api, `/api/v1/services?watch=true&resourceVersion=${api.resourceVersion}&allowWatchBookmarks=true&timeoutSeconds=1`);
    await until(() => watch.events.some((e) => e.type === 'BOOKMARK'));
    const bookmark = watch.events.find((e) => e.type === 'BOOKMARK')!;
    expect(bookmark.object).toEqual({ kind: 'Service', apiVersion: 'v1', metadata: { resourceVersion: api.resourceVersion } });
    await watch.ended;
    expect(api.openWatches).toBe(0);
    const plain = openWatch(api, `/api/v1/services?watch=true&resourceVersion=${api.resourceVersion}&timeoutSeconds=1`);
    await plain.ended;
    expect(plain.events.filter((e) => e.type === 'BOOKMARK')).toEqual([]);
  });

  it('drops and ends open watches on demand and injects failures on watches only', async () => {
    const api = await startApi();
    const a = openWatch(api, '/api/v1/services?watch=true');
    const b = openWatch(api, '/api/v1/nodes?watch=true');
    await until(() => api.openWatches === 2);
    api.dropWatches();
    await Promise.all([a.ended, b.ended]);
    expect(api.openWatches).toBe(0);
    const c = openWatch(api, '/api/v1/pods?watch=true');
    await until(() => api.openWatches === 1);
    api.dropWatches({ graceful: true });
    await c.ended;
    api.failNext({ watch: true, status: 503 });
    expect((await getJson(api, '/api/v1/pods')).status).toBe(200);
    const res = await fetch(`${api.url}/api/v1/pods?watch=true`, { headers: { authorization: `Bearer ${api.token}` } });
    expect(res.status).toBe(503);
    await res.text();
  });

  it('keeps objects across stop and restart on the same port', async () => {
    const api = await startApi({ objects: [service('a')] });
    const url = api.url;
    await api.stop();
    await expect(fetch(`${url}/version`)).rejects.toThrow();
    await api.restart();
    expect(api.url).toBe(url);
    expect((await getJson(api, '/api/v1/services')).body.items).toHaveLength(1);
  });
});
