// The benchmarks must not rot: each scenario runs in its smoke form (a second per contender, a
// handful of subscribers, no BENCHMARKS.md writing) and must finish without a failed contender.
// The figures are not looked at — tests never assert timings. The peers scenario installs wrk,
// nginx-light and haproxy from Debian when it can (a contender it cannot install is skipped
// with the reason, not failed). Needs the built packages (pnpm build).
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const run = promisify(execFile);

async function bench(script: string, args: string[], timeoutMs: number): Promise<string> {
  const { stdout } = await run(process.execPath, [join(root, 'bench', script), ...args], { cwd: root, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

describe('benchmarks, smoke runs', () => {
  it('HTTP/1.1 against the peers (direct, sidecar, nginx, HAProxy, naive)', async () => {
    expect(await bench('http-peers.mjs', ['--smoke'], 540_000)).toContain('## HTTP/1.1 proxying');
  }, 600_000);

  it('CONNECT tunnel (direct, sidecar tunnel, bare relay)', async () => {
    expect(await bench('tunnel.mjs', ['--smoke'], 120_000)).toContain('## CONNECT tunnel');
  }, 150_000);

  it('sidecar memory (1,000 Services loaded, idle and under load)', async () => {
    expect(await bench('sidecar-memory.mjs', ['--smoke'], 240_000)).toContain('## Sidecar memory');
  }, 300_000);

  it('tracing overhead (sidecar with tracing off and on)', async () => {
    expect(await bench('http-proxy.mjs', ['--seconds', '1', '--rounds', '1', '--no-write'], 120_000)).toContain('## Tracing overhead');
  }, 150_000);

  it('control plane: snapshot build, convergence (delta and SotW) and churn, with a small world', async () => {
    const out = await bench('control-plane.mjs', ['--smoke'], 120_000);
    expect(out).toContain('### 2. Convergence');
    expect(out).toContain('### 3. Churn');
  }, 150_000);

  it('gRPC through the sidecar and library mode', async () => {
    const out = await bench('grpc-library.mjs', ['--smoke'], 120_000);
    expect(out).toContain('## gRPC unary through the sidecar');
    expect(out).toContain('## Library mode');
  }, 150_000);
});
