// Checks a resource before it is published (control plane) and after it is received
// (data plane, which NACKs with every reason). Returns every problem found, not just the first.
import { isIP } from './address.js';
import {
  pb, TYPE_SERVICE, type EndpointGroupInit, type ResourceType, type ServiceInit,
} from './messages.js';
import { splitResourceName } from './names.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDnsLabel(text: string): boolean {
  return text.length <= 63 && DNS_LABEL.test(text);
}

export function isDnsSubdomain(text: string): boolean {
  return text.length <= 253 && DNS_SUBDOMAIN.test(text);
}

function isPort(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

function checkName(problems: string[], name: string | null | undefined, namespace: string | null | undefined, service: string | null | undefined): void {
  const parts = splitResourceName(name ?? '');
  if (!parts) {
    problems.push(`name "${name ?? ''}" is not "<namespace>/<name>"`);
    return;
  }
  if (!isDnsLabel(parts.namespace)) problems.push(`namespace "${parts.namespace}" is not a DNS label`);
  if (!isDnsLabel(parts.name)) problems.push(`service name "${parts.name}" is not a DNS label`);
  if (namespace !== parts.namespace) problems.push(`namespace "${namespace ?? ''}" does not match name "${name}"`);
  if (service !== parts.name) problems.push(`service "${service ?? ''}" does not match name "${name}"`);
}

export function validateService(service: ServiceInit): string[] {
  const problems: string[] = [];
  checkName(problems, service.name, service.namespace, (service.name ?? '').split('/')[1]);
  const type = service.type ?? pb.ServiceType.SERVICE_TYPE_CLUSTER_IP;
  if (pb.ServiceType[type] === undefined) problems.push(`unknown type ${type}`);
  for (const ip of service.clusterIps ?? []) if (!isIP(ip)) problems.push(`clusterIP "${ip}" is not an IP address`);
  if (service.headless && (service.clusterIps ?? []).length > 0) problems.push('a headless Service has no clusterIPs');
  if (type === pb.ServiceType.SERVICE_TYPE_EXTERNAL_NAME) {
    if (!service.externalName || !isDnsSubdomain(service.externalName.replace(/\.$/, ''))) {
      problems.push(`ExternalName "${service.externalName ?? ''}" is not a DNS name`);
    }
  }
  const ports = service.ports ?? [];
  const names = new Set<string>();
  const numbers = new Set<string>();
  for (const [i, port] of ports.entries()) {
    const label = `port ${port.name ? `"${port.name}"` : `#${i}`}`;
    if (!isPort(port.port)) problems.push(`${label}: port ${String(port.port)} is out of range 1-65535`);
    if (ports.length > 1 && !port.name) problems.push(`${label}: a Service with several ports must name each port`);
    if (port.name) {
      if (!isDnsLabel(port.name)) problems.push(`${label}: name is not a DNS label`);
      if (names.has(port.name)) problems.push(`${label}: duplicate port name`);
      names.add(port.name);
    }
    const key = `${port.port}/${port.protocol ?? 0}`;
    if (numbers.has(key)) problems.push(`${label}: duplicate port ${String(port.port)}`);
    numbers.add(key);
    if (port.targetPortNumber != null && port.targetPortNumber !== 0 && !isPort(port.targetPortNumber)) {
      problems.push(`${label}: targetPort ${port.targetPortNumber} is out of range 1-65535`);
    }
    if (port.targetPortName != null && port.targetPortName !== '' && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(port.targetPortName)) {
      problems.push(`${label}: targetPort name "${port.targetPortName}" is not a port name`);
    }
    if (port.nodePort && !isPort(port.nodePort)) problems.push(`${label}: nodePort ${port.nodePort} is out of range`);
  }
  if (service.sessionAffinity === pb.SessionAffinity.SESSION_AFFINITY_CLIENT_IP) {
    const t = service.sessionAffinityTimeoutSeconds ?? 0;
    if (t < 1 || t > 86400) problems.push(`sessionAffinity timeoutSeconds ${t} is out of range 1-86400`);
  }
  const od = service.policy?.outlierDetection;
  if (od && (od.maxEjectionPercent ?? 0) > 100) problems.push(`outlier detection max-percent ${od.maxEjectionPercent} is over 100`);
  const hashKey = service.policy?.hashKey;
  if (hashKey && ((hashKey.header != null && hashKey.header === '') || (hashKey.cookie != null && hashKey.cookie === ''))) {
    problems.push('hash key names no header or cookie');
  }
  return problems;
}

export function validateEndpointGroup(group: EndpointGroupInit): string[] {
  const problems: string[] = [];
  checkName(problems, group.name, group.namespace, group.service);
  // Set only on the wire form (decoders move it onto the endpoints), but a body may be checked in either form.
  for (const port of group.sharedPorts ?? []) {
    if (!isPort(port.port)) problems.push(`shared port "${port.name ?? ''}" ${String(port.port)} is out of range 1-65535`);
  }
  const seen = new Set<string>();
  for (const [i, endpoint] of (group.endpoints ?? []).entries()) {
    const label = `endpoint ${endpoint.address ? `"${endpoint.address}"` : `#${i}`}`;
    if (!endpoint.address || !isIP(endpoint.address)) problems.push(`${label}: address is not an IP address`);
    if (endpoint.address && seen.has(endpoint.address)) problems.push(`${label}: duplicate address`);
    if (endpoint.address) seen.add(endpoint.address);
    for (const port of endpoint.ports ?? []) {
      if (!isPort(port.port)) problems.push(`${label}: port "${port.name ?? ''}" ${String(port.port)} is out of range 1-65535`);
    }
  }
  return problems;
}

/** Validates a decoded body of either type. */
export function validateResource(typeUrl: ResourceType, name: string, body: ServiceInit | EndpointGroupInit): string[] {
  const problems = typeUrl === TYPE_SERVICE
    ? validateService(body as ServiceInit)
    : validateEndpointGroup(body as EndpointGroupInit);
  if ((body as { name?: string | null }).name !== name) problems.unshift(`body name "${(body as { name?: string | null }).name ?? ''}" differs from resource name "${name}"`);
  return problems;
}
