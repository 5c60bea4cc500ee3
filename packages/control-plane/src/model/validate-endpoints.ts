// Validation of endpoint objects: discovery.k8s.io/v1 EndpointSlice and legacy core/v1
// Endpoints, with the API server's rules for what the translator reads.
import { isIP, isIPv4, isIPv6 } from '@skein/protocol';
import { isDnsLabel } from './kube-names.js';
import { describeValue, type ReasonList } from './reason-list.js';

const ADDRESS_TYPES = ['IPv4', 'IPv6', 'FQDN'] as const;
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;

/** Checks an EndpointSlice (known to be an object). */
export function validateEndpointSliceObject(slice: Record<string, unknown>, r: ReasonList): void {
  const addressType = r.oneOf(slice.addressType, 'addressType', ADDRESS_TYPES);
  if (slice.addressType == null) r.add('addressType is missing');
  for (const [i, entry] of (r.list(slice.endpoints, 'endpoints') ?? []).entries()) {
    const at = `endpoints[${i}]`;
    const endpoint = r.item(entry, at);
    if (!endpoint) continue;
    const addresses = r.list(endpoint.addresses, `${at}.addresses`);
    // Why: the API requires 1-100 addresses, all of the slice's addressType.
    if (!addresses || addresses.length === 0) r.add(`${at}.addresses is missing`);
    for (const [j, address] of (addresses ?? []).entries()) {
      const text = r.stringItem(address, `${at}.addresses[${j}]`);
      if (text === undefined) continue;
      if (addressType === 'IPv4' && !isIPv4(text)) r.add(`${at}.addresses[${j}] ${describeValue(text)} is not an IPv4 address`);
      if (addressType === 'IPv6' && !isIPv6(text)) r.add(`${at}.addresses[${j}] ${describeValue(text)} is not an IPv6 address`);
    }
    const conditions = r.record(endpoint.conditions, `${at}.conditions`);
    if (conditions) {
      for (const key of ['ready', 'serving', 'terminating'] as const) r.boolean(conditions[key], `${at}.conditions.${key}`);
    }
    const hostname = r.string(endpoint.hostname, `${at}.hostname`);
    if (hostname && !isDnsLabel(hostname)) r.add(`${at}.hostname ${describeValue(hostname)} is not a DNS label`);
    r.string(endpoint.nodeName, `${at}.nodeName`);
    r.string(endpoint.zone, `${at}.zone`);
    const hints = r.record(endpoint.hints, `${at}.hints`);
    if (hints) {
      for (const key of ['forZones', 'forNodes'] as const) {
        for (const [j, hint] of (r.list(hints[key], `${at}.hints.${key}`) ?? []).entries()) {
          const item = r.item(hint, `${at}.hints.${key}[${j}]`);
          if (item) r.requiredString(item.name, `${at}.hints.${key}[${j}].name`);
        }
      }
    }
    validateTargetRef(endpoint.targetRef, `${at}.targetRef`, r);
  }
  validateEndpointPorts(slice.ports, 'ports', false, r);
}

/** Checks a legacy v1 Endpoints object (known to be an object). */
export function validateEndpointsObject(endpoints: Record<string, unknown>, r: ReasonList): void {
  for (const [i, entry] of (r.list(endpoints.subsets, 'subsets') ?? []).entries()) {
    const subset = r.item(entry, `subsets[${i}]`);
    if (!subset) continue;
    for (const key of ['addresses', 'notReadyAddresses'] as const) {
      for (const [j, item] of (r.list(subset[key], `subsets[${i}].${key}`) ?? []).entries()) {
        const at = `subsets[${i}].${key}[${j}]`;
        const address = r.item(item, at);
        if (!address) continue;
        const ip = r.requiredString(address.ip, `${at}.ip`);
        if (ip !== undefined && !isIP(ip)) r.add(`${at}.ip ${describeValue(ip)} is not an IP address`);
        const hostname = r.string(address.hostname, `${at}.hostname`);
        if (hostname && !isDnsLabel(hostname)) r.add(`${at}.hostname ${describeValue(hostname)} is not a DNS label`);
        r.string(address.nodeName, `${at}.nodeName`);
        validateTargetRef(address.targetRef, `${at}.targetRef`, r);
      }
    }
    validateEndpointPorts(subset.ports, `subsets[${i}].ports`, true, r);
  }
}

function validateTargetRef(value: unknown, path: string, r: ReasonList): void {
  const ref = r.record(value, path);
  if (!ref) return;
  for (const key of ['kind', 'namespace', 'name'] as const) r.string(ref[key], `${path}.${key}`);
}

/**
 * Slice ports may leave `port` null ("all ports", which the translator skips); Endpoints
 * ports must have one. Names are unique within a list.
 */
function validateEndpointPorts(value: unknown, path: string, portRequired: boolean, r: ReasonList): void {
  const names = new Set<string>();
  for (const [i, entry] of (r.list(value, path) ?? []).entries()) {
    const at = `${path}[${i}]`;
    const port = r.item(entry, at);
    if (!port) continue;
    const name = r.string(port.name, `${at}.name`) ?? '';
    if (name && !isDnsLabel(name)) r.add(`${at}.name ${describeValue(name)} is not a DNS label`);
    if (names.has(name)) r.add(`${at}.name ${describeValue(name)} is used by another port`);
    names.add(name);
    if (portRequired) r.requiredInteger(port.port, `${at}.port`, 1, 65535);
    else r.integer(port.port, `${at}.port`, 1, 65535);
    r.oneOf(port.protocol, `${at}.protocol`, PROTOCOLS);
    r.string(port.appProtocol, `${at}.appProtocol`);
  }
}
