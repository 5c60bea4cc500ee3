// Shared helpers for process-level control-plane tests.
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnProcess, type SpawnedProcess } from '@skein/testkit';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const controlPlaneBin = join(root, 'packages', 'control-plane', 'dist', 'bin', 'control-plane.js');
export const skeinctlBin = join(root, 'packages', 'control-plane', 'dist', 'bin', 'skeinctl.js');

export interface ControlPlaneProcess extends SpawnedProcess {
  grpcAddress: string;
  httpUrl: string;
}

export async function startControlPlaneProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ControlPlaneProcess> {
  const proc = await spawnProcess(controlPlaneBin, [
    '--listen-address', '127.0.0.1', '--grpc-port', '0', '--http-port', '0', '--webhook-port', '0', ...args,
  ], { env: { SKEIN_LOG_LEVEL: 'debug', ...env } });
  return {
    ...proc,
    grpcAddress: `127.0.0.1:${String(proc.listening.grpcPort)}`,
    httpUrl: `http://127.0.0.1:${String(proc.listening.httpPort)}`,
  };
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** A temporary manifest directory, removed by `cleanup()`. */
export class ManifestDir {
  readonly path = mkdtempSync(join(tmpdir(), 'skein-manifests-'));

  write(file: string, yaml: string): void {
    const target = join(this.path, file);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, yaml);
  }

  remove(file: string): void {
    rmSync(join(this.path, file), { force: true });
  }

  cleanup(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export const nodesYaml = `
apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: { topology.kubernetes.io/zone: zone-a, topology.kubernetes.io/region: region-1 }
---
apiVersion: v1
kind: Node
metadata:
  name: node-b
  labels: { topology.kubernetes.io/zone: zone-b, topology.kubernetes.io/region: region-1 }
`;

export function podYaml(name: string, ip: string, node: string, ready = true): string {
  return `
apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: demo, labels: { app: web } }
spec:
  nodeName: ${node}
  containers:
    - name: web
      image: example/web
      ports: [{ name: http, containerPort: 8080 }]
status:
  phase: Running
  podIP: ${ip}
  conditions: [{ type: Ready, status: "${ready ? 'True' : 'False'}" }]
`;
}

export const webServiceYaml = `
apiVersion: v1
kind: Service
metadata: { name: web, namespace: demo }
spec:
  clusterIP: 10.96.0.10
  selector: { app: web }
  ports: [{ name: http, port: 80, targetPort: http }]
`;

export const apiServiceYaml = `
apiVersion: v1
kind: Service
metadata: { name: api, namespace: demo }
spec:
  clusterIP: 10.96.0.20
  ports: [{ name: http, port: 80, targetPort: 8080 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: api-1
  namespace: demo
  labels: { kubernetes.io/service-name: api }
addressType: IPv4
ports: [{ name: http, port: 8080, protocol: TCP }]
endpoints:
  - addresses: [127.0.0.21]
    nodeName: node-a
    zone: zone-a
  - addresses: [127.0.0.22]
    conditions: { ready: false }
    nodeName: node-b
    zone: zone-b
`;
