// The control plane's HTTP app (--http-port): health, readiness, Prometheus metrics, debug
// pages and the snapshot API. The injection webhook is its own HTTPS app (../webhook/webhook-app.ts).
import { Hono } from 'hono';
import { TYPE_SERVICE } from '@skein/protocol';
import { snapshotApi } from './snapshot-api.js';
import type { SnapshotStore } from './snapshot-store.js';

export interface Readiness {
  ready: boolean;
  /** What is still missing, for humans: "source kubernetes not synced", "no snapshot yet". */
  waitingFor: string[];
}

export interface AdminAppDeps {
  store: SnapshotStore;
  readiness(): Readiness;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** One entry per connected subscriber (node, versions, ACK/NACK state). */
  proxies(): unknown[];
  /** Problems with input objects currently in force (rejected objects), newest first. */
  problems(): unknown[];
}

export function adminApp(deps: AdminAppDeps): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.text('ok\n'));
  app.get('/readyz', (c) => {
    const readiness = deps.readiness();
    return readiness.ready
      ? c.text('ready\n')
      : c.text(`not ready: ${readiness.waitingFor.join('; ')}\n`, 503);
  });
  app.get('/metrics', async (c) => {
    const { contentType, body } = await deps.metrics();
    return c.body(body, 200, { 'content-type': contentType });
  });
  app.get('/debug/proxies', (c) => c.json({ proxies: deps.proxies() }));
  app.get('/debug/problems', (c) => c.json({ problems: deps.problems() }));
  app.get('/debug/services', async (c) => {
    const snapshot = await deps.store.latest();
    if (!snapshot) return c.json({ version: null, services: [] });
    const groups = new Map<string, { resource: { endpoints?: Array<{ ready?: boolean }> } }>();
    for (const r of snapshot.resources) if (r.typeUrl !== TYPE_SERVICE) groups.set(r.name, JSON.parse(r.json));
    const services = snapshot.resources.filter((r) => r.typeUrl === TYPE_SERVICE).map((r) => {
      const parsed = JSON.parse(r.json) as { name: string; version: string; resource: Record<string, unknown> };
      const endpoints = groups.get(r.name)?.resource.endpoints ?? [];
      return {
        ...parsed,
        endpoints: { total: endpoints.length, ready: endpoints.filter((e) => e.ready).length },
      };
    });
    return c.json({ version: snapshot.version, services });
  });
  app.route('/', snapshotApi(deps.store));
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => c.json({ error: err.message }, 500));
  return app;
}
