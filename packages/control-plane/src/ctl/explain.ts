// Pure: the readable form of a sidecar's /explain answer for `skeinctl explain`: how the host
// matched, where it goes, which endpoints are eligible and why, the locality priorities, the
// ejected endpoints, the picker, and (when the proxy sends one) the per-request decision.
// Fields this file does not know are printed generically, so a newer proxy never breaks it.
import { fieldRows, formatFields, inline, isRecord } from './fields.js';
import { formatTable } from './proxy-status.js';

/** Sections rendered specifically; any other top-level field is printed as it comes. */
const KNOWN = new Set(['request', 'namespace', 'match', 'destination', 'servicePort', 'decision']);
const PORT_KNOWN = new Set(['port', 'name', 'targetPort', 'appProtocol', 'picker', 'sessionAffinity', 'rule', 'hints', 'error', 'selection', 'endpoints']);

export interface ExplainQuery {
  url: string;
  /** "name:value", sent as header=name:value. */
  headers: readonly string[];
  client: string | undefined;
}

/** The /explain query string; the sidecar reads repeated `header` params and `client`. */
export function explainSearch(query: ExplainQuery): string {
  const params = new URLSearchParams({ url: query.url });
  for (const header of query.headers) params.append('header', header);
  if (query.client) params.set('client', query.client);
  return `?${params.toString()}`;
}

export function formatExplain(body: unknown): string {
  if (!isRecord(body)) return `${inline(body)}\n`;
  const rows: Array<[string, string]> = [
    ['REQUEST', requestLine(body.request, body.namespace)],
    ['MATCH', matchLine(body.match)],
    ['DESTINATION', destinationLine(body.destination)],
  ];
  const port = isRecord(body.servicePort) ? body.servicePort : undefined;
  if (port) rows.push(...portRows(port));
  for (const [key, value] of Object.entries(body)) if (!KNOWN.has(key)) rows.push([label(key), inline(value)]);
  const sections = [formatFields(rows)];
  const endpoints = Array.isArray(port?.endpoints) ? port.endpoints.filter(isRecord) : [];
  if (endpoints.length > 0) {
    sections.push(formatTable(['ENDPOINT', 'ELIGIBLE', 'REASON'], endpoints.map((e) => [
      e.port === undefined ? inline(e.address) : hostPort(e.address, e.port), e.eligible === true ? 'yes' : 'no', inline(e.reason),
    ])));
  }
  if (isRecord(body.decision)) sections.push(`DECISION\n${indent(formatFields(decisionRows(body.decision)))}`);
  return sections.join('\n');
}

function requestLine(request: unknown, namespace: unknown): string {
  if (!isRecord(request)) return inline(request);
  const extra = Object.entries(request).filter(([k]) => k !== 'host' && k !== 'port').map(([k, v]) => `${k}=${inline(v)}`);
  const from = typeof namespace === 'string' && namespace ? ` from namespace ${namespace}` : '';
  return [`${hostPort(request.host, request.port)}${from}`, ...extra].join('; ');
}

function matchLine(match: unknown): string {
  if (!isRecord(match)) return inline(match);
  const { type, service, serviceKind, fqdn, address, resource, answered, ...rest } = match;
  switch (type) {
    case 'outside-mesh':
      return 'outside-mesh: not a mesh name';
    case 'unknown-mesh-name':
      return `unknown-mesh-name: ${inline(resource)}${answered === false ? ' is not held yet (asked the control plane, no answer yet)' : ': no such Service'}`;
    default: {
      const via = fqdn !== undefined ? `name ${inline(fqdn)}` : address !== undefined ? `address ${inline(address)}` : undefined;
      const details = [serviceKind !== undefined && `${inline(serviceKind)} service`, via, ...Object.entries(rest).map(([k, v]) => `${k}=${inline(v)}`)].filter(Boolean);
      return `${inline(type)}: ${inline(service)}${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
    }
  }
}

function destinationLine(destination: unknown): string {
  if (!isRecord(destination)) return inline(destination);
  const { type, ...rest } = destination;
  switch (type) {
    case 'service': {
      const { service, servicePort, portName, appProtocol, endpoints } = rest;
      return `service ${inline(service)} port ${inline(servicePort)}${portName ? ` (${inline(portName)})` : ''}, appProtocol ${inline(appProtocol)}, ${count(endpoints, 'endpoint')} to pick from`;
    }
    case 'direct':
      return `direct to ${hostPort(rest.host, rest.port)}${rest.reason ? ` (${inline(rest.reason)})` : ''}`;
    case 'reject': {
      const error = isRecord(rest.error) ? rest.error : {};
      return `reject: ${inline(error.code)}: ${inline(error.message)}${error.status ? ` (HTTP ${inline(error.status)})` : ''}`;
    }
    default:
      return inline(destination);
  }
}

function portRows(port: Record<string, unknown>): Array<[string, string]> {
  const rows: Array<[string, string]> = [
    ['SERVICE PORT', `${inline(port.port)}${port.name ? ` (${inline(port.name)})` : ''} -> target port ${inline(port.targetPort)}, appProtocol ${inline(port.appProtocol)}`],
  ];
  if (port.error !== undefined) rows.push(['ELIGIBILITY', `none: ${inline(port.error)}`]);
  else rows.push(['ELIGIBILITY', `${inline(port.rule)}${port.hints !== undefined ? ` (topology hints: ${inline(port.hints)})` : ''}`]);
  if (isRecord(port.picker)) {
    const { type, size, ...rest } = port.picker;
    rows.push(['PICKER', [`${inline(type)} over ${count(size, 'endpoint')}`, ...Object.entries(rest).map(([k, v]) => `${k} ${inline(v)}`)].join(', ')]);
  }
  if (isRecord(port.sessionAffinity)) rows.push(['AFFINITY', inline(port.sessionAffinity)]);
  if (isRecord(port.selection)) rows.push(...selectionRows(port.selection));
  for (const [key, value] of Object.entries(port)) if (!PORT_KNOWN.has(key)) rows.push([label(key), inline(value)]);
  return rows;
}

/** Locality priorities as Envoy's priority load: the share of requests each tier takes now. */
function selectionRows(selection: Record<string, unknown>): Array<[string, string]> {
  const { localityFailover, totalPanic, ejected, priorities, ...rest } = selection;
  const tiers = Array.isArray(priorities) ? priorities.filter(isRecord) : [];
  const tierText = tiers.length === 0 ? 'none' : formatTable(
    ['PRIORITY', 'TIER', 'LOAD', 'HEALTHY', 'PANIC', 'ENDPOINTS'],
    tiers.map((t) => [inline(t.priority), inline(t.tier), `${inline(t.load)}%`, `${inline(t.healthy)}/${inline(t.total)}`, t.panic === true ? 'yes' : 'no', inline(t.endpoints)]),
  ).trimEnd();
  const rows: Array<[string, string]> = [
    ['LOCALITY', `${localityFailover === true ? 'failover on (node > zone > region > rest)' : 'failover off'}${totalPanic === true ? '; PANIC: every tier is below the threshold, all endpoints take traffic' : ''}`],
    ['PRIORITIES', tierText],
    ['EJECTED', Array.isArray(ejected) && ejected.length > 0 ? inline(ejected) : 'none'],
  ];
  for (const [key, value] of Object.entries(rest)) rows.push([label(key), inline(value)]);
  return rows;
}

/** The decision block in the proxy's own field order; the endpoint and reason first when present. */
function decisionRows(decision: Record<string, unknown>): Array<[string, string]> {
  const { endpoint, by, ...rest } = decision;
  const rows: Array<[string, string]> = [];
  if ('endpoint' in decision) rows.push(['endpoint', endpoint === null ? 'not fixed in advance' : inline(endpoint)]);
  if ('by' in decision) rows.push(['by', inline(by)]);
  return [...rows, ...fieldRows(rest)];
}

function hostPort(host: unknown, port: unknown): string {
  const h = inline(host);
  if (port === undefined || port === null) return h;
  return h.includes(':') ? `[${h}]:${inline(port)}` : `${h}:${inline(port)}`;
}

/** A field name as a section label: "retryBudget" -> "RETRY BUDGET". */
function label(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toUpperCase();
}

function count(n: unknown, noun: string): string {
  return typeof n === 'number' ? `${n} ${noun}${n === 1 ? '' : 's'}` : `${inline(n)} ${noun}s`;
}

function indent(text: string): string {
  return text.split('\n').map((line) => (line ? `  ${line}` : line)).join('\n');
}
