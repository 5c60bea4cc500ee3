// Pure: turns /debug/proxies into the rows of `skeinctl status` (like istioctl proxy-status).
import { TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '@skein/protocol';
import type { SubscriberJson, TypeJson } from '../snapshot/subscriber.js';

export type SyncState = 'SYNCED' | 'STALE' | 'NACKED' | 'NOT SENT';

export interface ProxyStatusRow {
  name: string;
  pod: string;
  node: string;
  services: { state: SyncState; version: string | null; nack: string | null };
  endpoints: { state: SyncState; version: string | null; nack: string | null };
  agentVersion: string;
  /** Where the proxy's admin API answers (for config-dump and explain); '' when it reports none. */
  adminAddress: string;
}

/** NACKED while the newest version sent is the one the proxy rejected; SYNCED once it ACKs the current one. */
export function syncState(type: TypeJson | undefined): SyncState {
  if (!type) return 'NOT SENT';
  if (type.lastNack && type.lastNack.version === type.sentVersion && type.ackedVersion !== type.sentVersion) return 'NACKED';
  return type.synced ? 'SYNCED' : 'STALE';
}

function typeCell(type: TypeJson | undefined): ProxyStatusRow['services'] {
  const state = syncState(type);
  return {
    state,
    version: type?.ackedVersion ?? null,
    nack: state === 'NACKED' ? (type?.lastNack?.message ?? null) : null,
  };
}

export function proxyStatusRows(proxies: readonly SubscriberJson[]): ProxyStatusRow[] {
  return proxies.map((p) => ({
    name: p.node?.id ?? p.id ?? '?',
    pod: p.node ? `${p.node.namespace}/${p.node.pod}` : '-',
    node: p.node?.nodeName || '-',
    services: typeCell(p.types[TYPE_SERVICE]),
    endpoints: typeCell(p.types[TYPE_ENDPOINT_GROUP]),
    agentVersion: p.node?.agentVersion || '-',
    adminAddress: p.node?.adminAddress ?? '',
  })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Left-aligned columns separated by three spaces, as kubectl prints. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('   ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function formatProxyStatus(rows: readonly ProxyStatusRow[]): string {
  const cell = (c: ProxyStatusRow['services']): string => (c.version ? `${c.state} (${c.version.slice(0, 8)})` : c.state);
  const table = formatTable(
    ['NAME', 'POD', 'NODE', 'SERVICES', 'ENDPOINTS', 'VERSION', 'ADMIN'],
    rows.map((r) => [r.name, r.pod, r.node, cell(r.services), cell(r.endpoints), r.agentVersion, r.adminAddress || '-']),
  );
  const nacks = rows.flatMap((r) => [r.services, r.endpoints].filter((c) => c.nack).map((c) => `${r.name}: NACK: ${c.nack}`));
  return nacks.length > 0 ? `${table}\n${nacks.join('\n')}\n` : table;
}
