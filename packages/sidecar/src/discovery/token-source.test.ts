import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HttpDiscoveryClient } from './http-discovery-client.js';
import { MeshConfig } from './mesh-config.js';
import { staticToken, tokenFile } from './token-source.js';

describe('token sources', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-token-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('static: the value, or none', async () => {
    expect(await staticToken('abc')()).toEqual({ ok: true, token: 'abc' });
    expect(await staticToken('')()).toEqual({ ok: true, token: undefined });
    expect(await staticToken(undefined)()).toEqual({ ok: true, token: undefined });
  });

  it('file: the trimmed content, read again on every call', async () => {
    const path = join(dir, 'token');
    const source = tokenFile(path);
    writeFileSync(path, 'first\n');
    expect(await source()).toEqual({ ok: true, token: 'first' });
    writeFileSync(path, 'second');
    expect(await source()).toEqual({ ok: true, token: 'second' });
  });

  it('file: missing or empty is an error value naming the file, never a throw', async () => {
    const missing = join(dir, 'absent');
    expect(await tokenFile(missing)()).toEqual({ ok: false, error: `cannot read token file ${missing}: ENOENT` });
    const empty = join(dir, 'empty');
    writeFileSync(empty, ' \n');
    expect(await tokenFile(empty)()).toEqual({ ok: false, error: `token file ${empty} is empty` });
  });
});

describe('HttpDiscoveryClient with a token', () => {
  it('sends Authorization: Bearer on each poll, and treats an unreadable token as a failed poll', async () => {
    const seen: Array<string | null> = [];
    const fetchStub: typeof fetch = async (_input, init) => {
      seen.push(new Headers(init?.headers).get('authorization'));
      return new Response(JSON.stringify({ version: 'v1', services: [], endpointGroups: [] }), { status: 200, headers: { etag: '"v1"' } });
    };
    let token: { ok: true; token: string } | { ok: false; error: string } = { ok: true, token: 'tok-1' };
    const client = new HttpDiscoveryClient({ url: 'http://127.0.0.1:1', config: new MeshConfig(), fetch: fetchStub, token: async () => token });
    await client.refresh();
    token = { ok: true, token: 'tok-2' };
    await client.refresh();
    expect(seen).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    token = { ok: false, error: 'cannot read token file /t: ENOENT' };
    await client.refresh();
    expect(seen).toHaveLength(2);
    expect(client.status()).toMatchObject({ connected: false, lastError: 'cannot read token file /t: ENOENT' });
    await client.close();
  });
});
