// Helpers for process-level sidecar tests: a control plane on a manifest directory whose
// Pods are fake backends on 127.0.0.x, and sidecar processes pointed at it.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { eventually, spawnProcess, startBackend, type FakeBackend, type SpawnedProcess } from '@skein/testkit';
import { ManifestDir, nodesYaml, startControlPlaneProcess, type ControlPlaneProcess } from './control-plane.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sidecarBin = join(root, 'packages', 'sidecar', 'dist', 'bin', 'sidecar.js');

export interface SidecarProcess extends SpawnedProcess {
  proxy: string;
  admin: string;
  serviceListenerPorts: Record<string, number>;
}

export async function startSidecarProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<SidecarProcess> {
  const proc = await spawnProcess(sidecarBin, [
    '--outbound-port', '0', '--admin-port', '0', '--admin-address', '127.0.0.1', '--namespace', 'demo', '--pod-name', 'client-1',
    '--node-name', 'node-a', '--zone', 'zone-a', ...args,
  ], { env: { SKEIN_LOG_LEVEL: 'debug', ...env } });
  return {
    ...proc,
    proxy: `http://127.0.0.1:${String(proc.listening.outboundPort)}`,
    admin: `http://127.0.0.1:${String(proc.listening.adminPort)}`,
    serviceListenerPorts: (proc.listening.serviceListenerPorts ?? {}) as Record<string, number>,
  };
}

const run = promisify(execFile);

/** curl through the proxy; returns status, body and headers. Never throws on HTTP errors. */
export async function curl(proxy: string, url: string, extra: string[] = []): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-s', '-x', proxy, '-w', '\n%{http_code}', '--max-time', '20', ...extra, url], { maxBuffer: 64 * 1024 * 1024 });
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

export function podYaml(name: string, ip: string, port: number, node: string, labels = 'app: web'): string {
  return `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: demo, labels: { ${labels} } }
spec:
  nodeName: ${node}
  containers: [{ name: main, image: example/app, ports: [{ name: http, containerPort: ${port} }] }]
status:
  phase: Running
  podIP: ${ip}
  conditions: [{ type: Ready, status: "True" }]
`;
}

/** Three web pods on 127.0.0.11-13 (two in zone-a, one in zone-b) behind Service web.demo:80. */
export class WebWorld {
  readonly dir = new ManifestDir();
  backends: FakeBackend[] = [];

  /**
   * `annotations`: extra Service annotations, e.g. { 'skein.io/locality-failover': 'true' };
   * `spec`: extra Service spec fields, e.g. { sessionAffinity: 'ClientIP' }.
   */
  constructor(private readonly annotations: Record<string, string> = {}, private readonly spec: Record<string, unknown> = {}) {}

  async start(): Promise<void> {
    this.backends = await Promise.all([
      startBackend('web-a1', '127.0.0.11'), startBackend('web-a2', '127.0.0.12'), startBackend('web-b1', '127.0.0.13'),
    ]);
    this.dir.write('nodes.yaml', nodesYaml);
    this.writeWeb(this.backends);
  }

  writeWeb(backends: FakeBackend[]): void {
    const pods = backends.map((b) => podYaml(b.name, b.address, b.port, b.name.includes('-b') ? 'node-b' : 'node-a'));
    this.dir.write('web.yaml', `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: demo, annotations: ${JSON.stringify(this.annotations)} }
spec:
  clusterIP: 10.96.0.10
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: http }]
${Object.entries(this.spec).map(([key, value]) => `  ${key}: ${JSON.stringify(value)}\n`).join('')}${pods.map((p) => `---${p}`).join('')}`);
  }

  hits(): Record<string, number> {
    return Object.fromEntries(this.backends.map((b) => [b.name, b.total()]));
  }

  async close(): Promise<void> {
    await Promise.all(this.backends.map((b) => b.close()));
    this.dir.cleanup();
  }
}

/** A WebWorld with its control plane and one sidecar (on node-a), started and ready. */
export function setUp(world: WebWorld): { plane: () => ControlPlaneProcess; sidecar: () => SidecarProcess } {
  let plane: ControlPlaneProcess;
  let sidecar: SidecarProcess;
  beforeAll(async () => {
    await world.start();
    plane = await startControlPlaneProcess(['--source', `files:${world.dir.path}`]);
    sidecar = await startSidecarProcess(['--control-plane', plane.grpcAddress]);
    await eventually(async () => (await fetch(`${sidecar.admin}/ready`)).status === 200);
  });
  afterAll(async () => {
    await sidecar?.stop();
    await plane?.stop();
    await world.close();
  });
  return { plane: () => plane, sidecar: () => sidecar };
}
