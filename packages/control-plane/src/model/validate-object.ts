// Validation of untrusted Kubernetes objects before the ClusterState stores them. It checks
// the presence, types and formats of every field the translator reads, the way the API server
// would have, so translation never meets a value it cannot handle. Returns every reason.
import { isIP } from '@skein/protocol';
import type { KubeKind } from './kube-objects.js';
import { isDns1035Label, isDnsLabel, isDnsSubdomain, isPortName } from './kube-names.js';
import { describeValue, isRecord, ReasonList } from './reason-list.js';
import { validateEndpointSliceObject, validateEndpointsObject } from './validate-endpoints.js';
import { validateServiceObject } from './validate-service.js';

/**
 * Reasons an object of `kind` cannot be used, in words a user can act on
 * (`metadata.name is missing`, `port 80: targetPort 0 is out of range 1-65535`). Empty when
 * the object is valid. Never throws, whatever `object` is.
 */
export function validateObject(kind: KubeKind, object: unknown): string[] {
  const r = new ReasonList();
  if (!isRecord(object)) {
    r.add(`the ${String(kind)} is not an object (got ${describeValue(object)})`);
    return r.reasons;
  }
  if (object.kind != null && object.kind !== kind) r.add(`kind ${describeValue(object.kind)} is not ${String(kind)}`);
  const annotations = validateMetadata(kind, object.metadata, r);
  switch (kind) {
    case 'Service': validateServiceObject(object, annotations, r); break;
    case 'EndpointSlice': validateEndpointSliceObject(object, r); break;
    case 'Endpoints': validateEndpointsObject(object, r); break;
    case 'Pod': validatePod(object, r); break;
    case 'Node': break; // only metadata.labels (topology) is read
    default: r.add(`kind ${describeValue(kind)} is not one Skein reads`);
  }
  return r.reasons;
}

/** Checks metadata; returns the annotations when they are a valid string map. */
function validateMetadata(kind: KubeKind, value: unknown, r: ReasonList): Record<string, string> | undefined {
  if (value == null) {
    r.add('metadata is missing');
    return undefined;
  }
  const meta = r.record(value, 'metadata');
  if (!meta) return undefined;
  const name = r.requiredString(meta.name, 'metadata.name');
  if (name !== undefined) {
    // Why: Service names must be RFC 1035 labels (they become DNS names); the other kinds
    // are DNS subdomains.
    if (kind === 'Service' ? !isDns1035Label(name) : !isDnsSubdomain(name)) {
      r.add(`metadata.name ${describeValue(name)} is not a valid ${kind} name (${kind === 'Service' ? 'lower-case letters, digits and \'-\', starting with a letter, at most 63' : 'a DNS subdomain'})`);
    }
  }
  if (kind !== 'Node') {
    // Defaulting the namespace is the sources' job; here a missing one is an error.
    const namespace = r.requiredString(meta.namespace, 'metadata.namespace');
    if (namespace !== undefined && !isDnsLabel(namespace)) r.add(`metadata.namespace ${describeValue(namespace)} is not a DNS label`);
  }
  r.stringMap(meta.labels, 'metadata.labels');
  const annotations = r.stringMap(meta.annotations, 'metadata.annotations');
  const deletion = meta.deletionTimestamp;
  if (deletion != null && typeof deletion !== 'string' && !(deletion instanceof Date)) {
    r.add(`metadata.deletionTimestamp is not a timestamp (got ${describeValue(deletion)})`);
  }
  return annotations;
}

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

function validatePod(pod: Record<string, unknown>, r: ReasonList): void {
  const spec = r.record(pod.spec, 'spec');
  if (spec) {
    r.string(spec.nodeName, 'spec.nodeName');
    const hostname = r.string(spec.hostname, 'spec.hostname');
    if (hostname && !isDnsLabel(hostname)) r.add(`spec.hostname ${describeValue(hostname)} is not a DNS label`);
    r.string(spec.subdomain, 'spec.subdomain');
    validateContainers(spec.containers, 'spec.containers', r);
    validateContainers(spec.initContainers, 'spec.initContainers', r);
  }
  const status = r.record(pod.status, 'status');
  if (!status) return;
  r.string(status.phase, 'status.phase');
  const podIP = r.string(status.podIP, 'status.podIP');
  if (podIP && !isIP(podIP)) r.add(`status.podIP ${describeValue(podIP)} is not an IP address`);
  for (const [i, entry] of (r.list(status.podIPs, 'status.podIPs') ?? []).entries()) {
    const item = r.item(entry, `status.podIPs[${i}]`);
    if (!item) continue;
    const ip = r.requiredString(item.ip, `status.podIPs[${i}].ip`);
    if (ip !== undefined && !isIP(ip)) r.add(`status.podIPs[${i}].ip ${describeValue(ip)} is not an IP address`);
  }
  for (const [i, entry] of (r.list(status.conditions, 'status.conditions') ?? []).entries()) {
    const condition = r.item(entry, `status.conditions[${i}]`);
    if (!condition) continue;
    r.string(condition.type, `status.conditions[${i}].type`);
    r.string(condition.status, `status.conditions[${i}].status`);
  }
}

function validateContainers(value: unknown, path: string, r: ReasonList): void {
  for (const [i, entry] of (r.list(value, path) ?? []).entries()) {
    const container = r.item(entry, `${path}[${i}]`);
    if (!container) continue;
    r.string(container.name, `${path}[${i}].name`);
    r.string(container.restartPolicy, `${path}[${i}].restartPolicy`);
    for (const [j, portEntry] of (r.list(container.ports, `${path}[${i}].ports`) ?? []).entries()) {
      const at = `${path}[${i}].ports[${j}]`;
      const port = r.item(portEntry, at);
      if (!port) continue;
      const name = r.string(port.name, `${at}.name`);
      if (name && !isPortName(name)) r.add(`${at}.name ${describeValue(name)} is not a port name (at most 15 lower-case letters, digits and '-')`);
      r.requiredInteger(port.containerPort, `${at}.containerPort`, 1, 65535);
      r.oneOf(port.protocol, `${at}.protocol`, PROTOCOLS);
    }
  }
}
