// Command line and environment of skein-control-plane. Every flag has an environment twin
// (for Kubernetes manifests); a flag wins over its variable.
import { Command, InvalidArgumentError, Option } from 'commander';
import { hostname } from 'node:os';
import { LOG_LEVELS, type LogLevel } from './log.js';

export type SourceConfig = { type: 'files'; dir: string } | { type: 'kubernetes'; kubeconfig?: string };

export interface ControlPlaneConfig {
  source: SourceConfig;
  listenAddress: string;
  grpcPort: number;
  httpPort: number;
  clusterDomain: string;
  debounceMs: number;
  debounceMaxMs: number;
  maxMessageBytes: number;
  id: string;
  logLevel: LogLevel;
  shutdownGraceMs: number;
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

function source(value: string): SourceConfig {
  if (value === 'kubernetes') return { type: 'kubernetes' };
  if (value.startsWith('files:') && value.length > 'files:'.length) return { type: 'files', dir: value.slice('files:'.length) };
  throw new InvalidArgumentError('must be "kubernetes" or "files:<dir>"');
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
    .addOption(new Option('--debounce <duration>', 'quiet time before a change is published').env('SKEIN_DEBOUNCE').default(100).argParser(parseDurationMs))
    .addOption(new Option('--debounce-max <duration>', 'longest a change waits while changes keep coming').env('SKEIN_DEBOUNCE_MAX').default(1000).argParser(parseDurationMs))
    .addOption(new Option('--max-message-bytes <n>', 'largest gRPC request accepted').env('SKEIN_MAX_MESSAGE_BYTES').default(4 * 1024 * 1024).argParser(positiveInt))
    .addOption(new Option('--id <id>', 'this replica\'s name, reported to subscribers').env('SKEIN_ID').default(process.env.POD_NAME ?? hostname()))
    .addOption(new Option('--log-level <level>', 'log verbosity').env('SKEIN_LOG_LEVEL').default('info').choices(LOG_LEVELS))
    .addOption(new Option('--shutdown-grace <duration>', 'time streams get to finish on SIGTERM').env('SKEIN_SHUTDOWN_GRACE').default(5000).argParser(parseDurationMs))
    .showHelpAfterError();
}

/** Parses argv (without node and script) into a config; exits with a usage message on error. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): ControlPlaneConfig {
  const command = buildCommand();
  command.parse(argv, { from: 'user' });
  const o = command.opts<{
    source?: SourceConfig; kubeconfig?: string; listenAddress: string; grpcPort: number; httpPort: number;
    clusterDomain: string; debounce: number; debounceMax: number; maxMessageBytes: number; id: string;
    logLevel: LogLevel; shutdownGrace: number;
  }>();
  let sourceConfig = o.source;
  if (!sourceConfig) {
    if (!env.KUBERNETES_SERVICE_HOST) command.error('error: no --source given (use --source files:<dir> outside a cluster)');
    sourceConfig = { type: 'kubernetes' };
  }
  if (sourceConfig.type === 'kubernetes' && o.kubeconfig) sourceConfig = { type: 'kubernetes', kubeconfig: o.kubeconfig };
  return {
    source: sourceConfig,
    listenAddress: o.listenAddress,
    grpcPort: o.grpcPort,
    httpPort: o.httpPort,
    clusterDomain: o.clusterDomain,
    debounceMs: o.debounce,
    debounceMaxMs: Math.max(o.debounceMax, o.debounce),
    maxMessageBytes: o.maxMessageBytes,
    id: o.id,
    logLevel: o.logLevel,
    shutdownGraceMs: o.shutdownGrace,
  };
}
