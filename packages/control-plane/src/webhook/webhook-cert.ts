// The webhook's serving certificate: generating a CA and a serving certificate for the webhook
// Service (selfsigned), reading one back (node:crypto X509Certificate), and deciding when it is
// due for renewal (pure). No network or file I/O here.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import selfsigned from 'selfsigned';

/** PEM files of a serving certificate, as in a kubernetes.io/tls Secret. */
export interface CertificatePair {
  cert: string;
  key: string;
}

/** A generated certificate with the CA that signed it. */
export interface GeneratedCertificate extends CertificatePair {
  ca: string;
}

/** What renewal decisions need from a certificate. */
export interface CertificateInfo {
  notAfter: number;
  dnsNames: string[];
  keyMatches: boolean;
}

const DAY_MS = 86_400_000;
export const CERT_VALIDITY_DAYS = 365;
/** Renewed when fewer days than this remain (and reused while more do). */
export const RENEW_BEFORE_DAYS = 30;

/** The names the API server may use for the Service: `<svc>.<ns>.svc` and its cluster-domain form. */
export function webhookDnsNames(service: string, clusterDomain = 'cluster.local'): string[] {
  const names = [service];
  if (service.endsWith('.svc')) names.push(`${service}.${clusterDomain}`);
  return names;
}

/** A fresh CA and a serving certificate for `dnsNames` signed by it (EC P-256, SHA-256). */
export async function generateWebhookCertificate(dnsNames: readonly string[], now = Date.now()): Promise<GeneratedCertificate> {
  const notBeforeDate = new Date(now - 5 * 60_000); // nodes' clocks may be a little behind
  const notAfterDate = new Date(now + CERT_VALIDITY_DAYS * DAY_MS);
  const ca = await selfsigned.generate([{ name: 'commonName', value: 'skein-webhook-ca' }], {
    keyType: 'ec', algorithm: 'sha256', notBeforeDate, notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const serving = await selfsigned.generate([{ name: 'commonName', value: dnsNames[0]! }], {
    keyType: 'ec', algorithm: 'sha256', notBeforeDate, notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: dnsNames.map((value) => ({ type: 2 as const, value })) },
    ],
  });
  return { cert: serving.cert, key: serving.private, ca: ca.cert };
}

/** Reads a certificate and checks its key; an error message when either does not parse. */
export function inspectCertificate(pair: CertificatePair): CertificateInfo | { error: string } {
  try {
    const x509 = new X509Certificate(pair.cert);
    const key = createPrivateKey(pair.key);
    const dnsNames = (x509.subjectAltName ?? '').split(/,\s*/).filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
    return { notAfter: Date.parse(x509.validTo), dnsNames, keyMatches: x509.checkPrivateKey(key) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Why a certificate must be replaced now, or undefined while it is good. Pure. */
export function renewalReason(info: CertificateInfo | { error: string } | undefined, wantedNames: readonly string[], now: number): string | undefined {
  if (!info) return 'no certificate yet';
  if ('error' in info) return `the stored certificate does not parse: ${info.error}`;
  if (!info.keyMatches) return 'the stored key does not match the certificate';
  const missing = wantedNames.filter((n) => !info.dnsNames.includes(n));
  if (missing.length > 0) return `the certificate does not name ${missing.join(', ')}`;
  if (info.notAfter - now < RENEW_BEFORE_DAYS * DAY_MS) return `the certificate expires ${new Date(info.notAfter).toISOString()}`;
  return undefined;
}

/** Splits a PEM bundle into its certificates. */
export function splitPemBundle(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
}

/**
 * The CA bundle to publish with a new CA: the new one first, then the previous ones still valid,
 * so the API server keeps trusting replicas that serve the old certificate until they reload.
 */
export function caBundleWith(newCa: string, previousBundle: string | undefined, now: number): string {
  const kept = splitPemBundle(previousBundle ?? '').filter((pem) => {
    try {
      return Date.parse(new X509Certificate(pem).validTo) > now;
    } catch {
      return false;
    }
  });
  return [newCa, ...kept.slice(0, 1)].map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join('');
}
