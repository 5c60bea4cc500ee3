// Typed messages of proto/skein/v1, from the generated static module (see scripts/gen.mjs).
import { skein } from './gen/skein.js';

export const pb = skein.v1;

/** A decoded Service: every field present, defaults filled in. */
export type Service = skein.v1.Service;
/** What the control plane builds before encoding: fields may be omitted. */
export type ServiceInit = skein.v1.IService;
export type ServicePort = skein.v1.IServicePort;
export type MeshPolicy = skein.v1.IMeshPolicy;
export type EndpointGroup = skein.v1.EndpointGroup;
export type EndpointGroupInit = skein.v1.IEndpointGroup;
export type Endpoint = skein.v1.IEndpoint;
export type EndpointPort = skein.v1.IEndpointPort;
export type Node = skein.v1.INode;
export type DiscoveryRequest = skein.v1.DiscoveryRequest;
export type DiscoveryRequestInit = skein.v1.IDiscoveryRequest;
export type DiscoveryResponse = skein.v1.DiscoveryResponse;
export type ErrorDetail = skein.v1.IErrorDetail;

export const ServiceType = skein.v1.ServiceType;
export const Protocol = skein.v1.Protocol;
export const SessionAffinity = skein.v1.SessionAffinity;
export const TrafficPolicy = skein.v1.TrafficPolicy;
export const TrafficDistribution = skein.v1.TrafficDistribution;
export const LoadBalancer = skein.v1.LoadBalancer;
export const Mode = skein.v1.Mode;

/** Resource type URLs, as carried in `type_url`. */
export const TYPE_SERVICE = 'skein.v1.Service';
export const TYPE_ENDPOINT_GROUP = 'skein.v1.EndpointGroup';
export type ResourceType = typeof TYPE_SERVICE | typeof TYPE_ENDPOINT_GROUP;
export const RESOURCE_TYPES: readonly ResourceType[] = [TYPE_SERVICE, TYPE_ENDPOINT_GROUP];

export function isResourceType(typeUrl: string): typeUrl is ResourceType {
  return typeUrl === TYPE_SERVICE || typeUrl === TYPE_ENDPOINT_GROUP;
}

/** The decoded body of a resource of each type. */
export interface ResourceBodies {
  [TYPE_SERVICE]: Service;
  [TYPE_ENDPOINT_GROUP]: EndpointGroup;
}
