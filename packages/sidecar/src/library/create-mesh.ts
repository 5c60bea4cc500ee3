// Library mode's entry: createMesh() gives an app the data plane in-process — a fetch, an
// undici dispatcher and grpc-js resolution that pick endpoints themselves (no proxy hop,
// same brain as the sidecar; ARCHITECTURE section 5). Nothing starts before it is called.
import { fetch as undiciFetch, Request as UndiciRequest, type RequestInfo, type RequestInit, type Response } from 'undici';
import type { Dataplane } from '../dataplane.js';
import type { DiscoveryScope } from '../discovery/xds-client.js';
import type { NodeIdentity } from '../identity.js';
import { noopLogger, type Logger } from '../logger.js';
import type { OutboundPolicy } from '../routing/router.js';
import { createMeshGrpc, type MeshGrpc } from './grpc-resolver.js';
import { MeshDispatcher } from './mesh-dispatcher.js';
import { startDiscovery, type MeshDiscovery } from './mesh-discovery.js';
import { ERR_CLOSED, ERR_NOT_READY, MeshError } from './mesh-error.js';

export interface MeshOptions {
  /** host:port of the control plane's gRPC discovery stream. Default: env SKEIN_CONTROL_PLANE. */
  controlPlane?: string;
  /**
   * HTTP-only discovery (serverless): the control plane's HTTP base URL; polls GET /v1/snapshot.
   * Default: env SKEIN_SNAPSHOT_URL when no control plane is given.
   */
  snapshotUrl?: string;
  /** With snapshotUrl: keep long-polling in the background. Default false: poll at start and on `refresh()`. */
  watch?: boolean;
  /** The app's namespace; short names resolve relative to it. Default: env POD_NAMESPACE, else "default". */
  namespace?: string;
  /** Who this app is to the control plane; unset fields come from POD_NAME, POD_IP, NODE_NAME, SKEIN_ZONE, SKEIN_REGION. */
  identity?: Partial<NodeIdentity>;
  /** What to subscribe to: every Service (default), the own namespace, or only names used. */
  scope?: DiscoveryScope;
  /** Keep the last good config here and start from it when the control plane is away. */
  cacheFile?: string;
  /** Hosts outside the mesh: 'allow-any' (default) connects directly; 'registry-only' refuses them. */
  outboundPolicy?: OutboundPolicy;
  /** Cluster DNS domain. Default "cluster.local". */
  clusterDomain?: string;
  /** Default: a no-op logger (library mode is silent unless asked). */
  logger?: Logger;
  /** Use this data plane instead of discovery (tests, custom discovery). The mesh does not close it. */
  dataplane?: Dataplane;
}

/** A WHATWG fetch that routes through the mesh. Responses are undici's Response class. */
export type MeshFetch = (input: RequestInfo | Request, init?: RequestInit) => Promise<Response>;

export interface Mesh {
  /**
   * fetch through the mesh: `await mesh.fetch('http://web.demo/hello')`. A mesh refusal
   * rejects with `TypeError('fetch failed')` whose `cause` is a {@link MeshError} (`cause.code`
   * is the SKEIN_ERR_* code), as undici reports every network error.
   */
  readonly fetch: MeshFetch;
  /** An undici Dispatcher: `request(url, { dispatcher })`, `fetch(url, { dispatcher })`, `setGlobalDispatcher()`. */
  readonly dispatcher: MeshDispatcher;
  /** grpc-js integration: `new Client(mesh.grpc.target('web.demo:50051'), credentials.createInsecure())`. */
  readonly grpc: MeshGrpc;
  readonly dataplane: Dataplane;
  /** Resolves once a config is applied; rejects with SKEIN_ERR_NOT_READY after `timeoutMs` (default 10 s). */
  ready(timeoutMs?: number): Promise<void>;
  /** HTTP discovery: polls the snapshot once more (call it at the start of each invocation). Otherwise a no-op. */
  refresh(): Promise<void>;
  /** Stops discovery and closes every connection pool after in-flight requests finish. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_READY_MS = 10_000;
const UNKNOWN_NAME_WAIT_MS = 2_000;

/** Creates a mesh and starts its discovery (unless `options.dataplane` is given). */
export function createMesh(options: MeshOptions = {}): Mesh {
  const env = process.env;
  const logger = options.logger ?? noopLogger;
  let discovery: MeshDiscovery | undefined;
  let dataplane: Dataplane;
  if (options.dataplane) {
    dataplane = options.dataplane;
  } else {
    const explicit = options.controlPlane !== undefined || options.snapshotUrl !== undefined;
    discovery = startDiscovery({
      controlPlane: explicit ? options.controlPlane : env.SKEIN_CONTROL_PLANE || undefined,
      snapshotUrl: explicit ? options.snapshotUrl : env.SKEIN_CONTROL_PLANE ? undefined : env.SKEIN_SNAPSHOT_URL || undefined,
      watch: options.watch,
      namespace: options.namespace ?? options.identity?.namespace ?? (env.POD_NAMESPACE || 'default'),
      identity: options.identity, scope: options.scope, cacheFile: options.cacheFile,
      outboundPolicy: options.outboundPolicy, clusterDomain: options.clusterDomain, logger,
    });
    dataplane = discovery.dataplane;
  }
  let closing: Promise<void> | undefined;
  const readyWaiters = new Set<(error: Error) => void>();
  const dispatcher = new MeshDispatcher({
    dataplane, logger, unknownNameWaitMs: UNKNOWN_NAME_WAIT_MS, sourceAddress: options.identity?.podIp || env.POD_IP || undefined,
  });
  const grpc = createMeshGrpc({ dataplane, unknownNameWaitMs: UNKNOWN_NAME_WAIT_MS, isClosed: () => closing !== undefined });

  return {
    dataplane, dispatcher, grpc,
    fetch: (input, init) => undiciFetch(toUndiciInput(input), { ...init, dispatcher: init?.dispatcher ?? dispatcher }),
    ready(timeoutMs = DEFAULT_READY_MS) {
      if (closing) return Promise.reject(new MeshError(ERR_CLOSED, 'skein: the mesh is closed'));
      if (dataplane.ready) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const settle = (error?: Error): void => {
          clearTimeout(timer);
          stop();
          readyWaiters.delete(settle);
          if (error) reject(error);
          else resolve();
        };
        const stop = dataplane.onChange(() => {
          if (dataplane.ready) settle();
        });
        const timer = setTimeout(() => settle(new MeshError(ERR_NOT_READY,
          `skein: mesh config not ready after ${String(timeoutMs)} ms (${discovery?.describe() ?? 'injected data plane'})`)), timeoutMs);
        readyWaiters.add(settle);
      });
    },
    refresh: () => discovery?.refresh() ?? Promise.resolve(),
    close() {
      closing ??= (async () => {
        for (const settle of [...readyWaiters]) settle(new MeshError(ERR_CLOSED, 'skein: the mesh was closed before its config was ready'));
        await Promise.all([dispatcher.close(), discovery?.close()]);
      })();
      return closing;
    },
  };
}

/**
 * undici's fetch knows only its own Request class; a Request built with the global
 * constructor (Node's bundled undici) is copied field by field, body streamed through.
 */
function toUndiciInput(input: RequestInfo | Request): RequestInfo {
  if (typeof input === 'string' || input instanceof URL || input instanceof UndiciRequest) return input;
  return new UndiciRequest(input.url, {
    method: input.method, headers: [...input.headers], body: input.body as ReadableStream | null, signal: input.signal,
    redirect: input.redirect, integrity: input.integrity, keepalive: input.keepalive,
    ...(input.body ? { duplex: 'half' as const } : {}),
  });
}
