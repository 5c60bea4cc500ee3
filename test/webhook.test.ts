// The injection webhook of the real control-plane process, called as the API server calls it:
// HTTPS with SNI = the Service name, the CA from caBundle trusted, an AdmissionReview v1 body.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsonpatch from 'fast-json-patch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, FakeKubeApi } from '@skein/testkit';
import { generateWebhookCertificate, webhookDnsNames } from '../packages/control-plane/src/webhook/webhook-cert.js';
import { ManifestDir, skeinctlBin, startControlPlaneProcess, type ControlPlaneProcess } from './support/control-plane.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const SERVICE = 'skein-control-plane.skein-system.svc';
const reviewText = readFileSync(new URL('../packages/control-plane/src/webhook/testdata/deployment-pod-review.json', import.meta.url), 'utf8');

/** POSTs `body` to /inject over TLS, trusting only `ca`; a fresh connection each time. */
function postReview(port: number, ca: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, method: 'POST', path: '/inject', ca, servername: SERVICE, agent: false,
      headers: { 'content-type': 'application/json' },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function patchedPod(answer: { body: string }): Json {
  const { response } = JSON.parse(answer.body) as Json;
  const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
  return jsonpatch.applyPatch(structuredClone(JSON.parse(reviewText).request.object), patch, true, false).newDocument as Json;
}

describe('webhook with --webhook-cert-dir (files mode)', () => {
  const manifests = new ManifestDir();
  const certDir = mkdtempSync(join(tmpdir(), 'skein-webhook-cert-'));
  let plane: ControlPlaneProcess;
  let ca: string;
  let port: number;

  beforeAll(async () => {
    const generated = await generateWebhookCertificate(webhookDnsNames(SERVICE));
    writeFileSync(join(certDir, 'tls.crt'), generated.cert);
    writeFileSync(join(certDir, 'tls.key'), generated.key);
    ca = generated.ca;
    plane = await startControlPlaneProcess([
      '--source', `files:${manifests.path}`, '--webhook-port', '0', '--webhook-cert-dir', certDir,
      '--sidecar-image', 'registry.example/skein:test', '--injected-control-plane', 'cp.skein-system.svc:15010',
    ]);
    port = Number(plane.listening.webhookPort);
  });

  afterAll(async () => {
    await plane?.stop();
    manifests.cleanup();
    rmSync(certDir, { recursive: true, force: true });
  });

  it('prints the webhook port on the listening line and injects a native sidecar', async () => {
    expect(port).toBeGreaterThan(0);
    const answer = await postReview(port, ca, reviewText);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).response).toMatchObject({ uid: '705ab4f5-6393-11e8-b7cc-42010a800002', allowed: true, patchType: 'JSONPatch' });
    const pod = patchedPod(answer);
    const sidecar = (pod.spec.initContainers as Json[]).find((c) => c.name === 'skein-sidecar')!;
    expect(sidecar).toMatchObject({ image: 'registry.example/skein:test', restartPolicy: 'Always' });
    expect(sidecar.env).toContainEqual({ name: 'SKEIN_CONTROL_PLANE', value: 'cp.skein-system.svc:15010' });
    expect(pod.spec.containers[1].env).toContainEqual({ name: 'HTTP_PROXY', value: 'http://127.0.0.1:15001' });
    const line = await plane.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('webhook: injected'));
    expect(line.msg).toBe('webhook: injected the sidecar into demo/web-7d4b9c8f6d-* (native)');
  });

  it('answers garbage with 400 and a clear message, and counts results', async () => {
    const answer = await postReview(port, ca, '{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"x"}}');
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toEqual({ error: 'malformed AdmissionReview: request.kind is null, the injector only handles core/v1 Pods' });
    const metrics = await (await fetch(`${plane.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/skein_webhook_injections_total\{result="injected"\} 1/);
  });

  it('serves a rotated certificate without a restart', async () => {
    const next = await generateWebhookCertificate(webhookDnsNames(SERVICE));
    writeFileSync(join(certDir, 'tls.key'), next.key);
    writeFileSync(join(certDir, 'tls.crt'), next.cert);
    await eventually(async () => (await postReview(port, next.ca, reviewText)).status === 200, 10_000, 200);
    await expect(postReview(port, ca, reviewText)).rejects.toThrow(/certificate/i);
  });
});

describe('webhook in kubernetes mode: generated certificate', () => {
  let api: FakeKubeApi;
  const planes: ControlPlaneProcess[] = [];
  let kubeDir: string;

  beforeAll(async () => {
    api = await FakeKubeApi.start();
    api.create({
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'skein-sidecar-injector' },
      webhooks: [{
        name: 'pods.skein.io', admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Ignore',
        clientConfig: { service: { name: 'skein-control-plane', namespace: 'skein-system', path: '/inject', port: 443 } },
      }],
    });
    kubeDir = mkdtempSync(join(tmpdir(), 'skein-kube-'));
    const kubeconfig = await api.writeKubeconfig(kubeDir);
    for (const id of ['replica-a', 'replica-b']) {
      planes.push(await startControlPlaneProcess(
        ['--source', 'kubernetes', '--kubeconfig', kubeconfig, '--webhook-port', '0', '--id', id],
        { POD_NAMESPACE: 'skein-system' },
      ));
    }
  });

  afterAll(async () => {
    await Promise.all(planes.map((p) => p.stop()));
    await api?.stop();
    rmSync(kubeDir, { recursive: true, force: true });
  });

  const caBundle = (): string | undefined => {
    const config = api.get('MutatingWebhookConfiguration', undefined, 'skein-sidecar-injector') as Json | undefined;
    const bundle = config?.webhooks[0].clientConfig.caBundle as string | undefined;
    return bundle && Buffer.from(bundle, 'base64').toString('utf8');
  };

  it('writes the Secret once, patches caBundle, and both replicas serve a certificate that verifies against it', async () => {
    const bundle = await eventually(caBundle, 15_000);
    const secret = api.get('Secret', 'skein-system', 'skein-webhook-tls') as Json;
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret.data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    expect(Buffer.from(secret.data['ca.crt'], 'base64').toString('utf8')).toBe(bundle);
    for (const plane of planes) {
      const answer = await eventually(() => postReview(Number(plane.listening.webhookPort), bundle, reviewText).catch(() => undefined), 10_000, 200);
      expect(answer.status).toBe(200);
      expect(patchedPod(answer).spec.initContainers.map((c: Json) => c.name)).toEqual(['migrate', 'skein-sidecar']);
    }
    const lease = api.get('Lease', 'skein-system', 'skein-webhook-cert') as Json;
    expect(['replica-a', 'replica-b']).toContain(lease.spec.holderIdentity);
    expect(api.requests.filter((r) => r.path.includes('/secrets') && r.method !== 'GET')).toHaveLength(1);
    // The fake API server reports 1.33: native sidecars.
    const line = await planes[0]!.waitForLine((l) => typeof l.msg === 'string' && l.msg.startsWith('webhook: serving POST /inject'));
    expect(line.msg).toMatch(/native sidecars \(auto, Kubernetes 1\.33\)/);
  });
});

describe('webhook off', () => {
  it('is off in files mode without --webhook-cert-dir, and says so', async () => {
    const manifests = new ManifestDir();
    const plane = await startControlPlaneProcess(['--source', `files:${manifests.path}`]);
    try {
      expect(plane.listening.webhookPort).toBeUndefined();
      expect(plane.lines.map((l) => l.msg)).toContain('webhook: off (files mode without --webhook-cert-dir)');
    } finally {
      await plane.stop();
      manifests.cleanup();
    }
  });
});

describe('skeinctl wait-ready (the start-up hold of regular sidecars)', () => {
  const run = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => new Promise((resolve) => {
    execFile(process.execPath, [skeinctlBin, 'wait-ready', ...args], { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });

  it('exits 0 once /ready answers 200, and 1 with the reason on timeout', async () => {
    const start = Date.now();
    const server = createServer((_req, res) => {
      if (Date.now() - start > 700) res.writeHead(200).end('ready\n');
      else res.writeHead(503).end('not ready: no config applied yet\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const admin = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const early = await run(['--admin', admin, '--timeout', '100ms']);
      expect(early.code).toBe(1);
      expect(early.stderr).toMatch(/not ready after \d+ ms \(\d+ attempts\): HTTP 503: not ready: no config applied yet/);
      const waited = await run(['--admin', admin, '--timeout', '20s']);
      expect(waited.code).toBe(0);
      expect(waited.stdout).toMatch(/ready after \d+ ms/);
    } finally {
      server.close();
    }
  });
});
