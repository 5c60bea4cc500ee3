// Composition root: config -> source -> cluster state -> model -> snapshot cache -> servers.
// Everything with I/O is created here and nowhere deeper.
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '@skein/protocol';
import { createAuthenticator } from './auth/create-authenticator.js';
import type { ControlPlaneConfig } from './config.js';
import { adminApp } from './http/admin-app.js';
import { MemorySnapshotStore, toStoredSnapshot } from './http/snapshot-store.js';
import type { Logger } from './log.js';
import { ControlPlaneMetrics } from './metrics.js';
import { ClusterState } from './model/cluster-state.js';
import { locate } from './model/endpoint-draft.js';
import { describeRef, KUBE_KINDS, refKey } from './model/kube-objects.js';
import type { Problem } from './model/mesh-model.js';
import { buildMeshModel, updateMeshModel } from './model/translate.js';
import type { MeshModel } from './model/mesh-model.js';
import { MemorySnapshotCache } from './snapshot/snapshot-cache.js';
import { SnapshotPublisher, systemClock } from './snapshot/publisher.js';
import { SubscriberRegistry } from './snapshot/subscriber-registry.js';
import { FilesSource } from './sources/files.js';
import { KubernetesSource } from './sources/kubernetes.js';
import type { Source, SourceEvent } from './sources/source.js';
import { startWebhook } from './webhook/start-webhook.js';
import { DiscoveryServer } from './xds/discovery-server.js';

export interface RunningControlPlane {
  readonly grpcPort: number;
  readonly httpPort: number;
  /** The injection webhook's HTTPS port; undefined when there is no webhook (files mode without a cert dir). */
  readonly webhookPort: number | undefined;
  /** Stops accepting, lets streams finish for up to `graceMs`, then stops everything. */
  close(graceMs?: number): Promise<void>;
}

const MAX_PROBLEMS = 200;

function formatProblem(problem: Problem): string {
  return `${problem.origin}: ${problem.ref ? `${describeRef(problem.ref)}: ` : ''}${problem.reason}`;
}

function createSource(config: ControlPlaneConfig): Source {
  return config.source.type === 'files'
    ? new FilesSource({ dir: config.source.dir })
    : new KubernetesSource(config.source.kubeconfig ? { kubeconfig: { path: config.source.kubeconfig } } : {});
}

export async function startControlPlane(config: ControlPlaneConfig, log: Logger): Promise<RunningControlPlane> {
  const registry = new SubscriberRegistry();
  const metrics = new ControlPlaneMetrics(registry);
  const state = new ClusterState();
  const cache = new MemorySnapshotCache();
  const store = new MemorySnapshotStore();
  const source = createSource(config);
  const authenticator = await createAuthenticator(config.auth, config.source);
  // Problems in force, keyed by object (or origin) so a fixed object clears its entry.
  const problems = new Map<string, Problem & { at: string }>();
  let synced = false;
  let model: MeshModel | undefined;

  const report = (problem: Problem): void => {
    const key = problem.ref ? refKey(problem.ref) : problem.origin;
    problems.delete(key);
    problems.set(key, { ...problem, at: new Date().toISOString() });
    if (problems.size > MAX_PROBLEMS) problems.delete(problems.keys().next().value as string);
    metrics.inputProblems.inc({ kind: problem.ref?.kind ?? 'unknown' });
    log.warn({ origin: problem.origin, object: problem.ref, reason: problem.reason }, formatProblem(problem));
  };

  cache.watch((snapshot) => {
    store.publish(toStoredSnapshot(snapshot));
    metrics.snapshotsPublished.inc();
    metrics.resources.set({ type: TYPE_SERVICE }, snapshot.resources.get(TYPE_SERVICE)?.size ?? 0);
    metrics.resources.set({ type: TYPE_ENDPOINT_GROUP }, snapshot.resources.get(TYPE_ENDPOINT_GROUP)?.size ?? 0);
    log.info({ version: snapshot.version }, 'snapshot published');
  });

  const publisher = new SnapshotPublisher({
    clock: systemClock,
    debounceMs: config.debounceMs,
    maxDelayMs: config.debounceMaxMs,
    leading: config.debounceLeading,
    cache,
    // Incremental: only Services whose inputs changed are translated again.
    build: () => {
      const options = { clusterDomain: config.clusterDomain };
      const changes = state.takeChanges();
      model = model ? updateMeshModel(model, state, changes, options) : buildMeshModel(state, options);
      return model;
    },
    onBuilt: (durationMs) => metrics.snapshotBuild.observe(durationMs / 1000),
    onProblem: (problem) => log.warn(problem, `snapshot: ${problem.typeUrl} "${problem.name}" left out: ${problem.reason}`),
    // A bug in translation must not take the mesh down: the last snapshot stays in force.
    onError: (err) => log.error({ err }, 'snapshot build failed; keeping the last published snapshot'),
  });

  // `seenAt`: when the source saw the change, carried to the ACKs for push latency.
  const onEvent = (event: SourceEvent, seenAt?: number): void => {
    switch (event.type) {
      case 'upsert':
      case 'delete': {
        const result = state.apply(event);
        for (const problem of result.problems) report(problem);
        if (result.problems.length === 0) {
          const ref = event.type === 'delete' ? event.ref : undefined;
          if (ref) problems.delete(refKey(ref));
        }
        if (result.changed) {
          if (event.type === 'upsert') {
            const meta = event.object.metadata;
            problems.delete(refKey({ kind: event.kind, namespace: meta?.namespace ?? '', name: meta?.name ?? '' }));
          }
          for (const kind of KUBE_KINDS) metrics.objects.set({ kind }, state.counts()[kind]);
          if (synced) publisher.notify(seenAt);
        }
        return;
      }
      case 'invalid':
        report({ origin: event.origin, reason: event.reason, ...(event.ref ? { ref: event.ref } : {}) });
        return;
      case 'synced':
        synced = true;
        metrics.sourceSynced.set({ source: source.name }, 1);
        log.info({ source: source.name, objects: state.counts() }, 'source synced');
        publisher.flush();
        return;
      case 'status':
        metrics.sourceConnected.set({ source: source.name }, event.state === 'connected' ? 1 : 0);
        log[event.state === 'connected' ? 'info' : 'warn']({ source: source.name, detail: event.detail }, `source ${event.state}`);
        return;
    }
  };

  const discovery = new DiscoveryServer({
    cache,
    registry,
    controlPlaneId: config.id,
    maxReceiveMessageBytes: config.maxMessageBytes,
    authenticator,
    // A sidecar learns its zone and region from its Node's labels (the downward API cannot give them).
    localityOf: (nodeName) => {
      const locality = locate(state, nodeName);
      return locality.zone || locality.region ? locality : undefined;
    },
    logger: log.child({ component: 'xds' }),
    events: {
      streamOpened: () => { metrics.streamsTotal.inc(); metrics.subscribers.inc(); },
      streamClosed: () => metrics.subscribers.dec(),
      responseSent: (e) => { metrics.pushes.inc({ type: e.typeUrl, mode: e.mode }); metrics.pushBytes.inc({ type: e.typeUrl }, e.bytes); },
      ack: (e) => {
        metrics.acks.inc({ type: e.typeUrl });
        if (e.sinceEventMs !== undefined) metrics.pushLatency.observe({ type: e.typeUrl }, e.sinceEventMs / 1000);
      },
      nack: (e) => metrics.nacks.inc({ type: e.typeUrl }),
      requestRejected: () => metrics.rejectedStreams.inc(),
      authRefused: (e) => metrics.authFailures.inc({ reason: e.reason }),
    },
  });

  metrics.observePushQueue(() => discovery.pushQueue());

  const app = adminApp({
    store,
    readiness: () => {
      const waitingFor: string[] = [];
      if (!synced) waitingFor.push(`source ${source.name} not synced`);
      if (!cache.current()) waitingFor.push('no snapshot published yet');
      return { ready: waitingFor.length === 0, waitingFor };
    },
    metrics: () => metrics.render(),
    proxies: () => registry.list().map((s) => s.toJSON()),
    problems: () => [...problems.values()].reverse().map((p) => ({ ...p, message: formatProblem(p) })),
  });

  const grpcPort = await discovery.listen(config.listenAddress, config.grpcPort);
  const http = await listenHttp(app.fetch, config.listenAddress, config.httpPort);
  const httpPort = (http.address() as AddressInfo).port;
  const webhook = await startWebhook(config, log, (result) => metrics.webhookInjections.inc({ result }));
  const webhookPort = webhook?.port;
  metrics.sourceSynced.set({ source: source.name }, 0);
  await source.start(onEvent);
  log.info({ grpcPort, httpPort, ...(webhook ? { webhookPort } : {}), source: source.name, id: config.id, auth: authenticator.mode }, 'listening');

  let closing: Promise<void> | undefined;
  return {
    grpcPort,
    httpPort,
    webhookPort,
    close(graceMs = config.shutdownGraceMs) {
      closing ??= (async () => {
        await source.stop();
        publisher.close();
        store.close();
        await Promise.all([
          discovery.shutdown(graceMs),
          new Promise<void>((resolve) => http.close(() => resolve())),
          webhook?.close(),
        ]);
        if ('closeAllConnections' in http) (http as { closeAllConnections(): void }).closeAllConnections();
      })();
      return closing;
    },
  };
}

function listenHttp(fetch: (request: Request) => Response | Promise<Response>, hostname: string, port: number): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port }, () => resolve(server));
    server.once('error', reject);
  });
}
