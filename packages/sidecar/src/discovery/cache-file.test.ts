import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '@skein/testkit';
import { encodeEndpointGroup, encodeService, TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '@skein/protocol';
import { CacheFile, type CacheDocument } from './cache-file.js';
import { MeshConfig } from './mesh-config.js';

const service = (name: string, port = 80) => ({
  name, version: `v${port}`,
  body: encodeService({ name, namespace: name.split('/')[0], clusterIps: ['10.96.0.10'], ports: [{ name: 'http', port }] }),
});
const group = (name: string, ...addresses: string[]) => ({
  name, version: `v-${addresses.join(',')}`,
  body: encodeEndpointGroup({ name, namespace: name.split('/')[0], service: name.split('/')[1], endpoints: addresses.map((address) => ({ address, ports: [{ name: 'http', port: 8080 }] })) }),
});

function readyConfig(): MeshConfig {
  const config = new MeshConfig();
  config.apply(TYPE_SERVICE, { resources: [service('demo/web'), service('demo/api', 81)], removed: [], replace: true });
  config.apply(TYPE_ENDPOINT_GROUP, { resources: [group('demo/web', '10.0.0.1', '10.0.0.2')], removed: [], replace: true });
  return config;
}

describe('CacheFile', () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-cache-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips the config: a config loaded from the file is ready with no control plane', async () => {
    const path = join(tempDir(), 'nested', 'config.json');
    const source = readyConfig();
    const writer = new CacheFile(path, source);
    writer.start();
    source.markReady();
    await eventually(() => {
      try {
        return (JSON.parse(readFileSync(path, 'utf8')) as CacheDocument).resources.length === 3;
      } catch {
        return false;
      }
    });
    await writer.close();

    const restored = new MeshConfig();
    expect(await new CacheFile(path, restored).load()).toEqual({ loaded: true });
    expect(restored.ready).toBe(true);
    expect([...restored.services().keys()].sort()).toEqual(['demo/api', 'demo/web']);
    expect(restored.services().get('demo/api')?.ports[0]?.port).toBe(81);
    expect(restored.endpointGroup('demo/web')?.endpoints[0]?.address).toBe('10.0.0.1');
    // Written with the ports both endpoints share once (shared_ports), read back onto each.
    expect(restored.endpointGroup('demo/web')?.endpoints.map((e) => e.ports?.map((p) => p.port))).toEqual([[8080], [8080]]);
    expect(restored.versions(TYPE_SERVICE)).toEqual(source.versions(TYPE_SERVICE));
    expect(restored.versions(TYPE_ENDPOINT_GROUP)).toEqual(source.versions(TYPE_ENDPOINT_GROUP));
  });

  it('flushes a pending write on close, and writes nothing for a config that is not ready', async () => {
    const dir = tempDir();
    const path = join(dir, 'config.json');
    const config = readyConfig();
    const cache = new CacheFile(path, config);
    cache.start();
    config.apply(TYPE_SERVICE, { resources: [service('demo/extra')], removed: [], replace: false });
    await cache.close();
    expect(readdirSync(dir)).toEqual([]);

    const ready = readyConfig();
    const second = new CacheFile(path, ready);
    second.start();
    ready.markReady();
    ready.apply(TYPE_SERVICE, { resources: [service('demo/extra')], removed: [], replace: false });
    await second.close();
    const doc = JSON.parse(readFileSync(path, 'utf8')) as CacheDocument;
    expect(doc.formatVersion).toBe(1);
    expect(doc.resources.map((r) => `${r.typeUrl} ${r.name}`).sort()).toEqual([
      `${TYPE_ENDPOINT_GROUP} demo/web`, `${TYPE_SERVICE} demo/api`, `${TYPE_SERVICE} demo/extra`, `${TYPE_SERVICE} demo/web`,
    ]);
  });

  it('replaces the file atomically: every read sees a whole document, and no temp file is left', async () => {
    const dir = tempDir();
    const path = join(dir, 'config.json');
    const config = readyConfig();
    config.markReady();
    const cache = new CacheFile(path, config);
    cache.start();
    // Large enough that a non-atomic write would be observed half-written.
    const many = Array.from({ length: 2000 }, (_, i) => service(`load/svc-${i}`));
    let reads = 0;
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        let text: string | undefined;
        try {
          text = readFileSync(path, 'utf8');
        } catch {
          // Not written yet.
        }
        if (text !== undefined) {
          expect(() => JSON.parse(text)).not.toThrow();
          reads++;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    for (let round = 0; round < 15; round++) {
      config.apply(TYPE_SERVICE, { resources: many.map((s) => ({ ...s, version: `${round}` })), removed: [], replace: false });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await cache.close();
    stop = true;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect(readdirSync(dir)).toEqual(['config.json']);
    const doc = JSON.parse(readFileSync(path, 'utf8')) as CacheDocument;
    expect(doc.resources.find((r) => r.name === 'load/svc-0')?.version).toBe('14');
  });

  it('reports a missing, corrupt or foreign file as a reason, leaving the config not ready', async () => {
    const dir = tempDir();
    const config = new MeshConfig();
    const missing = await new CacheFile(join(dir, 'none.json'), config).load();
    expect(missing).toEqual({ loaded: false, reason: expect.stringContaining('no cache file') });
    writeFileSync(join(dir, 'torn.json'), '{"formatVersion":1,"resources":[{"typeUrl":');
    expect((await new CacheFile(join(dir, 'torn.json'), config).load()).reason).toContain('is not JSON');
    writeFileSync(join(dir, 'v9.json'), JSON.stringify({ formatVersion: 9, resources: [] }));
    expect((await new CacheFile(join(dir, 'v9.json'), config).load()).reason).toContain('not a format 1 cache file');
    const allBad = { formatVersion: 1, savedAt: '', resources: [{ typeUrl: TYPE_SERVICE, name: 'demo/web', version: '1', body: Buffer.from([0xff, 0xff]).toString('base64') }] };
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(allBad));
    expect((await new CacheFile(join(dir, 'bad.json'), config).load()).reason).toContain('every resource');
    expect(config.ready).toBe(false);
    expect(config.services().size).toBe(0);
  });

  it('loads the valid resources of a partly invalid file through the same validation', async () => {
    const path = join(tempDir(), 'config.json');
    const entry = (typeUrl: string, r: { name: string; version: string; body: Uint8Array }) => ({ typeUrl, name: r.name, version: r.version, body: Buffer.from(r.body).toString('base64') });
    writeFileSync(path, JSON.stringify({
      formatVersion: 1, savedAt: '', resources: [
        entry(TYPE_SERVICE, service('demo/web')),
        entry(TYPE_ENDPOINT_GROUP, group('demo/web', 'not-an-ip')),
        { typeUrl: 'skein.v1.Route', name: 'x', version: '1', body: '' },
      ],
    }));
    const config = new MeshConfig();
    expect(await new CacheFile(path, config).load()).toEqual({ loaded: true });
    expect(config.ready).toBe(true);
    expect(config.services().has('demo/web')).toBe(true);
    expect(config.endpointGroup('demo/web')).toBeUndefined();
  });

  it('does not load over a config that is already ready', async () => {
    const path = join(tempDir(), 'config.json');
    const config = readyConfig();
    config.markReady();
    expect(await new CacheFile(path, config).load()).toEqual({ loaded: false, reason: 'the config is already ready' });
  });
});
