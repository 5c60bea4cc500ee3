import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeKubeApi } from './fake-kube-api.js';
import { applyJsonPatch, applyMergePatch, PatchError } from './object-patch.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let api: FakeKubeApi;
beforeEach(async () => {
  api = await FakeKubeApi.start();
});
afterEach(async () => {
  await api.stop();
});

async function call(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${api.token}`, 'content-type': contentType },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

const LEASES = '/apis/coordination.k8s.io/v1/namespaces/skein-system/leases';
const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l1' }, spec: { holderIdentity: 'a' } };

describe('fake API writes', () => {
  it('creates with POST (201) and refuses a second create (409 AlreadyExists)', async () => {
    const created = await call('POST', LEASES, lease);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ kind: 'Lease', metadata: { name: 'l1', namespace: 'skein-system', resourceVersion: expect.any(String), uid: expect.any(String) } });
    expect(api.get('Lease', 'skein-system', 'l1')).toMatchObject({ spec: { holderIdentity: 'a' } });
    const again = await call('POST', LEASES, lease);
    expect(again).toMatchObject({ status: 409, body: { kind: 'Status', reason: 'AlreadyExists', code: 409 } });
    expect((await call('POST', LEASES, { ...lease, metadata: {} })).status).toBe(422);
    expect((await call('POST', LEASES, 'not json')).status).toBe(400);
  });

  it('updates with PUT only from the current resourceVersion (409 Conflict otherwise)', async () => {
    const created = (await call('POST', LEASES, lease)).body;
    const updated = await call('PUT', `${LEASES}/l1`, { ...created, spec: { holderIdentity: 'b' } });
    expect(updated.status).toBe(200);
    expect(Number(updated.body.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    expect(updated.body.metadata.uid).toBe(created.metadata.uid);
    const stale = await call('PUT', `${LEASES}/l1`, { ...created, spec: { holderIdentity: 'c' } });
    expect(stale).toMatchObject({ status: 409, body: { reason: 'Conflict', message: expect.stringContaining('the object has been modified') } });
    expect((await call('PUT', `${LEASES}/missing`, lease)).status).toBe(404);
  });

  it('patches with JSON patch and merge patch; a failed test op is 422', async () => {
    api.create({
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'inj' },
      webhooks: [{ name: 'pods.skein.io', clientConfig: { service: { name: 'cp' } } }],
    });
    const path = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/inj';
    const patched = await call('PATCH', path, [
      { op: 'test', path: '/webhooks/0/name', value: 'pods.skein.io' },
      { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: 'Q0E=' },
    ], 'application/json-patch+json');
    expect(patched.status).toBe(200);
    expect(patched.body.webhooks[0].clientConfig).toEqual({ service: { name: 'cp' }, caBundle: 'Q0E=' });
    const failed = await call('PATCH', path, [{ op: 'test', path: '/webhooks/0/name', value: 'other' }], 'application/json-patch+json');
    expect(failed).toMatchObject({ status: 422, body: { reason: 'Invalid' } });
    const merged = await call('PATCH', path, { metadata: { labels: { a: 'b' } } }, 'application/merge-patch+json');
    expect(merged.body.metadata).toMatchObject({ name: 'inj', labels: { a: 'b' } });
    expect((await call('PATCH', path, {}, 'application/apply-patch+yaml')).status).toBe(415);
  });

  it('deletes, and watches see every write', async () => {
    const events: string[] = [];
    const watch = await fetch(`${api.url}${LEASES}?watch=true`, { headers: { authorization: `Bearer ${api.token}` } });
    const reader = watch.body!.getReader();
    const created = (await call('POST', LEASES, lease)).body;
    await call('PUT', `${LEASES}/l1`, { ...created, spec: { holderIdentity: 'b' } });
    expect((await call('DELETE', `${LEASES}/l1`)).status).toBe(200);
    expect(api.get('Lease', 'skein-system', 'l1')).toBeUndefined();
    let text = '';
    while (events.length < 3) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
      events.splice(0, events.length, ...text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { type: string }).type));
    }
    expect(events).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    await reader.cancel();
  });

  it('still refuses writes to paths it does not serve', async () => {
    expect((await call('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {})).status).toBe(405);
  });
});

describe('object patches', () => {
  it('applies RFC 6902 operations without touching the input', () => {
    const doc = { a: [1, 2], b: { c: 'x' } };
    expect(applyJsonPatch(doc, [
      { op: 'add', path: '/a/-', value: 3 }, { op: 'add', path: '/a/0', value: 0 }, { op: 'replace', path: '/b/c', value: 'y' },
      { op: 'remove', path: '/a/1' }, { op: 'add', path: '/d~1e', value: true },
    ])).toEqual({ a: [0, 2, 3], b: { c: 'y' }, 'd/e': true });
    expect(doc).toEqual({ a: [1, 2], b: { c: 'x' } });
    expect(() => applyJsonPatch(doc, [{ op: 'replace', path: '/missing', value: 1 }])).toThrow(PatchError);
    expect(() => applyJsonPatch(doc, [{ op: 'add', path: '/a/5', value: 1 }])).toThrow(/out of range/);
    expect(() => applyJsonPatch(doc, [{ op: 'move', from: '/a', path: '/z' }])).toThrow(/not supported/);
  });

  it('applies RFC 7386 merge patches', () => {
    expect(applyMergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1] }, { a: null, b: { c: 5 }, l: [2] })).toEqual({ b: { c: 5, d: 3 }, l: [2] });
  });
});
