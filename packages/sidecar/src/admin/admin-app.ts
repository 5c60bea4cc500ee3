// The sidecar's admin API (--admin-port): readiness, config dump, per-endpoint state,
// metrics and request explanations. hono with the fetch API only.
import { Hono } from 'hono';
import type { ExplainRequest } from '../explain-decision.js';

export interface AdminDeps {
  /** True once a snapshot (or the cache file) is applied. */
  ready(): boolean;
  /** Services, endpoints, versions and the last NACK. */
  configDump(): unknown;
  /** Per service port: endpoints, their state and counters. */
  clusters(): unknown;
  /** How a request to this URL, with these headers and client address, would be routed. */
  explain(url: URL, request: ExplainRequest): unknown;
  metrics(): Promise<{ contentType: string; body: string }>;
}

export function adminApp(deps: AdminDeps): Hono {
  const app = new Hono();
  app.get('/ready', (c) => (deps.ready() ? c.text('ready\n') : c.text('not ready: no config applied yet (waiting for the control plane or the cache file)\n', 503)));
  app.get('/healthz', (c) => c.text('ok\n'));
  app.get('/config_dump', (c) => c.json(deps.configDump() as object));
  app.get('/clusters', (c) => c.json(deps.clusters() as object));
  app.get('/explain', (c) => {
    const raw = c.req.query('url');
    if (!raw) return c.json({ error: 'give the request to explain as ?url=http://<host>[:port]/path' }, 400);
    let url: URL;
    try {
      url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
    } catch {
      return c.json({ error: `not a URL: ${raw}` }, 400);
    }
    const headers: Record<string, string> = {};
    for (const header of c.req.queries('header') ?? []) {
      const colon = header.indexOf(':');
      if (colon <= 0) return c.json({ error: `header "${header}" is not name:value` }, 400);
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    }
    const client = c.req.query('client');
    return c.json(deps.explain(url, client ? { headers, client } : { headers }) as object);
  });
  app.get('/metrics', async (c) => {
    const { contentType, body } = await deps.metrics();
    return c.body(body, 200, { 'content-type': contentType });
  });
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((err, c) => c.json({ error: err.message }, 500));
  return app;
}
