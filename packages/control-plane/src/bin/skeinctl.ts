#!/usr/bin/env node
// skeinctl: ask a control plane what its proxies hold (like istioctl proxy-status).
import { Command, Option } from 'commander';
import { formatProxyStatus, formatTable, proxyStatusRows } from '../ctl/proxy-status.js';
import type { SubscriberJson } from '../snapshot/subscriber.js';

const program = new Command('skeinctl')
  .description('Inspect a Skein control plane.')
  .addOption(new Option('--control-plane <url>', 'control plane HTTP address').env('SKEIN_CONTROL_PLANE_HTTP').default('http://localhost:15014'))
  .addOption(new Option('--json', 'print JSON instead of a table'))
  .showHelpAfterError();

async function get<T>(path: string): Promise<T> {
  const base = program.opts<{ controlPlane: string }>().controlPlane.replace(/\/$/, '');
  const url = `${/^https?:\/\//.test(base) ? base : `http://${base}`}${path}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new Error(`cannot reach the control plane at ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}: ${(await res.text()).trim()}`);
  return (await res.json()) as T;
}

const json = (): boolean => program.opts<{ json?: boolean }>().json === true;

program.command('status')
  .description('every connected proxy with its versions per resource type: SYNCED, STALE or NACKED')
  .action(async () => {
    const { proxies } = await get<{ proxies: SubscriberJson[] }>('/debug/proxies');
    const rows = proxyStatusRows(proxies);
    process.stdout.write(json() ? `${JSON.stringify(rows, null, 2)}\n` : rows.length > 0 ? formatProxyStatus(rows) : 'No proxies connected.\n');
  });

program.command('services')
  .description('every Service in the current snapshot')
  .action(async () => {
    type Entry = { name: string; version: string; resource: { type: string; clusterIps: string[]; headless: boolean; externalName: string; ports: Array<{ name: string; port: number; protocol: string }> }; endpoints: { total: number; ready: number } };
    const body = await get<{ version: string | null; services: Entry[] }>('/debug/services');
    if (json()) {
      process.stdout.write(`${JSON.stringify(body, null, 2)}\n`);
      return;
    }
    process.stdout.write(formatTable(['NAMESPACE', 'NAME', 'TYPE', 'CLUSTER-IP', 'PORTS', 'ENDPOINTS', 'VERSION'], body.services.map((s) => {
      const [namespace = '', name = ''] = s.name.split('/');
      const r = s.resource;
      return [
        namespace, name, r.type.replace('SERVICE_TYPE_', ''),
        r.headless ? 'None' : r.externalName || r.clusterIps.join(',') || '-',
        r.ports.map((p) => `${p.port}/${p.protocol.replace('PROTOCOL_', '')}`).join(',') || '-',
        `${s.endpoints.ready}/${s.endpoints.total}`, s.version.slice(0, 8),
      ];
    })));
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`skeinctl: ${(err as Error).message}\n`);
  process.exit(1);
});
