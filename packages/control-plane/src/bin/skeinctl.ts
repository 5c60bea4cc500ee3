#!/usr/bin/env node
// skeinctl: ask a control plane what its proxies hold (like istioctl proxy-status), and a
// proxy's admin API what it holds and how it would route a request (like istioctl proxy-config
// and x describe), and hold an injected pod's start until its sidecar is ready (wait-ready).
// Formatting lives in ../ctl/ (pure); this file does the I/O.
import { Command, Option } from 'commander';
import { parseDurationMs } from '../config.js';
import { formatConfigDump, type ConfigDumpJson } from '../ctl/config-dump.js';
import { explainSearch, formatExplain } from '../ctl/explain.js';
import { formatProxyStatus, formatTable, proxyStatusRows } from '../ctl/proxy-status.js';
import { parseTarget, resolvePod } from '../ctl/target.js';
import { waitReady } from '../ctl/wait-ready.js';
import type { SubscriberJson } from '../snapshot/subscriber.js';

const program = new Command('skeinctl')
  .description('Inspect a Skein control plane and its proxies.')
  .addOption(new Option('--control-plane <url>', 'control plane HTTP address').env('SKEIN_CONTROL_PLANE_HTTP').default('http://localhost:15014'))
  .addOption(new Option('--json', 'print JSON instead of a table'))
  .showHelpAfterError();

async function get<T>(path: string): Promise<T> {
  const base = program.opts<{ controlPlane: string }>().controlPlane.replace(/\/$/, '');
  return getJson<T>(`${/^https?:\/\//.test(base) ? base : `http://${base}`}${path}`, 'the control plane');
}

/** GET a JSON body; `what` names the server in errors. A non-2xx answer's `error` field is shown as is. */
async function getJson<T>(url: string, what: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new Error(`cannot reach ${what} at ${url}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let reason = text.trim();
    try {
      reason = String((JSON.parse(text) as { error?: unknown }).error ?? reason);
    } catch { /* not JSON: the body as is */ }
    throw new Error(`${what} at ${url}: HTTP ${res.status}: ${reason}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${what} at ${url} did not answer JSON: ${text.slice(0, 200)}`);
  }
}

/** The admin API base URL of a target, asking the control plane when it names a pod. */
async function adminOf(text: string): Promise<{ url: string; what: string }> {
  const target = parseTarget(text);
  if (target.type === 'admin') return { url: target.url, what: 'the admin API' };
  const { proxies } = await get<{ proxies: SubscriberJson[] }>('/debug/proxies');
  const resolved = resolvePod(target.text, proxies);
  if (resolved.type === 'error') throw new Error(resolved.message);
  return { url: resolved.url, what: `the admin API of pod ${resolved.pod}` };
}

const printJson = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

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

const targetHelp = 'a pod (name, namespace/name or name.namespace, found through the control plane) or an admin address (host:port or URL)';

program.command('config-dump')
  .description('what one proxy holds: Services, endpoints, versions and its last NACK (--json: the raw /config_dump)')
  .argument('<target>', targetHelp)
  .action(async (target: string) => {
    const admin = await adminOf(target);
    const dump = await getJson<ConfigDumpJson>(`${admin.url}/config_dump`, admin.what);
    if (json()) printJson(dump);
    else process.stdout.write(formatConfigDump(dump));
  });

program.command('explain')
  .description('how one proxy would route a request to <url>: match, service port, eligible endpoints, locality, ejections, picker and decision')
  .argument('<target>', targetHelp)
  .argument('<url>', 'the request, e.g. http://web.demo/ or web.demo:8080')
  .addOption(new Option('--header <name:value>', 'a request header for hash keys and cookies; repeatable').argParser((value: string, previous: string[] = []) => [...previous, value]))
  .addOption(new Option('--client <ip>', 'the client address, for ClientIP affinity and source-ip hashing'))
  .action(async (target: string, url: string, options: { header?: string[]; client?: string }) => {
    for (const header of options.header ?? []) {
      if (!/^[^:\s]+:/.test(header)) throw new Error(`--header "${header}": expected <name>:<value>`);
    }
    const admin = await adminOf(target);
    const body = await getJson<unknown>(`${admin.url}/explain${explainSearch({ url, headers: options.header ?? [], client: options.client })}`, admin.what);
    if (json()) printJson(body);
    else process.stdout.write(formatExplain(body));
  });

program.command('wait-ready')
  .description('wait until a sidecar answers /ready, then exit 0; exit 1 on timeout (the start-up hold of injected pods)')
  .addOption(new Option('--admin <host:port>', 'the sidecar\'s admin API').default('127.0.0.1:15000'))
  .addOption(new Option('--timeout <duration>', 'how long to wait, e.g. 60s').default(60_000).argParser(parseDurationMs))
  .action(async (options: { admin: string; timeout: number }) => {
    const result = await waitReady({ admin: options.admin, timeoutMs: options.timeout });
    if (result.ready) {
      process.stdout.write(`skeinctl: sidecar at ${options.admin} ready after ${result.elapsedMs} ms\n`);
      return;
    }
    process.stderr.write(`skeinctl: sidecar at ${options.admin} not ready after ${result.elapsedMs} ms (${result.attempts} attempts): ${result.last}\n`);
    process.exitCode = 1;
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`skeinctl: ${(err as Error).message}\n`);
  process.exit(1);
});
