// Validation of a Service object: the rules of the API server's ValidateService that matter
// to the mesh, plus the skein.io/* annotations. Returns reasons through the ReasonList.
import { isIP, isIPv4 } from '@skein/protocol';
import { parseMeshPolicy } from './annotations.js';
import { isDnsLabel, isDnsSubdomain, isPortName } from './kube-names.js';
import { describeValue, type ReasonList } from './reason-list.js';

const SERVICE_TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const;
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
const TRAFFIC_POLICIES = ['Cluster', 'Local'] as const;

/**
 * Checks `service` (already known to be an object with valid metadata checked elsewhere);
 * `annotations` are its metadata.annotations when those are a valid string map.
 */
export function validateServiceObject(
  service: Record<string, unknown>, annotations: Record<string, string> | undefined, r: ReasonList,
): void {
  const spec = r.record(service.spec, 'spec') ?? {};
  const type = r.oneOf(spec.type, 'spec.type', SERVICE_TYPES) ?? 'ClusterIP';
  r.stringMap(spec.selector, 'spec.selector');
  const headless = validateClusterIPs(spec, r);
  if (headless && (type === 'NodePort' || type === 'LoadBalancer')) {
    r.add(`spec.clusterIP "None" (headless) is not allowed for a ${type} Service`);
  }
  if (type === 'ExternalName') {
    const externalName = r.requiredString(spec.externalName, 'spec.externalName');
    if (externalName !== undefined && !isDnsSubdomain(externalName.replace(/\.$/, ''))) {
      r.add(`spec.externalName ${describeValue(externalName)} is not a DNS name`);
    }
  }
  for (const [i, ip] of (r.list(spec.externalIPs, 'spec.externalIPs') ?? []).entries()) {
    const text = r.stringItem(ip, `spec.externalIPs[${i}]`);
    if (text !== undefined && !isIP(text)) r.add(`spec.externalIPs[${i}] ${describeValue(text)} is not an IP address`);
  }
  for (const [i, family] of (r.list(spec.ipFamilies, 'spec.ipFamilies') ?? []).entries()) {
    if (r.stringItem(family, `spec.ipFamilies[${i}]`) !== undefined) r.oneOf(family, `spec.ipFamilies[${i}]`, ['IPv4', 'IPv6']);
  }
  validatePorts(spec.ports, type, headless, r);

  r.oneOf(spec.sessionAffinity, 'spec.sessionAffinity', ['None', 'ClientIP']);
  const affinity = r.record(spec.sessionAffinityConfig, 'spec.sessionAffinityConfig');
  const clientIP = affinity && r.record(affinity.clientIP, 'spec.sessionAffinityConfig.clientIP');
  if (clientIP) r.integer(clientIP.timeoutSeconds, 'spec.sessionAffinityConfig.clientIP.timeoutSeconds', 1, 86400);

  r.oneOf(spec.internalTrafficPolicy, 'spec.internalTrafficPolicy', TRAFFIC_POLICIES);
  r.oneOf(spec.externalTrafficPolicy, 'spec.externalTrafficPolicy', TRAFFIC_POLICIES);
  // Any string: unknown values are ignored, as Kubernetes does for forward compatibility.
  r.string(spec.trafficDistribution, 'spec.trafficDistribution');
  r.boolean(spec.publishNotReadyAddresses, 'spec.publishNotReadyAddresses');

  const status = r.record(service.status, 'status');
  const lb = status && r.record(status.loadBalancer, 'status.loadBalancer');
  for (const [i, entry] of ((lb && r.list(lb.ingress, 'status.loadBalancer.ingress')) ?? []).entries()) {
    const ingress = r.item(entry, `status.loadBalancer.ingress[${i}]`);
    if (!ingress) continue;
    const ip = r.string(ingress.ip, `status.loadBalancer.ingress[${i}].ip`);
    if (ip && !isIP(ip)) r.add(`status.loadBalancer.ingress[${i}].ip ${describeValue(ip)} is not an IP address`);
    r.string(ingress.hostname, `status.loadBalancer.ingress[${i}].hostname`);
  }

  const policy = parseMeshPolicy(annotations, { trafficDistribution: false });
  if (!policy.ok) for (const reason of policy.reasons) r.add(reason);
}

/** Checks clusterIP and clusterIPs; returns whether the Service is headless. */
function validateClusterIPs(spec: Record<string, unknown>, r: ReasonList): boolean {
  const clusterIP = r.string(spec.clusterIP, 'spec.clusterIP');
  if (clusterIP && clusterIP !== 'None' && !isIP(clusterIP)) {
    r.add(`spec.clusterIP ${describeValue(clusterIP)} is not an IP address or "None"`);
  }
  const ips: string[] = [];
  for (const [i, entry] of (r.list(spec.clusterIPs, 'spec.clusterIPs') ?? []).entries()) {
    const ip = r.stringItem(entry, `spec.clusterIPs[${i}]`);
    if (ip === undefined) continue;
    if (ip !== 'None' && !isIP(ip)) r.add(`spec.clusterIPs[${i}] ${describeValue(ip)} is not an IP address or "None"`);
    ips.push(ip);
  }
  // Why: the API server allows one IP per family, "None" only alone, and clusterIP must
  // repeat clusterIPs[0].
  if (ips.length > 2) r.add('spec.clusterIPs has more than 2 entries (one per IP family)');
  if (ips.includes('None') && ips.length > 1) r.add('spec.clusterIPs: "None" must be the only entry');
  if (ips.length === 2 && ips[0] !== 'None' && ips[1] !== 'None' && isIPv4(ips[0]!) === isIPv4(ips[1]!)) {
    r.add('spec.clusterIPs: the two entries must be of different IP families');
  }
  if (clusterIP && ips.length > 0 && ips[0] !== clusterIP) {
    r.add(`spec.clusterIP ${describeValue(clusterIP)} differs from spec.clusterIPs[0] ${describeValue(ips[0])}`);
  }
  return clusterIP === 'None' || ips[0] === 'None';
}

function validatePorts(value: unknown, type: string, headless: boolean, r: ReasonList): void {
  const ports = r.list(value, 'spec.ports');
  if ((!ports || ports.length === 0) && type !== 'ExternalName' && !headless) {
    r.add('spec.ports is missing: only headless and ExternalName Services may have no ports');
  }
  const names = new Set<string>();
  const numbers = new Set<string>();
  for (const [i, entry] of (ports ?? []).entries()) {
    const port = r.item(entry, `spec.ports[${i}]`);
    if (!port) continue;
    const valid = typeof port.port === 'number' && Number.isInteger(port.port) && port.port >= 1 && port.port <= 65535;
    const p = r.within(valid ? `port ${String(port.port)}: ` : `spec.ports[${i}]: `);
    const number = p.requiredInteger(port.port, 'port', 1, 65535);
    const name = p.string(port.name, 'name');
    if (!name && ports!.length > 1) p.add('name is missing: a Service with several ports must name each one');
    if (name) {
      if (!isDnsLabel(name)) p.add(`name ${describeValue(name)} is not a DNS label`);
      if (names.has(name)) p.add(`name ${describeValue(name)} is used by another port`);
      names.add(name);
    }
    const protocol = p.oneOf(port.protocol, 'protocol', PROTOCOLS) ?? 'TCP';
    p.string(port.appProtocol, 'appProtocol');
    validateTargetPort(port.targetPort, p);
    p.integer(port.nodePort, 'nodePort', 1, 65535);
    if (port.nodePort != null && type !== 'NodePort' && type !== 'LoadBalancer') {
      p.add(`nodePort may only be set on NodePort and LoadBalancer Services, not ${type}`);
    }
    if (number !== undefined) {
      const key = `${number}/${protocol}`;
      if (numbers.has(key)) p.add(`port ${number}/${protocol} is declared twice`);
      numbers.add(key);
    }
  }
}

/** A number 1-65535, or an IANA port name resolved per pod. */
function validateTargetPort(value: unknown, p: ReasonList): void {
  if (value == null) return;
  if (typeof value === 'number') {
    p.integer(value, 'targetPort', 1, 65535);
  } else if (typeof value === 'string') {
    if (!isPortName(value)) {
      const hint = /^\d+$/.test(value) ? ' (write the number without quotes)' : '';
      p.add(`targetPort ${describeValue(value)} is not a port name${hint}`);
    }
  } else {
    p.add(`targetPort ${describeValue(value)} is not a number or a port name`);
  }
}
