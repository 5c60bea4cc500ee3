// The webhook certificate in kubernetes mode without --webhook-cert-dir. Every few seconds each
// replica: (1) competes for the Lease; (2) reads the Secret; the Lease holder alone (3) writes a
// new certificate into the Secret when there is none or it is due for renewal, and (4) patches
// the MutatingWebhookConfiguration's caBundle to match; (5) every replica serves the Secret's
// certificate. Polling, not watching: client-node informers stop for good on some errors, and a
// few seconds of delay is fine for a certificate that lives a year.
import type { Logger } from '../log.js';
import type { KubeJsonClient } from './kube-json-client.js';
import { decideLease, nextLeaseSpec, type LeaseObservation, type LeaseSpec } from './lease.js';
import {
  caBundleWith, generateWebhookCertificate, inspectCertificate, renewalReason, type CertificatePair, type GeneratedCertificate,
} from './webhook-cert.js';

export const LEASE_NAME = 'skein-webhook-cert';
export const SECRET_NAME = 'skein-webhook-tls';

export interface CertManagerOptions {
  client: KubeJsonClient;
  /** Where the Lease and the Secret live: the control plane's namespace. */
  namespace: string;
  /** This replica's identity in the Lease. */
  id: string;
  /** MutatingWebhookConfiguration whose webhooks get the CA bundle. */
  configName: string;
  /** Names the serving certificate must carry. */
  dnsNames: string[];
  log: Logger;
  /** Called on every replica whenever the Secret's certificate changes (and once at first). */
  onCertificate(pair: CertificatePair): void;
  /** Time between rounds once a certificate is served (default 3 s; 500 ms before). */
  intervalMs?: number;
  now?: () => number;
  generate?: (dnsNames: readonly string[]) => Promise<GeneratedCertificate>;
}

interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [field: string]: unknown };
  [field: string]: unknown;
}

/** The Secret as read: the object (absent: none), the certificate in it, its CA bundle. */
interface SecretState {
  object?: KubeObject;
  pair?: CertificatePair;
  ca?: string;
}

const decode = (value: unknown): string | undefined => (typeof value === 'string' ? Buffer.from(value, 'base64').toString('utf8') : undefined);
const encode = (value: string): string => Buffer.from(value).toString('base64');

export class WebhookCertManager {
  private readonly leasePath: string;
  private readonly secretPath: string;
  private readonly configPath: string;
  private observation: LeaseObservation | undefined;
  private leader = false;
  private served: CertificatePair | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private lastProblem = '';
  private problemThisRound = false;

  constructor(private readonly options: CertManagerOptions) {
    const ns = encodeURIComponent(options.namespace);
    this.leasePath = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
    this.secretPath = `/api/v1/namespaces/${ns}/secrets`;
    this.configPath = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${encodeURIComponent(options.configName)}`;
  }

  /** True while this replica holds the Lease. */
  get isLeader(): boolean {
    return this.leader;
  }

  /** Starts the rounds; the first runs at once. */
  start(): void {
    this.schedule(0);
  }

  /** Stops the rounds and waits for one in flight. The Lease is left to expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One round; never throws (problems are logged once each and retried next round). */
  async sync(): Promise<void> {
    this.problemThisRound = false;
    try {
      const leader = await this.elect();
      let secret = await this.readSecret();
      if (secret && leader) {
        secret = await this.renewIfDue(secret);
        if (secret.ca) await this.publishCaBundle(secret.ca);
      }
      if (secret?.pair) this.serve(secret.pair);
    } catch (err) {
      this.problem(`webhook certificate: ${(err as Error).message}`);
    }
    if (!this.problemThisRound && this.lastProblem) {
      this.options.log.info(`webhook certificate: recovered from: ${this.lastProblem}`);
      this.lastProblem = '';
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.sync().finally(() => {
        this.running = undefined;
        this.schedule(this.served ? (this.options.intervalMs ?? 3000) : Math.min(500, this.options.intervalMs ?? 500));
      });
    }, delayMs);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Logs a problem once (not every round), until a different one or recovery. */
  private problem(message: string): void {
    if (message !== this.lastProblem) this.options.log.warn(message);
    this.lastProblem = message;
    this.problemThisRound = true;
  }

  private async elect(): Promise<boolean> {
    const { client, id, namespace } = this.options;
    const read = await client.get<KubeObject & { spec?: LeaseSpec }>(`${this.leasePath}/${LEASE_NAME}`);
    if (!read.ok && read.status !== 404) {
      this.problem(`webhook certificate: cannot read Lease ${namespace}/${LEASE_NAME}: ${read.message}`);
      return (this.leader = false);
    }
    const lease = read.ok ? read.body : undefined;
    const now = this.now();
    const { decision, observation } = decideLease(lease?.spec, id, now, this.observation);
    this.observation = observation;
    if (decision.type === 'wait') {
      if (this.leader) this.options.log.info({ holder: decision.holder }, `webhook certificate: Lease ${LEASE_NAME} now held by ${decision.holder}`);
      return (this.leader = false);
    }
    const spec = nextLeaseSpec(decision, lease?.spec, id, now);
    // The replace carries the resourceVersion read above: of two replicas, one wins.
    const write = lease
      ? await client.replace(`${this.leasePath}/${LEASE_NAME}`, { ...lease, spec })
      : await client.create(this.leasePath, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LEASE_NAME, namespace }, spec });
    if (!write.ok) {
      if (write.status !== 409) this.problem(`webhook certificate: cannot write Lease ${namespace}/${LEASE_NAME}: ${write.message}`);
      return (this.leader = false);
    }
    if (!this.leader) this.options.log.info({ lease: LEASE_NAME }, `webhook certificate: this replica (${id}) holds Lease ${LEASE_NAME} and manages the certificate`);
    return (this.leader = true);
  }

  /** The Secret's state, or undefined when it cannot be read (nothing is written then). */
  private async readSecret(): Promise<SecretState | undefined> {
    const read = await this.options.client.get<KubeObject & { data?: Record<string, unknown> }>(`${this.secretPath}/${SECRET_NAME}`);
    if (!read.ok) {
      if (read.status === 404) return {};
      this.problem(`webhook certificate: cannot read Secret ${this.options.namespace}/${SECRET_NAME}: ${read.message}`);
      return undefined;
    }
    const data = read.body.data ?? {};
    const cert = decode(data['tls.crt']);
    const key = decode(data['tls.key']);
    return { object: read.body, ...(cert && key ? { pair: { cert, key } } : {}), ...(data['ca.crt'] ? { ca: decode(data['ca.crt']) } : {}) };
  }

  private async renewIfDue(secret: SecretState): Promise<SecretState> {
    const { client, namespace, dnsNames, log } = this.options;
    const now = this.now();
    const reason = renewalReason(secret.pair && inspectCertificate(secret.pair), dnsNames, now);
    if (!reason) return secret;
    log.info({ secret: SECRET_NAME, reason }, `webhook certificate: writing a new certificate to Secret ${namespace}/${SECRET_NAME}: ${reason}`);
    const generated = await (this.options.generate ?? generateWebhookCertificate)(dnsNames);
    const ca = caBundleWith(generated.ca, secret.ca, now);
    const data = { 'tls.crt': encode(generated.cert), 'tls.key': encode(generated.key), 'ca.crt': encode(ca) };
    const write = secret.object
      ? await client.replace(`${this.secretPath}/${SECRET_NAME}`, { ...secret.object, type: 'kubernetes.io/tls', data })
      : await client.create(this.secretPath, {
        apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', data,
        metadata: { name: SECRET_NAME, namespace, labels: { 'app.kubernetes.io/managed-by': 'skein-control-plane' } },
      });
    if (!write.ok) {
      this.problem(`webhook certificate: cannot write Secret ${namespace}/${SECRET_NAME}: ${write.message}`);
      return secret;
    }
    return { object: write.body, pair: { cert: generated.cert, key: generated.key }, ca };
  }

  /** Sets caBundle on every webhook of the configuration that does not have it yet. */
  private async publishCaBundle(ca: string): Promise<void> {
    const { client, configName, log } = this.options;
    const read = await client.get<{ webhooks?: Array<{ name?: string; clientConfig?: { caBundle?: string } }> }>(this.configPath);
    if (!read.ok) {
      const hint = read.status === 404 ? ' (not created yet? the API server cannot call the webhook until it exists)' : '';
      this.problem(`webhook certificate: cannot read MutatingWebhookConfiguration ${configName}: ${read.message}${hint}`);
      return;
    }
    const bundle = encode(ca);
    const webhooks = read.body.webhooks ?? [];
    // `test` on each name: if the list changed since the read, the patch fails and the next round retries.
    const patch = webhooks.flatMap((webhook, index) => (webhook.clientConfig && webhook.clientConfig.caBundle !== bundle
      ? [{ op: 'test', path: `/webhooks/${index}/name`, value: webhook.name }, { op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: bundle }]
      : []));
    if (patch.length === 0) return;
    const write = await client.patch(this.configPath, 'json', patch);
    if (!write.ok) {
      this.problem(`webhook certificate: cannot patch the caBundle of MutatingWebhookConfiguration ${configName}: ${write.message}`);
      return;
    }
    log.info({ configuration: configName, webhooks: patch.length / 2 }, `webhook certificate: caBundle of MutatingWebhookConfiguration ${configName} updated`);
  }

  private serve(pair: CertificatePair): void {
    if (this.served?.cert === pair.cert && this.served.key === pair.key) return;
    const info = inspectCertificate(pair);
    if ('error' in info || !info.keyMatches) {
      this.problem(`webhook certificate: Secret ${this.options.namespace}/${SECRET_NAME} holds an unusable certificate: ${'error' in info ? info.error : 'key does not match'}`);
      return;
    }
    this.served = pair;
    this.options.onCertificate(pair);
  }
}
