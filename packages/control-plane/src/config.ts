// Command line and environment of skein-control-plane. Every flag has an environment twin
// (for Kubernetes manifests); a flag wins over its variable.
import { Command, InvalidArgumentError, Option } from 'commander';
import { hostname } from 'node:os';
import { LOG_LEVELS, type LogLevel } from './log.js';

export type SourceConfig = { type: 'files'; dir: string } | { type: 'kubernetes'; kubeconfig?: string };

/** How discovery streams prove who they are (docs/control-plane.md, "Identity and authentication"). */
export type AuthConfig = { type: 'none' } | { type: 'token-file'; path: string } | { type: 'kubernetes'; audience: string };
type AuthMode = { type: 'none' } | { type: 'token-file'; path: string } | { type: 'kubernetes' };

export interface ControlPlaneConfig {
  source: SourceConfig;
  listenAddress: string;
  grpcPort: number;
  httpPort: number;
  clusterDomain: string;
  debounceMs: number;
  debounceMaxMs: number;
  /** Publish a change that ends a quiet spell at once, not after `debounceMs` (SnapshotPublisher `leading`). */
  debounceLeading: boolean;
  maxMessageBytes: number;
  id: string;
  logLevel: LogLevel;
  shutdownGraceMs: number;
  auth: AuthConfig;
  webhook: WebhookConfig;
}

/** The sidecar injection webhook (docs/injection.md). */
export interface WebhookConfig {
  port: number;
  /** tls.crt + tls.key, re-read on change; without it the certificate is generated (kubernetes) or there is no webhook (files). */
  certDir?: string;
  sidecarImage: string;
  /** auto: native when the API server is 1.29 or newer (files mode: native). */
  nativeSidecars: 'auto' | 'true' | 'false';
  /** host:port of the discovery stream, as injected sidecars reach it. */
  injectedControlPlane: string;
  /** MutatingWebhookConfiguration whose caBundle a generated certificate goes to. */
  configName: string;
  /** DNS name of the webhook Service, the generated certificate's subject. */
  service: string;
  /** The control plane's own namespace (POD_NAMESPACE): the Lease and Secret live here; its pods are never injected. */
  namespace: string;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0-65535 (0 picks a free port)');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

/** Parses "250ms", "2s", "1m" or a bare number of milliseconds. */
export function parseDurationMs(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('must be a duration such as 500ms, 5s or 1m');
  const n = Number(match[1]);
  const unit = match[2] ?? 'ms';
  return Math.round(unit === 'ms' ? n : unit === 's' ? n * 1000 : n * 60_000);
}

function hostPort(value: string): string {
  const match = /^(.+):(\d+)$/.exec(value);
  if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) throw new InvalidArgumentError('must be host:port');
  return value;
}

function source(value: string): SourceConfig {
  if (value === 'kubernetes') return { type: 'kubernetes' };
  if (value.startsWith('files:') && value.length > 'files:'.length) return { type: 'files', dir: value.slice('files:'.length) };
  throw new InvalidArgumentError('must be "kubernetes" or "files:<dir>"');
}

function authMode(value: string): AuthMode {
  if (value === 'none' || value === 'kubernetes') return { type: value };
  if (value.startsWith('token-file:') && value.length > 'token-file:'.length) return { type: 'token-file', path: value.slice('token-file:'.length) };
  throw new InvalidArgumentError('must be "kubernetes", "none" or "token-file:<path>"');
}

export function buildCommand(): Command {
  return new Command('skein-control-plane')
    .description('Skein control plane: watches Services and endpoints and streams versioned snapshots to sidecars.')
    .addOption(new Option('--source <source>', 'where Services and endpoints come from: "kubernetes" or "files:<dir>" (default: kubernetes inside a cluster)').env('SKEIN_SOURCE').argParser(source))
    .addOption(new Option('--kubeconfig <path>', 'kubeconfig for --source kubernetes (default: in-cluster, else $KUBECONFIG, else ~/.kube/config)').env('SKEIN_KUBECONFIG'))
    .addOption(new Option('--listen-address <ip>', 'address both servers bind').env('SKEIN_LISTEN_ADDRESS').default('0.0.0.0'))
    .addOption(new Option('--grpc-port <port>', 'discovery stream (gRPC) port; 0 picks one').env('SKEIN_GRPC_PORT').default(15010).argParser(port))
    .addOption(new Option('--http-port <port>', 'HTTP port: /healthz /readyz /metrics /debug/* /v1/snapshot; 0 picks one').env('SKEIN_HTTP_PORT').default(15014).argParser(port))
    .addOption(new Option('--cluster-domain <domain>', 'cluster DNS domain').env('SKEIN_CLUSTER_DOMAIN').default('cluster.local'))
    .addOption(new Option('--debounce <duration>', 'quiet time before a change in a burst is published').env('SKEIN_DEBOUNCE').default(100).argParser(parseDurationMs))
    .addOption(new Option('--debounce-max <duration>', 'longest a change waits while changes keep coming').env('SKEIN_DEBOUNCE_MAX').default(500).argParser(parseDurationMs))
    .addOption(new Option('--debounce-leading <bool>', 'publish a change that follows --debounce of quiet at once; later changes of a burst wait for --debounce').env('SKEIN_DEBOUNCE_LEADING').default('true').choices(['true', 'false']))
    .addOption(new Option('--max-message-bytes <n>', 'largest gRPC request accepted').env('SKEIN_MAX_MESSAGE_BYTES').default(4 * 1024 * 1024).argParser(positiveInt))
    .addOption(new Option('--id <id>', 'this replica\'s name, reported to subscribers').env('SKEIN_ID').default(process.env.POD_NAME ?? hostname()))
    .addOption(new Option('--log-level <level>', 'log verbosity').env('SKEIN_LOG_LEVEL').default('info').choices(LOG_LEVELS))
    .addOption(new Option('--shutdown-grace <duration>', 'time streams get to finish on SIGTERM').env('SKEIN_SHUTDOWN_GRACE').default(5000).argParser(parseDurationMs))
    .addOption(new Option('--auth <mode>', 'how sidecars prove their identity: "kubernetes" (TokenReview of the pod\'s projected token), "none" or "token-file:<path>" (one shared token) (default: kubernetes with --source kubernetes, else none)').env('SKEIN_AUTH').argParser(authMode))
    .addOption(new Option('--token-audience <audience>', 'audience sidecar tokens must be issued for (--auth kubernetes)').env('SKEIN_TOKEN_AUDIENCE').default('skein'))
    .addOption(new Option('--webhook-port <port>', 'sidecar injection webhook (HTTPS, POST /inject); 0 picks one').env('SKEIN_WEBHOOK_PORT').default(15017).argParser(port))
    .addOption(new Option('--webhook-cert-dir <dir>', 'webhook certificate (tls.crt, tls.key), re-read on change (default: generated in kubernetes mode, no webhook in files mode)').env('SKEIN_WEBHOOK_CERT_DIR'))
    .addOption(new Option('--sidecar-image <image>', 'image of injected sidecars').env('SKEIN_SIDECAR_IMAGE').default('ghcr.io/skein-mesh/skein:0.1.0'))
    .addOption(new Option('--native-sidecars <mode>', 'inject native sidecars (init containers with restartPolicy Always); auto: when the API server is 1.29+').env('SKEIN_NATIVE_SIDECARS').default('auto').choices(['auto', 'true', 'false']))
    .addOption(new Option('--injected-control-plane <host:port>', 'discovery address injected sidecars connect to').env('SKEIN_INJECTED_CONTROL_PLANE').default('skein-control-plane.skein-system.svc:15010').argParser(hostPort))
    .addOption(new Option('--webhook-config-name <name>', 'MutatingWebhookConfiguration that gets the generated CA bundle').env('SKEIN_WEBHOOK_CONFIG_NAME').default('skein-sidecar-injector'))
    .addOption(new Option('--webhook-service <dns>', 'DNS name of the webhook Service, for the generated certificate').env('SKEIN_WEBHOOK_SERVICE').default('skein-control-plane.skein-system.svc'))
    .showHelpAfterError();
}

/** Parses argv (without node and script) into a config; exits with a usage message on error. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ControlPlaneConfig {
  const command = buildCommand();
  command.parse(argv, { from: 'user' });
  const o = command.opts<{
    source?: SourceConfig; kubeconfig?: string; auth?: AuthMode; tokenAudience: string; listenAddress: string; grpcPort: number; httpPort: number;
    clusterDomain: string; debounce: number; debounceMax: number; debounceLeading: 'true' | 'false'; maxMessageBytes: number; id: string;
    logLevel: LogLevel; shutdownGrace: number; webhookPort: number; webhookCertDir?: string; sidecarImage: string;
    nativeSidecars: WebhookConfig['nativeSidecars']; injectedControlPlane: string; webhookConfigName: string; webhookService: string;
  }>();
  let sourceConfig = o.source;
  if (!sourceConfig) {
    if (!env.KUBERNETES_SERVICE_HOST) command.error('error: no --source given (use --source files:<dir> outside a cluster)');
    sourceConfig = { type: 'kubernetes' };
  }
  if (sourceConfig.type === 'kubernetes' && o.kubeconfig) sourceConfig = { type: 'kubernetes', kubeconfig: o.kubeconfig };
  const mode: AuthMode = o.auth ?? (sourceConfig.type === 'kubernetes' ? { type: 'kubernetes' } : { type: 'none' });
  // TokenReviews go to the API server the source watches; files mode has none.
  if (mode.type === 'kubernetes' && sourceConfig.type !== 'kubernetes') command.error('error: --auth kubernetes needs --source kubernetes (use --auth none or token-file:<path>)');
  const auth: AuthConfig = mode.type === 'kubernetes' ? { type: 'kubernetes', audience: o.tokenAudience } : mode;
  return {
    source: sourceConfig,
    listenAddress: o.listenAddress,
    grpcPort: o.grpcPort,
    httpPort: o.httpPort,
    clusterDomain: o.clusterDomain,
    debounceMs: o.debounce,
    debounceMaxMs: Math.max(o.debounceMax, o.debounce),
    debounceLeading: o.debounceLeading === 'true',
    maxMessageBytes: o.maxMessageBytes,
    id: o.id,
    logLevel: o.logLevel,
    shutdownGraceMs: o.shutdownGrace,
    auth,
    webhook: {
      port: o.webhookPort,
      ...(o.webhookCertDir ? { certDir: o.webhookCertDir } : {}),
      sidecarImage: o.sidecarImage,
      nativeSidecars: o.nativeSidecars,
      injectedControlPlane: o.injectedControlPlane,
      configName: o.webhookConfigName,
      service: o.webhookService.replace(/\.$/, ''),
      namespace: env.POD_NAMESPACE || 'skein-system',
    },
  };
}
