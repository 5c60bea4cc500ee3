// Composition root of the sidecar process: discovery -> config -> dataplane -> listeners,
// plus the admin API. Everything with I/O is created here.
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { adminApp } from '../admin/admin-app.js';
import { createDataplane } from '../dataplane-core.js';
import { CacheFile } from '../discovery/cache-file.js';
import { HttpDiscoveryClient } from '../discovery/http-discovery-client.js';
import { MeshConfig } from '../discovery/mesh-config.js';
import { XdsClient } from '../discovery/xds-client.js';
import { redactUrl } from '../discovery/redact-url.js';
import { staticToken, tokenFile, type TokenSource } from '../discovery/token-source.js';
import { AGENT_VERSION, advertisedAdminAddress, type NodeIdentity } from '../identity.js';
import type { Logger } from '../logger.js';
import { InboundProxy } from '../proxy/inbound-proxy.js';
import { OutboundProxy } from '../proxy/outbound-proxy.js';
import { ServiceListener } from '../proxy/h2c-proxy.js';
import { RequestMetrics } from '../telemetry/request-metrics.js';
import { RequestTelemetry } from '../telemetry/request-telemetry.js';
import { registerConnectionMetrics, registerDiscoveryMetrics, registerTracingMetrics } from '../telemetry/sidecar-metrics.js';
import { setUpTracing } from '../telemetry/tracing-setup.js';
import type { SidecarConfig } from './sidecar-config.js';

export interface RunningSidecar {
  readonly outboundPort: number;
  readonly adminPort: number;
  readonly inboundPort: number | undefined;
  readonly serviceListenerPorts: Record<string, number>;
  /** Stops accepting, drains in-flight requests for up to `drainMs`, then stops. */
  close(drainMs?: number): Promise<void>;
}

export async function startSidecar(cfg: SidecarConfig, log: Logger): Promise<RunningSidecar> {
  // The Node sent to the control plane carries the admin API's bound address, known only once
  // it listens: the identity is completed and the discovery clients created after that.
  let identity: NodeIdentity = {
    id: `${cfg.podName}.${cfg.namespace}`, podName: cfg.podName, namespace: cfg.namespace, podIp: cfg.podIp,
    nodeName: cfg.nodeName, zone: cfg.zone, region: cfg.region,
  };
  const config = new MeshConfig({ logger: log });
  const cache = cfg.cacheFile ? new CacheFile(cfg.cacheFile, config, log) : undefined;
  if (cache) {
    const loaded = await cache.load();
    log.info({ path: cfg.cacheFile, ...loaded }, loaded.loaded ? 'config loaded from the cache file' : 'no usable cache file');
  }
  const discovery: { xds: XdsClient | undefined; http: HttpDiscoveryClient | undefined } = { xds: undefined, http: undefined };
  const dataplane = createDataplane(config, {
    namespace: cfg.namespace, clusterDomain: cfg.clusterDomain, outboundPolicy: cfg.outboundPolicy,
    nodeName: cfg.nodeName, zone: cfg.zone, region: cfg.region,
  });

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerDiscoveryMetrics(registry, {
    ready: () => config.ready, discovery: () => discovery.xds ?? discovery.http,
    resources: (typeUrl) => config.resources(typeUrl).size, health: () => dataplane.healthStats(),
  });
  new Gauge({ name: 'skein_sidecar_info', help: 'Sidecar build and identity', labelNames: ['version', 'namespace', 'pod'] as const, registers: [registry], collect() { this.set({ version: AGENT_VERSION, namespace: cfg.namespace, pod: cfg.podName }, 1); } });

  // Traces on by default, configured by the standard OTEL_* variables (OTEL_SDK_DISABLED=true
  // turns them off); request metrics always.
  const tracing = await setUpTracing({
    logger: log,
    attributes: {
      'k8s.pod.name': cfg.podName, 'k8s.namespace.name': cfg.namespace, 'k8s.node.name': cfg.nodeName,
      ...(cfg.zone ? { 'cloud.availability_zone': cfg.zone } : {}), ...(cfg.region ? { 'cloud.region': cfg.region } : {}),
    },
  });
  registerTracingMetrics(registry, () => tracing?.stats());
  const telemetry = new RequestTelemetry(tracing, new RequestMetrics(registry));

  const outbound = new OutboundProxy({ dataplane, logger: log, podIp: cfg.podIp || undefined, telemetry });
  const outboundPort = await outbound.listen(cfg.outboundAddress, cfg.outboundPort);
  const listeners: ServiceListener[] = [];
  const serviceListenerPorts: Record<string, number> = {};
  for (const spec of cfg.serviceListeners) {
    const listener = new ServiceListener({ dataplane, host: spec.host, port: spec.port, logger: log, podIp: cfg.podIp || undefined, telemetry });
    serviceListenerPorts[`${spec.host}:${spec.port}`] = await listener.listen(cfg.outboundAddress, spec.listenPort);
    listeners.push(listener);
  }
  let inbound: InboundProxy | undefined;
  let inboundPort: number | undefined;
  if (cfg.inboundPort !== undefined && cfg.appPort !== undefined) {
    inbound = new InboundProxy({ appPort: cfg.appPort, logger: log, telemetry });
    inboundPort = await inbound.listen('0.0.0.0', cfg.inboundPort);
  }

  registerConnectionMetrics(registry, {
    outbound: () => outbound.connections,
    ...(inbound ? { inbound: () => inbound!.connections } : {}),
    ...Object.fromEntries(listeners.map((l, i) => [`service:${cfg.serviceListeners[i]!.host}:${cfg.serviceListeners[i]!.port}`, () => l.connections])),
  });

  const app = adminApp({
    ready: () => config.ready,
    configDump: () => {
      const { xds, http } = discovery;
      return {
        identity: { ...identity, token: undefined },
        discovery: xds ? { type: 'grpc', address: cfg.controlPlane, ...xds.status() } : http ? { type: 'http', url: redactUrl(cfg.snapshotUrl!), ...http.status() } : { type: 'cache-only' },
        config: config.toJSON(),
      };
    },
    clusters: () => ({ clusters: dataplane.clusters(), traffic: outbound.stats() }),
    // A request without ?client= comes from the app in this pod, as the proxy sees it.
    explain: (url, request) => dataplane.explain(url.hostname, url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
      { ...request, client: request.client ?? (cfg.podIp || undefined) }),
    metrics: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  });
  const admin = await listenHttp(app.fetch, cfg.adminAddress, cfg.adminPort);
  const adminPort = (admin.address() as AddressInfo).port;
  identity = { ...identity, adminAddress: advertisedAdminAddress(cfg.adminAddress, adminPort, cfg.podIp) };
  const token: TokenSource | undefined = cfg.token.type === 'file' ? tokenFile(cfg.token.path) : cfg.token.type === 'static' ? staticToken(cfg.token.value) : undefined;
  discovery.xds = cfg.controlPlane
    ? new XdsClient({
      address: cfg.controlPlane, identity, config, scope: cfg.discoveryScope, logger: log, ...(token ? { token } : {}),
      // Zone and region not given by flags come from the Node's labels, via the control plane.
      onLocality: (locality) => dataplane.setLocality(locality),
    })
    : undefined;
  discovery.http = !discovery.xds && cfg.snapshotUrl
    ? new HttpDiscoveryClient({ url: cfg.snapshotUrl, config, ...(cfg.discoveryScope === 'all' ? {} : { namespaces: [cfg.namespace] }), logger: log, ...(token ? { token } : {}) })
    : undefined;
  const { xds, http } = discovery;

  cache?.start();
  xds?.start();
  http?.start();
  log.info({ outboundPort, adminPort, adminAddress: identity.adminAddress, auth: cfg.token.type === 'file' ? `file ${cfg.token.path}` : cfg.token.type, tracing: tracing ? `${tracing.exporter}${tracing.protocol ? ` ${tracing.protocol}` : ''}` : 'off', inboundPort, serviceListenerPorts, controlPlane: cfg.controlPlane ?? (cfg.snapshotUrl ? redactUrl(cfg.snapshotUrl) : null) }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    outboundPort, adminPort, inboundPort, serviceListenerPorts,
    close(drainMs = cfg.drainMs) {
      closing ??= (async () => {
        await Promise.all([
          outbound.close(drainMs),
          ...listeners.map((l) => l.close(drainMs)),
          inbound?.close(drainMs),
        ]);
        // The last spans get a short flush, never the exporter's full timeout (30 s by default).
        await Promise.all([xds?.close(), http?.close(), cache?.close(), tracing && Promise.race([tracing.shutdown(), delay(TRACE_FLUSH_MS)])]);
        await new Promise<void>((resolve) => admin.close(() => resolve()));
      })();
      return closing;
    },
  };
}

const TRACE_FLUSH_MS = 2000;
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

function listenHttp(fetch: (request: Request) => Response | Promise<Response>, hostname: string, port: number): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port }, () => resolve(server));
    server.once('error', reject);
  });
}
