import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import {
  caBundleWith, generateWebhookCertificate, inspectCertificate, renewalReason, splitPemBundle, webhookDnsNames,
  type CertificateInfo,
} from './webhook-cert.js';

const NAMES = webhookDnsNames('skein-control-plane.skein-system.svc');
const DAY = 86_400_000;

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** Completes a TLS handshake to `port` as the API server would: SNI = the Service name, `ca` trusted. */
function handshake(port: number, ca: string, servername: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, ca, servername }, () => {
      socket.end();
      resolve(undefined);
    });
    socket.on('error', (err) => resolve(err.message));
  });
}

describe('webhook certificates', () => {
  it('names the Service in both DNS forms', () => {
    expect(NAMES).toEqual(['skein-control-plane.skein-system.svc', 'skein-control-plane.skein-system.svc.cluster.local']);
    expect(webhookDnsNames('injector.example.com')).toEqual(['injector.example.com']);
  });

  it('generates a CA and a serving certificate that verifies against it over TLS', async () => {
    const generated = await generateWebhookCertificate(NAMES);
    const leaf = new X509Certificate(generated.cert);
    const ca = new X509Certificate(generated.ca);
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca)).toBe(true);
    const info = inspectCertificate(generated) as CertificateInfo;
    expect(info.dnsNames).toEqual(NAMES);
    expect(info.keyMatches).toBe(true);
    expect(info.notAfter - Date.now()).toBeGreaterThan(364 * DAY);

    const server = createServer({ cert: generated.cert, key: generated.key }, (_req, res) => res.end('ok'));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    for (const name of NAMES) expect(await handshake(port, generated.ca, name)).toBeUndefined();
    expect(await handshake(port, generated.ca, 'other.skein-system.svc')).toMatch(/altnames|Hostname/i);
    const stranger = await generateWebhookCertificate(['x.svc']);
    expect(await handshake(port, stranger.ca, NAMES[0]!)).toMatch(/certificate/i);
  });

  it('decides when a certificate is due for renewal', () => {
    const now = Date.parse('2025-06-01T00:00:00Z');
    const good: CertificateInfo = { notAfter: now + 200 * DAY, dnsNames: NAMES, keyMatches: true };
    expect(renewalReason(good, NAMES, now)).toBeUndefined();
    expect(renewalReason(undefined, NAMES, now)).toBe('no certificate yet');
    expect(renewalReason({ ...good, notAfter: now + 29 * DAY }, NAMES, now)).toMatch(/expires 2025-06-30/);
    expect(renewalReason({ ...good, notAfter: now + 31 * DAY }, NAMES, now)).toBeUndefined();
    expect(renewalReason({ ...good, keyMatches: false }, NAMES, now)).toMatch(/key does not match/);
    expect(renewalReason({ ...good, dnsNames: [NAMES[0]!] }, NAMES, now)).toMatch(/does not name skein-control-plane.skein-system.svc.cluster.local/);
    expect(renewalReason({ error: 'bad PEM' }, NAMES, now)).toMatch(/does not parse: bad PEM/);
    expect(renewalReason(inspectCertificate({ cert: 'junk', key: 'junk' }), NAMES, now)).toMatch(/does not parse/);
  });

  it('keeps the previous valid CA in the bundle behind the new one', async () => {
    const [first, second, third] = await Promise.all([1, 2, 3].map(() => generateWebhookCertificate(NAMES)));
    const bundle = caBundleWith(second!.ca, first!.ca, Date.now());
    expect(splitPemBundle(bundle).map((p) => p.trim())).toEqual([second!.ca.trim(), first!.ca.trim()]);
    // Only one predecessor is kept, and expired ones are dropped.
    expect(splitPemBundle(caBundleWith(third!.ca, bundle, Date.now()))).toHaveLength(2);
    expect(splitPemBundle(caBundleWith(third!.ca, bundle, Date.now() + 400 * DAY))).toHaveLength(1);
  });
});
