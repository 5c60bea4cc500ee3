import { describe, expect, it } from 'vitest';
import { encodeResource, TYPE_ENDPOINT_GROUP, TYPE_SERVICE, type EncodedResource, type ResourceType } from '@skein/protocol';
import { snapshotApi } from './snapshot-api.js';
import { MemorySnapshotStore, toStoredSnapshot } from './snapshot-store.js';

function published(version: string, services: Array<{ ns: string; name: string; ip: string }>) {
  const resources = new Map<ResourceType, Map<string, EncodedResource>>([[TYPE_SERVICE, new Map()], [TYPE_ENDPOINT_GROUP, new Map()]]);
  for (const s of services) {
    const name = `${s.ns}/${s.name}`;
    resources.get(TYPE_SERVICE)!.set(name, encodeResource(TYPE_SERVICE, name, { name, namespace: s.ns, clusterIps: [s.ip], ports: [{ port: 80 }] }));
    resources.get(TYPE_ENDPOINT_GROUP)!.set(name, encodeResource(TYPE_ENDPOINT_GROUP, name, { name, namespace: s.ns, service: s.name, endpoints: [{ address: '10.1.0.1', ready: true }] }));
  }
  return toStoredSnapshot({ version, createdAt: 0, resources });
}

describe('GET /v1/snapshot', () => {
  it('answers 503 before the first snapshot', async () => {
    const res = await snapshotApi(new MemorySnapshotStore()).request('/v1/snapshot');
    expect(res.status).toBe(503);
  });

  it('serves JSON with an ETag, 304 for If-None-Match, and filters by namespace', async () => {
    const store = new MemorySnapshotStore();
    store.publish(published('v1', [{ ns: 'a', name: 'web', ip: '10.0.0.1' }, { ns: 'b', name: 'db', ip: '10.0.0.2' }]));
    const app = snapshotApi(store);
    const res = await app.request('/v1/snapshot');
    expect(res.status).toBe(200);
    const body = await res.json() as { services: Array<{ name: string; resource: { clusterIps: string[] } }>; endpointGroups: unknown[] };
    expect(body.services.map((s) => s.name)).toEqual(['a/web', 'b/db']);
    expect(body.services[0]!.resource.clusterIps).toEqual(['10.0.0.1']);
    expect(body.endpointGroups).toHaveLength(2);
    const etag = res.headers.get('etag')!;
    expect((await app.request('/v1/snapshot', { headers: { 'if-none-match': etag } })).status).toBe(304);
    const onlyB = await (await app.request('/v1/snapshot?namespace=b')).json() as { services: Array<{ name: string }> };
    expect(onlyB.services.map((s) => s.name)).toEqual(['b/db']);
  });

  it('long-polls until the content changes, and ignores changes outside the filter', async () => {
    const store = new MemorySnapshotStore();
    store.publish(published('v1', [{ ns: 'a', name: 'web', ip: '10.0.0.1' }, { ns: 'b', name: 'db', ip: '10.0.0.2' }]));
    const app = snapshotApi(store);
    const etag = (await app.request('/v1/snapshot?namespace=a')).headers.get('etag')!;
    const pending = Promise.resolve(app.request('/v1/snapshot?namespace=a&wait=20s', { headers: { 'if-none-match': etag } }));
    let settled = false;
    void pending.then(() => { settled = true; });
    store.publish(published('v2', [{ ns: 'a', name: 'web', ip: '10.0.0.1' }, { ns: 'b', name: 'db', ip: '10.0.0.9' }]));
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    store.publish(published('v3', [{ ns: 'a', name: 'web', ip: '10.0.0.5' }, { ns: 'b', name: 'db', ip: '10.0.0.9' }]));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).not.toBe(etag);
  });

  it('answers 304 when the wait ends with no change, and 400 for a bad wait', async () => {
    const store = new MemorySnapshotStore();
    store.publish(published('v1', [{ ns: 'a', name: 'web', ip: '10.0.0.1' }]));
    const app = snapshotApi(store);
    const etag = (await app.request('/v1/snapshot')).headers.get('etag')!;
    expect((await app.request('/v1/snapshot?wait=50ms', { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await app.request('/v1/snapshot?wait=soon')).status).toBe(400);
  });
});
