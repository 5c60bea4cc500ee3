import { readFileSync } from 'node:fs';
import jsonpatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import type { InjectionSettings } from './injector.js';
import { webhookApp, type InjectionOutcome } from './webhook-app.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const fixture = (file: string): string => readFileSync(new URL(`./testdata/${file}`, import.meta.url), 'utf8');

const settings: InjectionSettings = {
  image: 'ghcr.io/skein-mesh/skein:0.1.0',
  controlPlane: 'skein-control-plane.skein-system.svc:15010',
  native: true,
  skipNamespaces: ['skein-system', 'kube-system'],
  version: '0.1.0',
};

function setUp(overrides: Partial<InjectionSettings> = {}) {
  const outcomes: InjectionOutcome[] = [];
  const app = webhookApp({ settings: { ...settings, ...overrides }, log: createLogger('silent'), onOutcome: (o) => outcomes.push(o) });
  const post = async (body: string, path = '/inject') => {
    const res = await app.request(path, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    return { status: res.status, body: (await res.json()) as Json };
  };
  return { outcomes, post };
}

function applyResponse(review: Json, response: Json): Json {
  const patch = JSON.parse(Buffer.from(response.patch as string, 'base64').toString('utf8'));
  return jsonpatch.applyPatch(structuredClone(review.request.object), patch, true, false).newDocument as Json;
}

describe('POST /inject', () => {
  it('answers a Deployment pod\'s review with a JSON patch that adds the sidecar', async () => {
    const { post, outcomes } = setUp();
    const text = fixture('deployment-pod-review.json');
    const review = JSON.parse(text) as Json;
    const { status, body } = await post(text);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true, patchType: 'JSONPatch' },
    });
    const pod = applyResponse(review, body.response);
    expect(pod.spec.initContainers.map((c: Json) => c.name)).toEqual(['migrate', 'skein-sidecar']);
    expect(pod.spec.containers[1].env.map((e: Json) => e.name)).toContain('HTTP_PROXY');
    expect(outcomes).toEqual(['injected']);

    // The API server may call again (reinvocationPolicy: IfNeeded): nothing more to do.
    const again = { ...review, request: { ...review.request, object: pod } };
    const second = await post(JSON.stringify(again));
    expect(second.body.response).toEqual({ uid: review.request.uid, allowed: true });
    expect(outcomes).toEqual(['injected', 'skipped']);
  });

  it('injects a regular first container when native sidecars are off', async () => {
    const { post } = setUp({ native: false });
    const text = fixture('bare-pod-review.json');
    const { body } = await post(text);
    const pod = applyResponse(JSON.parse(text), body.response);
    expect(pod.spec.containers.map((c: Json) => c.name)).toEqual(['skein-sidecar', 'task']);
  });

  it('allows opted-out pods, system namespaces and updates without a patch', async () => {
    const { post, outcomes } = setUp();
    const optedOut = JSON.parse(fixture('bare-pod-review.json')) as Json;
    optedOut.request.object.metadata.annotations = { 'skein.io/inject': 'false' };
    const system = JSON.parse(fixture('deployment-pod-review.json')) as Json;
    system.request.namespace = 'kube-system';
    const update = JSON.parse(fixture('bare-pod-review.json')) as Json;
    update.request.operation = 'UPDATE';
    for (const review of [optedOut, system, update]) {
      const { status, body } = await post(JSON.stringify(review));
      expect(status).toBe(200);
      expect(body.response).toEqual({ uid: review.request.uid, allowed: true });
    }
    expect(outcomes).toEqual(['skipped', 'skipped', 'skipped']);
  });

  it('passes annotation warnings on to the API server', async () => {
    const { post } = setUp();
    const review = JSON.parse(fixture('bare-pod-review.json')) as Json;
    review.request.object.metadata.annotations = { 'skein.io/sidecar-memory': 'a lot' };
    const { body } = await post(JSON.stringify(review));
    expect(body.response.warnings).toEqual([expect.stringContaining('skein.io/sidecar-memory="a lot" is not a memory quantity')]);
  });

  it('answers garbage with 400 and a message naming what is wrong', async () => {
    const { post, outcomes } = setUp();
    const base = JSON.parse(fixture('bare-pod-review.json')) as Json;
    const cases: Array<[string, RegExp]> = [
      ['not json at all', /body is not JSON/],
      ['[1,2]', /body is not a JSON object/],
      [JSON.stringify({ ...base, kind: 'Pod' }), /kind is "Pod", expected "AdmissionReview"/],
      [JSON.stringify({ ...base, apiVersion: 'admission.k8s.io/v1beta1' }), /apiVersion is "admission.k8s.io\/v1beta1", expected "admission.k8s.io\/v1"/],
      [JSON.stringify({ kind: 'AdmissionReview', apiVersion: 'admission.k8s.io/v1' }), /request is missing/],
      [JSON.stringify({ ...base, request: { ...base.request, uid: undefined } }), /request.uid is missing/],
      [JSON.stringify({ ...base, request: { ...base.request, object: undefined } }), /request.object is missing/],
      [JSON.stringify({ ...base, request: { ...base.request, kind: { group: 'apps', version: 'v1', kind: 'Deployment' } } }), /only handles core\/v1 Pods/],
      [JSON.stringify({ ...base, request: { ...base.request, object: { kind: 'Service', spec: {} } } }), /request.object is a "Service", not a Pod/],
      [JSON.stringify({ ...base, request: { ...base.request, object: { metadata: {}, spec: {} } } }), /spec.containers is missing/],
    ];
    for (const [body, message] of cases) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      expect(res.body.error).toMatch(/^malformed AdmissionReview: /);
      expect(res.body.error).toMatch(message);
    }
    expect(outcomes).toEqual([]);
  });

  it('admits the pod unchanged, with a warning, when injection throws', async () => {
    const { post, outcomes } = setUp();
    const review = JSON.parse(fixture('bare-pod-review.json')) as Json;
    // A getter that throws stands in for a bug in the injector.
    const text = JSON.stringify(review);
    const app = webhookApp({
      settings: { ...settings, get skipNamespaces(): string[] { throw new Error('boom'); } },
      log: createLogger('silent'),
      onOutcome: (o) => outcomes.push(o),
    });
    const res = await app.request('/inject', { method: 'POST', body: text });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
      response: { uid: review.request.uid, allowed: true, warnings: ['skein: sidecar injection failed (boom); the pod runs without the mesh'] },
    });
    expect(outcomes).toEqual(['error']);
    expect((await post('{}', '/other')).status).toBe(404);
  });
});
