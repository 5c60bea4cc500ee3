// JSON forms of resources, for the HTTP snapshot API and debug pages. Enums are written as
// their names so the JSON reads well and survives enum additions.
import { pb, TYPE_SERVICE, type EndpointGroup, type ResourceType, type Service, type ServiceInit, type EndpointGroupInit } from './messages.js';
import type { Result } from './codec.js';

const options = { enums: String, defaults: true, oneofs: false } as const;

export function serviceToJson(service: ServiceInit): Record<string, unknown> {
  return pb.Service.toObject(pb.Service.fromObject(service as Record<string, unknown>), options);
}

export function endpointGroupToJson(group: EndpointGroupInit): Record<string, unknown> {
  return pb.EndpointGroup.toObject(pb.EndpointGroup.fromObject(group as Record<string, unknown>), options);
}

export function resourceToJson(typeUrl: ResourceType, body: ServiceInit | EndpointGroupInit): Record<string, unknown> {
  return typeUrl === TYPE_SERVICE ? serviceToJson(body as ServiceInit) : endpointGroupToJson(body as EndpointGroupInit);
}

/** Parses the JSON form back; unknown enum names and wrong field types are errors. */
export function resourceFromJson(typeUrl: ResourceType, json: unknown): Result<Service | EndpointGroup> {
  if (typeof json !== 'object' || json === null) return { ok: false, error: `${typeUrl}: not a JSON object` };
  try {
    const message = typeUrl === TYPE_SERVICE ? pb.Service.fromObject(json) : pb.EndpointGroup.fromObject(json);
    const error = typeUrl === TYPE_SERVICE ? pb.Service.verify(message) : pb.EndpointGroup.verify(message);
    return error ? { ok: false, error: `${typeUrl}: ${error}` } : { ok: true, value: message };
  } catch (err) {
    return { ok: false, error: `${typeUrl}: ${(err as Error).message}` };
  }
}
