// The certificate manager against the test kit's fake API server: real HTTP, real Lease,
// Secret and MutatingWebhookConfiguration objects, optimistic concurrency on writes.
import { X509Certificate } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { FakeKubeApi } from '@skein/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../log.js';
import { LEASE_NAME, SECRET_NAME, WebhookCertManager, type CertManagerOptions } from './cert-manager.js';
import { kubeJsonClient } from './kube-json-client.js';
import { generateWebhookCertificate, splitPemBundle, webhookDnsNames, type CertificatePair } from './webhook-cert.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const NS = 'skein-system';
const NAMES = webhookDnsNames('skein-control-plane.skein-system.svc');
const DAY = 86_400_000;

const webhookConfig = () => ({
  apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration',
  metadata: { name: 'skein-sidecar-injector' },
  webhooks: ['pods.skein.io', 'pods-opt-in.skein.io'].map((name) => ({
    name, admissionReviewVersions: ['v1'], sideEffects: 'None', failurePolicy: 'Ignore',
    clientConfig: { service: { name: 'skein-control-plane', namespace: NS, path: '/inject', port: 443 } },
  })),
});

let api: FakeKubeApi;
const managers: WebhookCertManager[] = [];

beforeEach(async () => {
  api = await FakeKubeApi.start();
});
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
  await api.stop();
});

function manager(id: string, over: Partial<CertManagerOptions> = {}) {
  const config = new KubeConfig();
  config.loadFromString(api.kubeconfig());
  const served: CertificatePair[] = [];
  const warnings: string[] = [];
  const log = createLogger('warn', {}, { write: (line: string) => void warnings.push(JSON.parse(line).msg) });
  const m = new WebhookCertManager({
    client: kubeJsonClient(config), namespace: NS, id, configName: 'skein-sidecar-injector', dnsNames: NAMES, log,
    onCertificate: (pair) => served.push(pair), ...over,
  });
  managers.push(m);
  return { m, served, warnings };
}

const secret = (): Json | undefined => api.get('Secret', NS, SECRET_NAME) as Json | undefined;
const secretText = (key: string): string => Buffer.from(secret()!.data[key], 'base64').toString('utf8');
const secretWrites = (): number => api.requests.filter((r) => r.path.includes('/secrets') && r.method !== 'GET').length;

describe('WebhookCertManager', () => {
  it('takes the Lease, writes the Secret, patches every caBundle and serves the certificate', async () => {
    api.create(webhookConfig());
    const { m, served } = manager('replica-a');
    await m.sync();
    expect(m.isLeader).toBe(true);
    expect(api.get('Lease', NS, LEASE_NAME)).toMatchObject({ spec: { holderIdentity: 'replica-a', leaseDurationSeconds: 15, leaseTransitions: 0 } });
    expect(secret()).toMatchObject({ type: 'kubernetes.io/tls', metadata: { labels: { 'app.kubernetes.io/managed-by': 'skein-control-plane' } } });
    const leaf = new X509Certificate(secretText('tls.crt'));
    const ca = new X509Certificate(secretText('ca.crt'));
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.subjectAltName).toBe(NAMES.map((n) => `DNS:${n}`).join(', '));
    const config = api.get('MutatingWebhookConfiguration', undefined, 'skein-sidecar-injector') as Json;
    for (const webhook of config.webhooks) expect(webhook.clientConfig.caBundle).toBe(secret()!.data['ca.crt']);
    expect(served).toEqual([{ cert: secretText('tls.crt'), key: secretText('tls.key') }]);

    // The next round reuses everything: one Secret write, one configuration patch in all.
    await m.sync();
    expect(secretWrites()).toBe(1);
    expect(api.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
    expect(served).toHaveLength(1);
  });

  it('lets only one of two replicas write, and both serve the same certificate', async () => {
    api.create(webhookConfig());
    const a = manager('replica-a');
    const b = manager('replica-b');
    await Promise.all([a.m.sync(), b.m.sync()]);
    await Promise.all([a.m.sync(), b.m.sync()]);
    expect([a.m.isLeader, b.m.isLeader].filter(Boolean)).toHaveLength(1);
    expect(secretWrites()).toBe(1);
    expect(a.served.at(-1)).toEqual(b.served.at(-1));
    expect(a.served.at(-1)?.cert).toBe(secretText('tls.crt'));
  });

  it('takes over when the holder stops renewing', async () => {
    let now = Date.now();
    const a = manager('replica-a');
    const b = manager('replica-b', { now: () => now });
    await a.m.sync();
    await b.m.sync();
    expect(b.m.isLeader).toBe(false);
    now += 16_000; // replica-a is gone: no renewals for longer than leaseDurationSeconds
    await b.m.sync();
    expect(b.m.isLeader).toBe(true);
    expect(api.get('Lease', NS, LEASE_NAME)).toMatchObject({ spec: { holderIdentity: 'replica-b', leaseTransitions: 1 } });
    // The old holder finds out on its next round.
    await a.m.sync();
    expect(a.m.isLeader).toBe(false);
  });

  it('renews a certificate close to expiry and keeps the old CA in the bundle', async () => {
    api.create(webhookConfig());
    const old = await generateWebhookCertificate(NAMES, Date.now() - 340 * DAY); // 25 days left
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    api.create({
      apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name: SECRET_NAME, namespace: NS },
      data: { 'tls.crt': b64(old.cert), 'tls.key': b64(old.key), 'ca.crt': b64(old.ca) },
    });
    const { m, served } = manager('replica-a');
    await m.sync();
    expect(secretText('tls.crt')).not.toBe(old.cert);
    const bundle = splitPemBundle(secretText('ca.crt'));
    expect(bundle).toHaveLength(2);
    expect(bundle[1]!.trim()).toBe(old.ca.trim());
    expect(new X509Certificate(secretText('tls.crt')).checkIssued(new X509Certificate(bundle[0]!))).toBe(true);
    expect(served.at(-1)?.cert).toBe(secretText('tls.crt'));
  });

  it('serves the Secret without a webhook configuration, and says once what is missing', async () => {
    const { m, served, warnings } = manager('replica-a');
    await m.sync();
    await m.sync();
    expect(served).toHaveLength(1);
    expect(warnings).toEqual([expect.stringMatching(/cannot read MutatingWebhookConfiguration skein-sidecar-injector: .*404.*not created yet/)]);
  });

  it('keeps serving the last good certificate when the API server fails', async () => {
    const { m, served, warnings } = manager('replica-a');
    await m.sync();
    api.failNext({ status: 500, count: 10 });
    await m.sync();
    expect(served).toHaveLength(1);
    expect(warnings.slice(1)).toEqual([
      expect.stringMatching(/cannot read Lease skein-system\/skein-webhook-cert: .*500/),
      expect.stringMatching(/cannot read Secret skein-system\/skein-webhook-tls: .*500/),
    ]);
    expect(m.isLeader).toBe(false);
  });
});
