// JSON forms of resources, for the HTTP snapshot API and debug pages. Enums are written as
// their names so the JSON reads well and survives enum additions.
import { pb, TYPE_SERVICE, type EndpointGroup, type ResourceType, type Service, type ServiceInit, type EndpointGroupInit } from './messages.js';
import type { Result } from './codec.js';
import { expandSharedPorts } from './shared-ports.js';

const options = { enums: String, defaults: true, oneofs: false } as const;

export function serviceToJson(service: ServiceInit): Record<string, unknown> {
  return pb.Service.toObject(pb.Service.fromObject(service as Record<string, unknown>), options);
}

/**
 * Ports per endpoint, as before `shared_ports` existed: the JSON form is read by people and
 * tools, and is not where bytes matter. A group with shared ports is written expanded.
 */
export function endpointGroupToJson(group: EndpointGroupInit): Record<string, unknown> {
  const json = pb.EndpointGroup.toObject(expandSharedPorts(pb.EndpointGroup.fromObject(group as Record<string, unknown>)), options);
  delete json.sharedPorts;
  return json;
}

export function resourceToJson(typeUrl: ResourceType, body: ServiceInit | EndpointGroupInit): Record<string, unknown> {
  return typeUrl === TYPE_SERVICE ? serviceToJson(body as ServiceInit) : endpointGroupToJson(body as EndpointGroupInit);
}

/**
 * Parses the JSON form back; unknown enum names and wrong field types are errors. A group that
 * carries `sharedPorts` is read as the binary form is: its endpoints get them.
 */
export function resourceFromJson(typeUrl: ResourceType, json: unknown): Result<Service | EndpointGroup> {
  if (typeof json !== 'object' || json === null) return { ok: false, error: `${typeUrl}: not a JSON object` };
  try {
    const message = typeUrl === TYPE_SERVICE ? pb.Service.fromObject(json) : pb.EndpointGroup.fromObject(json);
    const error = typeUrl === TYPE_SERVICE ? pb.Service.verify(message) : pb.EndpointGroup.verify(message);
    if (error) return { ok: false, error: `${typeUrl}: ${error}` };
    return { ok: true, value: message instanceof pb.EndpointGroup ? expandSharedPorts(message) : message };
  } catch (err) {
    return { ok: false, error: `${typeUrl}: ${(err as Error).message}` };
  }
}
