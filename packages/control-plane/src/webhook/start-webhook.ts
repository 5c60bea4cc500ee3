// Composition of the injection webhook for main.ts: decides whether there is one and where its
// certificate comes from, resolves native sidecars, and starts the HTTPS server.
//   --webhook-cert-dir given        -> that certificate, re-read on change (any mode)
//   kubernetes mode, no cert dir    -> generated into a Secret by the Lease holder (cert-manager.ts)
//   files mode, no cert dir         -> no webhook
import { KubeConfig } from '@kubernetes/client-node';
import type { ControlPlaneConfig } from '../config.js';
import type { Logger } from '../log.js';
import { CertDirWatcher, readCertDir } from './cert-dir.js';
import { WebhookCertManager } from './cert-manager.js';
import { kubeJsonClient, type KubeJsonClient } from './kube-json-client.js';
import { resolveNativeSidecars } from './native-sidecars.js';
import { generateWebhookCertificate, webhookDnsNames } from './webhook-cert.js';
import { webhookApp, type InjectionOutcome } from './webhook-app.js';
import { startWebhookServer } from './webhook-server.js';

/** Written to injected pods' `skein.io/injected` annotation; in step with package.json. */
export const INJECTOR_VERSION = '0.1.0';

export interface RunningWebhook {
  readonly port: number;
  close(): Promise<void>;
}

function kubeClient(config: ControlPlaneConfig): KubeJsonClient | undefined {
  if (config.source.type !== 'kubernetes') return undefined;
  const kubeconfig = new KubeConfig();
  if (config.source.kubeconfig) kubeconfig.loadFromFile(config.source.kubeconfig);
  else kubeconfig.loadFromDefault();
  return kubeJsonClient(kubeconfig);
}

/** Starts the webhook, or returns undefined when this configuration has none. */
export async function startWebhook(config: ControlPlaneConfig, log: Logger, onOutcome: (outcome: InjectionOutcome) => void): Promise<RunningWebhook | undefined> {
  const webhook = config.webhook;
  const wlog = log.child({ component: 'webhook' });
  if (!webhook.certDir && config.source.type === 'files') {
    wlog.info('webhook: off (files mode without --webhook-cert-dir)');
    return undefined;
  }
  const client = kubeClient(config);
  const native = await resolveNativeSidecars(webhook.nativeSidecars, client);
  const app = webhookApp({
    settings: {
      image: webhook.sidecarImage,
      controlPlane: webhook.injectedControlPlane,
      native: native.native,
      skipNamespaces: [webhook.namespace, 'kube-system'],
      version: INJECTOR_VERSION,
    },
    log: wlog,
    onOutcome,
  });
  const dnsNames = webhookDnsNames(webhook.service, config.clusterDomain);

  if (webhook.certDir) {
    const current = await readCertDir(webhook.certDir);
    const server = await startWebhookServer(app.fetch, config.listenAddress, webhook.port, current);
    const watcher = new CertDirWatcher({ dir: webhook.certDir, current, log: wlog, onCertificate: (pair) => server.setCertificate(pair) });
    watcher.start();
    wlog.info({ port: server.port, native: native.native, certificates: webhook.certDir }, `webhook: serving POST /inject over HTTPS, ${native.native ? 'native' : 'regular'} sidecars (${native.reason})`);
    return { port: server.port, close: async () => { watcher.stop(); await server.close(); } };
  }

  // Until the Secret is read (the first round, normally within milliseconds), a throwaway
  // certificate lets the port open; nothing trusts it, so no request is answered with it.
  const placeholder = await generateWebhookCertificate(dnsNames);
  const server = await startWebhookServer(app.fetch, config.listenAddress, webhook.port, placeholder);
  const manager = new WebhookCertManager({
    client: client!, namespace: webhook.namespace, id: config.id, configName: webhook.configName, dnsNames, log: wlog,
    onCertificate: (pair) => {
      server.setCertificate(pair);
      wlog.info({ secret: `${webhook.namespace}/skein-webhook-tls` }, 'webhook: serving the certificate from the Secret');
    },
  });
  manager.start();
  wlog.info({ port: server.port, native: native.native, certificates: 'generated' }, `webhook: serving POST /inject over HTTPS, ${native.native ? 'native' : 'regular'} sidecars (${native.reason})`);
  return { port: server.port, close: async () => { await manager.stop(); await server.close(); } };
}
