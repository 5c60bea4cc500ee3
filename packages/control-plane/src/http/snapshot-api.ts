// GET /v1/snapshot for HTTP-only clients (serverless functions). Uses only the fetch API
// (Request/Response through hono) and a SnapshotStore, so the same app runs in the control
// plane or on a serverless runtime in front of another store.
//
//   ?namespace=a&namespace=b   only these namespaces (also "a,b")
//   ?name=ns/svc               only these Services (and their EndpointGroups)
//   ?wait=30s                  with If-None-Match: hold the request until the content changes
import { Hono } from 'hono';
import { TYPE_SERVICE } from '@skein/protocol';
import { resourcesVersion, type SnapshotStore, type StoredResource, type StoredSnapshot } from './snapshot-store.js';

const MAX_WAIT_MS = 60_000;

function parseWait(value: string | undefined): number | undefined | 'invalid' {
  if (value === undefined || value === '') return undefined;
  const match = /^(\d+)(ms|s)?$/.exec(value);
  if (!match) return 'invalid';
  const n = Number(match[1]) * (match[2] === 'ms' ? 1 : 1000);
  return Math.min(n, MAX_WAIT_MS);
}

interface Filter {
  namespaces: Set<string> | undefined;
  names: Set<string> | undefined;
}

function select(snapshot: StoredSnapshot, filter: Filter): StoredResource[] {
  return snapshot.resources.filter((r) =>
    (!filter.namespaces || filter.namespaces.has(r.namespace)) && (!filter.names || filter.names.has(r.name)));
}

function render(snapshot: StoredSnapshot, resources: StoredResource[], etag: string): string {
  const services = resources.filter((r) => r.typeUrl === TYPE_SERVICE).map((r) => r.json);
  const groups = resources.filter((r) => r.typeUrl !== TYPE_SERVICE).map((r) => r.json);
  return `{"version":${JSON.stringify(etag)},"snapshotVersion":${JSON.stringify(snapshot.version)},` +
    `"createdAt":${JSON.stringify(new Date(snapshot.createdAt).toISOString())},` +
    `"services":[${services.join(',')}],"endpointGroups":[${groups.join(',')}]}`;
}

function stripEtag(value: string | undefined): string | undefined {
  return value?.replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

export function snapshotApi(store: SnapshotStore): Hono {
  const app = new Hono();
  app.get('/v1/snapshot', async (c) => {
    const wait = parseWait(c.req.query('wait'));
    if (wait === 'invalid') return c.json({ error: 'wait must be a duration such as 30s or 500ms' }, 400);
    const list = (key: string): Set<string> | undefined => {
      const values = c.req.queries(key)?.flatMap((v) => v.split(',')).filter(Boolean);
      return values && values.length > 0 ? new Set(values) : undefined;
    };
    const filter: Filter = { namespaces: list('namespace'), names: list('name') };
    const known = stripEtag(c.req.header('if-none-match'));
    const deadline = Date.now() + (wait ?? 0);
    let snapshot = await store.latest();
    if (!snapshot && wait === undefined) return c.json({ error: 'no snapshot published yet' }, 503, { 'retry-after': '1' });
    for (;;) {
      if (snapshot) {
        const resources = select(snapshot, filter);
        const etag = resourcesVersion(resources);
        if (etag !== known) {
          return c.body(render(snapshot, resources, etag), 200, {
            'content-type': 'application/json', etag: `"${etag}"`, 'cache-control': 'no-cache',
          });
        }
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const next = await store.waitForChange(snapshot?.version, remaining, c.req.raw.signal);
      if (!next) break;
      snapshot = next;
    }
    if (!snapshot) return c.json({ error: 'no snapshot published yet' }, 503, { 'retry-after': '1' });
    return c.body(null, 304, { etag: `"${known ?? ''}"` });
  });
  return app;
}
