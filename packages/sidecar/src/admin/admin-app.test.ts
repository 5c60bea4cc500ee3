// The admin API's request handling (the views behind it are tested with the data plane).
import { describe, expect, it } from 'vitest';
import type { ExplainRequest } from '../explain-decision.js';
import { adminApp, type AdminDeps } from './admin-app.js';

function app(explained: Array<{ url: string; request: ExplainRequest }>) {
  const deps: AdminDeps = {
    ready: () => true,
    configDump: () => ({}),
    clusters: () => ({}),
    explain: (url, request) => {
      explained.push({ url: url.href, request });
      return { ok: true };
    },
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
  };
  return adminApp(deps);
}

describe('admin /explain', () => {
  it('passes the URL, headers (header=name:value, repeatable) and the client address', async () => {
    const seen: Array<{ url: string; request: ExplainRequest }> = [];
    const res = await app(seen).request('/explain?url=web.demo/cart&header=X-User:%20alice&header=cookie:a=1;%20s=2&client=10.0.0.9');
    expect(res.status).toBe(200);
    expect(seen).toEqual([{ url: 'http://web.demo/cart', request: { headers: { 'x-user': 'alice', cookie: 'a=1; s=2' }, client: '10.0.0.9' } }]);
  });

  it('answers 400 with the reason for a missing URL, a bad URL or a header without a colon', async () => {
    const seen: Array<{ url: string; request: ExplainRequest }> = [];
    const cases: Array<[string, RegExp]> = [
      ['/explain', /give the request to explain/],
      ['/explain?url=http://%zz', /not a URL/],
      ['/explain?url=web&header=nocolon', /header "nocolon" is not name:value/],
    ];
    for (const [path, message] of cases) {
      const res = await app(seen).request(path);
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { error: string }).error, path).toMatch(message);
    }
    expect(seen).toEqual([]);
  });
});
