// Library mode's discovery: builds the same MeshConfig -> Dataplane brain the sidecar runs,
// fed by the gRPC discovery stream or (serverless) the HTTP snapshot API, optionally seeded
// from a cache file. Only createMesh() calls this; nothing here runs on import.
import { hostname } from 'node:os';
import { createDataplane, type CoreDataplane } from '../dataplane-core.js';
import type { Dataplane } from '../dataplane.js';
import { CacheFile } from '../discovery/cache-file.js';
import { HttpDiscoveryClient } from '../discovery/http-discovery-client.js';
import { MeshConfig } from '../discovery/mesh-config.js';
import { staticToken, tokenFile, type TokenSource } from '../discovery/token-source.js';
import { XdsClient, type DiscoveryScope } from '../discovery/xds-client.js';
import type { NodeIdentity } from '../identity.js';
import type { Logger } from '../logger.js';
import type { OutboundPolicy } from '../routing/router.js';

/** Where library mode learns the mesh config from. */
export interface DiscoverySettings {
  controlPlane?: string;
  snapshotUrl?: string;
  /** HTTP discovery: keep long-polling (true) or poll only at start and on refresh() (false). */
  watch?: boolean;
  namespace: string;
  identity?: Partial<NodeIdentity>;
  scope?: DiscoveryScope;
  cacheFile?: string;
  outboundPolicy?: OutboundPolicy;
  clusterDomain?: string;
  logger: Logger;
}

/** A running discovery and the data plane it feeds. */
export interface MeshDiscovery {
  readonly dataplane: Dataplane;
  /** Polls once more (HTTP discovery); resolves at once for the stream, which pushes. Never rejects. */
  refresh(): Promise<void>;
  /** One line on the state of discovery, for not-ready errors. */
  describe(): string;
  /** Stops discovery and flushes the cache file; leaves no timer or socket. */
  close(): Promise<void>;
}

/** Starts discovery for `settings`. Throws (a start-up configuration error) when it has nowhere to go. */
export function startDiscovery(settings: DiscoverySettings): MeshDiscovery {
  const { logger, namespace } = settings;
  if (settings.controlPlane && settings.snapshotUrl) throw new Error('createMesh: pass controlPlane or snapshotUrl, not both');
  const identity = libraryIdentity(namespace, settings.identity ?? {});
  const config = new MeshConfig({ logger });
  const dataplane: CoreDataplane = createDataplane(config, {
    namespace, clusterDomain: settings.clusterDomain, outboundPolicy: settings.outboundPolicy,
    nodeName: identity.nodeName, zone: identity.zone, region: identity.region,
  });
  // A given token wins; in a pod, SKEIN_TOKEN_FILE names the projected token, read at every connect.
  const tokenPath = process.env.SKEIN_TOKEN_FILE;
  const token: TokenSource = identity.token || !tokenPath ? staticToken(identity.token) : tokenFile(tokenPath);
  let source: { refresh(): Promise<void>; describe(): string; close(): Promise<void> };
  if (settings.snapshotUrl) {
    const url = settings.snapshotUrl;
    const http = new HttpDiscoveryClient({
      url, config, logger, namespaces: settings.scope === 'namespace' ? [namespace] : undefined, token,
    });
    // Serverless: a background long poll would hold the function's event loop open between
    // invocations, so by default poll now and again whenever the app calls refresh().
    // Until a first config arrives, the first poll retries with backoff (a function's first
    // invocation may race the control plane's start); its timers are unref'd so they never
    // hold a function's event loop open.
    let stopped = false;
    const pollUntilReady = async (): Promise<void> => {
      for (let delayMs = 200; !stopped && !config.ready; delayMs = Math.min(delayMs * 2, 5000)) {
        await http.refresh().catch(() => undefined);
        if (config.ready || stopped) return;
        await new Promise<void>((resolve) => setTimeout(resolve, delayMs).unref());
      }
    };
    if (settings.watch) http.start();
    else void pollUntilReady();
    source = {
      refresh: () => http.refresh(),
      describe: () => `snapshot API ${url}: ${http.status().lastError ?? (http.status().connected ? 'connected' : 'no answer yet')}`,
      close: () => {
        stopped = true;
        return http.close();
      },
    };
  } else {
    const address = settings.controlPlane;
    if (!address) throw new Error('createMesh: no control plane: pass controlPlane, snapshotUrl or dataplane, or set SKEIN_CONTROL_PLANE');
    const xds = new XdsClient({
      address, identity, config, scope: settings.scope, logger, token,
      onLocality: (locality) => dataplane.setLocality(locality),
    });
    xds.start();
    source = {
      refresh: () => Promise.resolve(),
      describe: () => `control plane ${address}: ${xds.status().lastError ?? (xds.status().connected ? 'connected' : 'no answer yet')}`,
      close: () => xds.close(),
    };
  }
  // The cache file seeds the config while the control plane is away, then keeps the last good one.
  let closed = false;
  const cache = settings.cacheFile ? new CacheFile(settings.cacheFile, config, logger) : undefined;
  const cacheLoaded = cache?.load().then(() => {
    if (!closed) cache.start();
  }, (error: unknown) => logger.warn({ error: String(error) }, 'library: cache file not loaded'));
  return {
    dataplane,
    refresh: () => source.refresh(),
    describe: () => source.describe(),
    async close() {
      closed = true;
      await source.close();
      await cacheLoaded;
      await cache?.close();
      dataplane.close();
    },
  };
}

/** The Node identity of an embedding app: Downward-API environment variables, then defaults. */
function libraryIdentity(namespace: string, given: Partial<NodeIdentity>): NodeIdentity {
  const env = process.env;
  const podName = given.podName ?? env.POD_NAME ?? hostname();
  return {
    // Distinct from a sidecar in the same pod ("<pod>.<ns>"), and per process.
    id: given.id ?? `${podName}.${namespace}~library-${String(process.pid)}`,
    podName,
    namespace,
    podIp: given.podIp ?? env.POD_IP ?? '',
    nodeName: given.nodeName ?? env.NODE_NAME ?? '',
    zone: given.zone ?? env.SKEIN_ZONE ?? '',
    region: given.region ?? env.SKEIN_REGION ?? '',
    ...(given.labels ? { labels: given.labels } : {}),
    ...(given.token ? { token: given.token } : {}),
  };
}
