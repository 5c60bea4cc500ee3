// Pure: the readable summary of a sidecar's /config_dump for `skeinctl config-dump` (like
// `istioctl proxy-config`): who the proxy is, its discovery stream, the Services and endpoints
// it holds with their versions, and its last NACK. Reads the JSON defensively: a field a proxy
// of another version lacks prints as "-" rather than failing.
import { TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '@skein/protocol';
import { enumName, formatFields, inline, isRecord, shortVersion } from './fields.js';
import { formatTable } from './proxy-status.js';

/** The parts of /config_dump this summary reads; everything is optional. */
export interface ConfigDumpJson {
  identity?: {
    id?: string; podName?: string; namespace?: string; podIp?: string; nodeName?: string;
    zone?: string; region?: string; adminAddress?: string;
  };
  discovery?: Record<string, unknown> & { type?: string };
  config?: {
    ready?: boolean;
    services?: HeldResource<ServiceJson>[];
    endpointGroups?: HeldResource<EndpointGroupJson>[];
    lastNack?: NackJson | null;
    wanted?: string[];
  };
}

interface HeldResource<T> {
  name: string;
  version?: string;
  resource?: T;
}

interface ServiceJson {
  type?: string;
  clusterIps?: string[];
  headless?: boolean;
  externalName?: string;
  ports?: Array<{ name?: string; port?: number; protocol?: string; targetPortName?: string; targetPortNumber?: number }>;
  policy?: { loadBalancer?: string };
}

interface EndpointGroupJson {
  endpoints?: EndpointJson[];
}

interface EndpointJson {
  address?: string;
  ports?: Array<{ name?: string; port?: number }>;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  nodeName?: string;
  zone?: string;
  pod?: string;
  hostname?: string;
  weight?: number;
}

interface NackJson {
  typeUrl?: string;
  message?: string;
  resources?: Array<{ name?: string; message?: string }>;
  at?: number;
}

export function formatConfigDump(dump: ConfigDumpJson): string {
  const config = dump.config ?? {};
  const services = config.services ?? [];
  const groups = new Map((config.endpointGroups ?? []).map((g) => [g.name, g]));
  const sections = [
    formatFields([
      ['PROXY', proxyLine(dump.identity)],
      ['DISCOVERY', discoveryLine(dump.discovery)],
      ['CONFIG', `${config.ready === true ? 'ready' : 'not ready'}; ${plural(services.length, 'Service')}, ${plural(groups.size, 'endpoint group')}${config.wanted?.length ? `; wanted on demand: ${config.wanted.join(', ')}` : ''}`],
      ['LAST NACK', nackLine(config.lastNack ?? null)],
    ]),
    services.length > 0 ? formatTable(
      ['SERVICE', 'TYPE', 'CLUSTER-IP', 'PORTS', 'LOAD-BALANCER', 'ENDPOINTS', 'VERSION'],
      services.map((s) => serviceRow(s, groups.get(s.name))),
    ) : 'No Services held.\n',
  ];
  const endpointRows = [...groups.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((g) => (g.resource?.endpoints ?? []).map((e) => endpointRow(g, e)));
  if (endpointRows.length > 0) {
    sections.push(formatTable(['ENDPOINTS OF', 'ADDRESS', 'PORTS', 'STATE', 'NODE', 'ZONE', 'POD', 'VERSION'], endpointRows));
  }
  return sections.join('\n');
}

function proxyLine(identity: ConfigDumpJson['identity']): string {
  if (!identity) return '-';
  const where = [
    identity.podIp && `ip ${identity.podIp}`, identity.nodeName && `node ${identity.nodeName}`,
    identity.zone && `zone ${identity.zone}`, identity.region && `region ${identity.region}`,
    identity.adminAddress && `admin ${identity.adminAddress}`,
  ].filter(Boolean);
  return `${identity.namespace ?? '?'}/${identity.podName ?? '?'} (${identity.id ?? '?'})${where.length > 0 ? `: ${where.join(', ')}` : ''}`;
}

/** The stream's state plus the versions it ACKed per type (what `skeinctl status` compares). */
function discoveryLine(discovery: ConfigDumpJson['discovery']): string {
  if (!discovery) return '-';
  const { type, address, url, connected, controlPlane, lastError, reconnects, failures, acked } = discovery;
  if (type === 'cache-only') return 'none: serving the cache file only';
  const state = connected === true ? 'connected' : 'disconnected';
  const parts = [`${inline(type)} ${inline(address ?? url)} ${state}`];
  if (typeof controlPlane === 'string' && controlPlane) parts.push(`replica ${controlPlane}`);
  if (typeof reconnects === 'number' && reconnects > 0) parts.push(`${reconnects} reconnects`);
  if (typeof failures === 'number' && failures > 0) parts.push(`${failures} failures`);
  if (isRecord(acked)) {
    parts.push(`acked services ${shortVersion(acked[TYPE_SERVICE])}, endpoints ${shortVersion(acked[TYPE_ENDPOINT_GROUP])}`);
  }
  if (connected !== true && typeof lastError === 'string' && lastError) parts.push(`last error: ${lastError}`);
  return parts.join('; ');
}

function nackLine(nack: NackJson | null): string {
  if (!nack) return 'none';
  const when = typeof nack.at === 'number' ? ` at ${new Date(nack.at).toISOString()}` : '';
  const head = `${nack.typeUrl ?? '?'}${when}: ${nack.message ?? ''}`;
  const reasons = (nack.resources ?? []).map((r) => `${r.name ?? '?'}: ${r.message ?? ''}`);
  return [head, ...reasons].join('\n');
}

function serviceRow(held: HeldResource<ServiceJson>, group: HeldResource<EndpointGroupJson> | undefined): string[] {
  const s = held.resource ?? {};
  const type = enumName(s.type, 'SERVICE_TYPE_');
  const address = type === 'EXTERNAL_NAME' ? s.externalName || '-' : s.headless ? 'None' : s.clusterIps?.join(',') || '-';
  const ports = (s.ports ?? []).map((p) => {
    const target = p.targetPortName || p.targetPortNumber;
    return `${p.port ?? '?'}${target && target !== p.port ? `->${target}` : ''}/${enumName(p.protocol, 'PROTOCOL_')}`;
  }).join(',') || '-';
  const endpoints = group?.resource?.endpoints;
  return [
    held.name, type, address, ports, enumName(s.policy?.loadBalancer, 'LOAD_BALANCER_').toLowerCase().replace(/_/g, '-'),
    endpoints ? `${endpoints.filter((e) => e.ready).length}/${endpoints.length}` : '-',
    shortVersion(held.version),
  ];
}

function endpointRow(group: HeldResource<EndpointGroupJson>, e: EndpointJson): string[] {
  const ports = (e.ports ?? []).map((p) => (p.name ? `${p.name}=${p.port ?? '?'}` : String(p.port ?? '?'))).join(',') || '-';
  const weight = e.weight !== undefined && e.weight !== 1 ? ` (weight ${e.weight})` : '';
  return [group.name, e.address ?? '-', ports, `${endpointState(e)}${weight}`, e.nodeName || '-', e.zone || '-', e.pod || e.hostname || '-', shortVersion(group.version)];
}

/** The EndpointSlice conditions as kube-proxy reads them: ready, else serving-while-terminating. */
function endpointState(e: EndpointJson): string {
  if (e.ready) return 'ready';
  if (e.terminating) return e.serving ? 'terminating, serving' : 'terminating';
  return 'not ready';
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
