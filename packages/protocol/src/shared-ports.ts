// EndpointGroup.shared_ports: a port list every endpoint of a group has is written once, on the
// group, instead of on each endpoint. Ports come from the slice, so this is the usual case, and
// two named ports were ~40% of a group's bytes: the bulk of a one-endpoint delta push. Only the
// wire form changes: decoders (binary and JSON) hand every reader per-endpoint ports as before.
import type { Endpoint, EndpointGroup, EndpointGroupInit, EndpointPort } from './messages.js';

/**
 * The group to encode: `group` itself, or, when its endpoints (two or more) all have the same
 * non-empty port list, a copy whose `sharedPorts` holds that list and whose endpoints have
 * none. `group` and its endpoints are not changed (model bodies are immutable and shared).
 */
export function shareEndpointPorts(group: EndpointGroupInit): EndpointGroupInit {
  const endpoints = group.endpoints;
  if (!endpoints || endpoints.length < 2) return group;
  const ports = endpoints[0]!.ports;
  if (!ports || ports.length === 0) return group;
  for (let i = 1; i < endpoints.length; i++) if (!samePorts(ports, endpoints[i]!.ports)) return group;
  return { ...group, sharedPorts: ports, endpoints: endpoints.map(withoutPorts) };
}

/**
 * Gives every endpoint of a freshly decoded `group` that has no ports of its own the group's
 * `sharedPorts` (the same array: readers never mutate a decoded body) and empties
 * `sharedPorts`, so the body reads as if each endpoint had been sent with its ports.
 * Changes `group` in place and returns it.
 */
export function expandSharedPorts<T extends EndpointGroup>(group: T): T {
  const shared = group.sharedPorts;
  if (!shared || shared.length === 0) return group;
  for (const endpoint of group.endpoints) if (!endpoint.ports || endpoint.ports.length === 0) endpoint.ports = shared;
  group.sharedPorts = [];
  return group;
}

/**
 * Equal as decoded: an unset field reads as its default, so a port that omits `protocol` equals
 * one that sets PROTOCOL_TCP (0). Order counts: endpoints list ports in the same order.
 */
function samePorts(a: readonly EndpointPort[], b: readonly EndpointPort[] | null | undefined): boolean {
  if (a === b) return true;
  if (!b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if ((x.name ?? '') !== (y.name ?? '') || (x.port ?? 0) !== (y.port ?? 0)
      || (x.protocol ?? 0) !== (y.protocol ?? 0) || (x.appProtocol ?? '') !== (y.appProtocol ?? '')) return false;
  }
  return true;
}

/** A copy of `endpoint` without its ports; own fields only, as the encoder reads them. */
function withoutPorts(endpoint: Endpoint): Endpoint {
  const { ports: _ports, ...rest } = endpoint;
  return rest;
}
