// The library entry has no side effects on import (CONVENTIONS rule 8): no discovery,
// timer, socket, signal handler, global fetch/dispatcher change or grpc-js resolver.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP', 'uncaughtException', 'unhandledRejection', 'exit', 'beforeExit'] as const;

describe('importing @skein/sidecar', () => {
  it('starts nothing in this process (source entry)', async () => {
    const signals = SIGNALS.map((s) => process.listenerCount(s));
    const fetchBefore = globalThis.fetch;
    const before = process.getActiveResourcesInfo();
    const entry = await import('./index.js');
    await new Promise((resolve) => setImmediate(resolve));
    expect(typeof entry.createMesh).toBe('function');
    // The test runner's own timers come and go; the import may only not add any.
    expect(added(before, process.getActiveResourcesInfo())).toEqual([]);
    expect(SIGNALS.map((s) => process.listenerCount(s))).toEqual(signals);
    expect(globalThis.fetch).toBe(fetchBefore);
  });

  it('lets a process that only imports it exit at once (built entry; run pnpm build first)', async () => {
    expect(existsSync(join(packageDir, 'dist', 'index.js')), 'packages/sidecar/dist is missing: run pnpm build').toBe(true);
    // Imported by package name from inside the package (self-reference), so `@grpc/grpc-js`
    // resolves to the very copy the library uses, and its resolver registry can be checked.
    const script = `
      const resourcesBefore = process.getActiveResourcesInfo();
      const signals = () => ${JSON.stringify(SIGNALS)}.map((s) => process.listenerCount(s));
      const before = signals();
      const fetchBefore = globalThis.fetch;
      const undici = await import('undici');
      const dispatcherBefore = undici.getGlobalDispatcher();
      const mesh = await import('@skein/sidecar');
      await new Promise((resolve) => setImmediate(resolve));
      const resources = process.getActiveResourcesInfo();
      const grpc = await import('@grpc/grpc-js');
      let skeinScheme = true;
      try { grpc.experimental.createResolver({ scheme: 'skein', path: 'web.demo:80' }, () => true, {}); } catch { skeinScheme = false; }
      const report = {
        exports: Object.keys(mesh), resourcesBefore, resources,
        signalsAdded: signals().map((n, i) => n - before[i]), fetchSame: globalThis.fetch === fetchBefore,
        dispatcherSame: undici.getGlobalDispatcher() === dispatcherBefore, skeinScheme,
      };
      process.stdout.write(JSON.stringify(report));
    `;
    const started = Date.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, err).toBe(0);
    // Nothing keeps the event loop alive: the process ends as soon as the script does.
    expect(Date.now() - started).toBeLessThan(5_000);
    const report = JSON.parse(out) as { resources: string[]; resourcesBefore: string[]; exports: string[] };
    expect(report.exports, err).toContain('createMesh');
    // Stdio is not ours: node:assert (loaded by undici) opens the stderr stream to choose
    // colours, and a pending fs close of a module file may still be in flight.
    const ours = added(report.resourcesBefore, report.resources).filter((r) => !['CloseReq', 'PipeWrap', 'TTYWrap'].includes(r));
    expect(ours, err).toEqual([]);
    expect(report).toMatchObject({ signalsAdded: SIGNALS.map(() => 0), fetchSame: true, dispatcherSame: true, skeinScheme: false });
  });
});

/** Resources in `after` beyond those in `before` (a multiset difference). */
function added(before: string[], after: string[]): string[] {
  const left = [...before];
  return after.filter((r) => {
    const i = left.indexOf(r);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}
