// Command line and environment of skein-sidecar. Every flag has an environment twin (the
// injection webhook sets them from the downward API); a flag wins over its variable.
import { Command, InvalidArgumentError, Option } from 'commander';
import { hostname } from 'node:os';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServiceListenerSpec {
  /** The service name as a client would write it, e.g. "web.demo:80". */
  host: string;
  port: number;
  /** Local port to listen on. */
  listenPort: number;
}

/** What the sidecar shows the control plane: nothing, a token file read at every connect, or a static token. */
export type TokenConfig = { type: 'none' } | { type: 'file'; path: string } | { type: 'static'; value: string };

export interface SidecarConfig {
  controlPlane: string | undefined;
  snapshotUrl: string | undefined;
  token: TokenConfig;
  namespace: string;
  podName: string;
  podIp: string;
  nodeName: string;
  zone: string;
  region: string;
  outboundAddress: string;
  outboundPort: number;
  adminAddress: string;
  adminPort: number;
  inboundPort: number | undefined;
  appPort: number | undefined;
  outboundPolicy: 'allow-any' | 'registry-only';
  discoveryScope: 'all' | 'namespace' | 'on-demand';
  cacheFile: string | undefined;
  clusterDomain: string;
  serviceListeners: ServiceListenerSpec[];
  drainMs: number;
  logLevel: LogLevel;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number 0-65535 (0 picks a free port)');
  return n;
}

function durationMs(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('must be a duration such as 500ms, 5s or 1m');
  const n = Number(match[1]);
  return Math.round(match[2] === 's' ? n * 1000 : match[2] === 'm' ? n * 60_000 : n);
}

/** "web.demo:80=15101"; several may be given, or comma-separated (for the environment twin). */
function serviceListener(value: string, previous: ServiceListenerSpec[] = []): ServiceListenerSpec[] {
  const specs = value.split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
    const match = /^(.+):(\d+)=(\d+)$/.exec(part);
    if (!match) throw new InvalidArgumentError('must be <service>:<port>=<local port>, e.g. web.demo:80=15101');
    return { host: match[1]!, port: port(match[2]!), listenPort: port(match[3]!) };
  });
  return [...previous, ...specs];
}

export function buildCommand(): Command {
  return new Command('skein-sidecar')
    .description('Skein sidecar: discovers Services from the control plane and proxies the pod\'s traffic to their endpoints.')
    .addOption(new Option('--control-plane <host:port>', 'control plane discovery stream (gRPC)').env('SKEIN_CONTROL_PLANE'))
    .addOption(new Option('--snapshot-url <url>', 'HTTP-only discovery instead: the control plane\'s HTTP base URL (polls /v1/snapshot)').env('SKEIN_SNAPSHOT_URL'))
    .addOption(new Option('--token-file <path>', 'token shown to the control plane, read at every connect: the pod\'s projected ServiceAccount token').env('SKEIN_TOKEN_FILE'))
    .addOption(new Option('--token <token>', 'a static token shown to the control plane (--auth token-file:<path> there); prefer --token-file').env('SKEIN_TOKEN'))
    .addOption(new Option('--namespace <ns>', 'this pod\'s namespace').env('POD_NAMESPACE').default('default'))
    .addOption(new Option('--pod-name <name>', 'this pod\'s name').env('POD_NAME').default(hostname()))
    .addOption(new Option('--pod-ip <ip>', 'this pod\'s IP').env('POD_IP').default(''))
    .addOption(new Option('--node-name <name>', 'the Node this pod runs on').env('NODE_NAME').default(''))
    .addOption(new Option('--zone <zone>', 'this pod\'s zone (topology.kubernetes.io/zone)').env('SKEIN_ZONE').default(''))
    .addOption(new Option('--region <region>', 'this pod\'s region (topology.kubernetes.io/region)').env('SKEIN_REGION').default(''))
    .addOption(new Option('--outbound-address <ip>', 'address of the outbound proxy').env('SKEIN_OUTBOUND_ADDRESS').default('127.0.0.1'))
    .addOption(new Option('--outbound-port <port>', 'outbound HTTP proxy (absolute-form, CONNECT, h2c); 0 picks one').env('SKEIN_OUTBOUND_PORT').default(15001).argParser(port))
    .addOption(new Option('--admin-address <ip>', 'address of the admin API').env('SKEIN_ADMIN_ADDRESS').default('0.0.0.0'))
    .addOption(new Option('--admin-port <port>', 'admin API: /ready /config_dump /clusters /explain /metrics; 0 picks one').env('SKEIN_ADMIN_PORT').default(15000).argParser(port))
    .addOption(new Option('--inbound-port <port>', 'inbound listener forwarding to --app-port (off unless both are set)').env('SKEIN_INBOUND_PORT').argParser(port))
    .addOption(new Option('--app-port <port>', 'the application\'s port on 127.0.0.1, for the inbound listener').env('SKEIN_APP_PORT').argParser(port))
    .addOption(new Option('--outbound-policy <policy>', 'hosts outside the mesh: pass through or refuse').env('SKEIN_OUTBOUND_POLICY').default('allow-any').choices(['allow-any', 'registry-only']))
    .addOption(new Option('--discovery-scope <scope>', 'what to subscribe to: every Service, this namespace (+ on demand), or only what is used').env('SKEIN_DISCOVERY_SCOPE').default('all').choices(['all', 'namespace', 'on-demand']))
    .addOption(new Option('--cache-file <path>', 'keep the last good config here and start from it when the control plane is down').env('SKEIN_CACHE_FILE'))
    .addOption(new Option('--cluster-domain <domain>', 'cluster DNS domain').env('SKEIN_CLUSTER_DOMAIN').default('cluster.local'))
    .addOption(new Option('--service-listener <spec>', 'a local port for one service, for clients that cannot use a proxy (HTTP/1.1 and h2c): web.demo:80=15101; repeatable').env('SKEIN_SERVICE_LISTENERS').argParser(serviceListener))
    .addOption(new Option('--drain <duration>', 'time in-flight requests get on SIGTERM').env('SKEIN_DRAIN').default(5000).argParser(durationMs))
    .addOption(new Option('--log-level <level>', 'log verbosity').env('SKEIN_LOG_LEVEL').default('info').choices(LOG_LEVELS))
    .showHelpAfterError();
}

export function parseSidecarConfig(argv: string[]): SidecarConfig {
  const command = buildCommand();
  command.parse(argv, { from: 'user' });
  const o = command.opts<Record<string, unknown>>();
  const controlPlane = o.controlPlane as string | undefined;
  const snapshotUrl = o.snapshotUrl as string | undefined;
  if (!controlPlane && !snapshotUrl && !o.cacheFile) command.error('error: give --control-plane <host:port> (or --snapshot-url, or at least --cache-file)');
  if ((o.inboundPort === undefined) !== (o.appPort === undefined)) command.error('error: --inbound-port and --app-port go together');
  if (o.tokenFile && o.token) command.error('error: give --token-file or --token, not both');
  const token: TokenConfig = o.tokenFile ? { type: 'file', path: o.tokenFile as string } : o.token ? { type: 'static', value: o.token as string } : { type: 'none' };
  return {
    controlPlane, snapshotUrl, token,
    namespace: o.namespace as string, podName: o.podName as string, podIp: o.podIp as string,
    nodeName: o.nodeName as string, zone: o.zone as string, region: o.region as string,
    outboundAddress: o.outboundAddress as string, outboundPort: o.outboundPort as number,
    adminAddress: o.adminAddress as string, adminPort: o.adminPort as number,
    inboundPort: o.inboundPort as number | undefined, appPort: o.appPort as number | undefined,
    outboundPolicy: o.outboundPolicy as SidecarConfig['outboundPolicy'],
    discoveryScope: o.discoveryScope as SidecarConfig['discoveryScope'],
    cacheFile: o.cacheFile as string | undefined,
    clusterDomain: o.clusterDomain as string,
    serviceListeners: (o.serviceListener as ServiceListenerSpec[] | undefined) ?? [],
    drainMs: o.drain as number,
    logLevel: o.logLevel as LogLevel,
  };
}
