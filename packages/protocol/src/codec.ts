// Encoding and decoding. Expected failures (bad bytes) are values, never throws.
import protobuf from 'protobufjs/minimal.js';
import {
  pb, TYPE_SERVICE, type DiscoveryRequest, type DiscoveryRequestInit, type DiscoveryResponse,
  type EndpointGroupInit, type ResourceBodies, type ResourceType, type ServiceInit, Mode,
} from './messages.js';
import { expandSharedPorts, shareEndpointPorts } from './shared-ports.js';
import { contentVersion } from './version.js';

export type Result<T> = { ok: true; value: T } | { ok: false; error: string };

/**
 * A resource version encoded once: `encoded` is the whole `Resource` message, written as is
 * into every response that carries it.
 */
export interface EncodedResource {
  readonly typeUrl: ResourceType;
  readonly name: string;
  readonly version: string;
  /** The encoded Service or EndpointGroup. */
  readonly body: Uint8Array;
  /** The encoded `Resource { name, version, body }`. */
  readonly encoded: Uint8Array;
}

export function encodeService(service: ServiceInit): Uint8Array {
  return pb.Service.encode(service).finish();
}

/** Ports every endpoint shares are written once, as `shared_ports` (see shared-ports.ts). */
export function encodeEndpointGroup(group: EndpointGroupInit): Uint8Array {
  return pb.EndpointGroup.encode(shareEndpointPorts(group)).finish();
}

/** Encodes a resource body, versions it by content and wraps it as a `Resource`. */
export function encodeResource<T extends ResourceType>(
  typeUrl: T, name: string, body: T extends typeof TYPE_SERVICE ? ServiceInit : EndpointGroupInit,
): EncodedResource {
  const bytes = typeUrl === TYPE_SERVICE ? encodeService(body as ServiceInit) : encodeEndpointGroup(body as EndpointGroupInit);
  const version = contentVersion(bytes);
  const encoded = pb.Resource.encode({ name, version, body: bytes }).finish();
  return { typeUrl, name, version, body: bytes, encoded };
}

/** Decodes a body; an EndpointGroup's endpoints come back with their ports, shared or not. */
export function decodeResourceBody<T extends ResourceType>(typeUrl: T, bytes: Uint8Array): Result<ResourceBodies[T]> {
  try {
    const value = typeUrl === TYPE_SERVICE ? pb.Service.decode(bytes) : expandSharedPorts(pb.EndpointGroup.decode(bytes));
    return { ok: true, value: value as ResourceBodies[T] };
  } catch (err) {
    return { ok: false, error: `cannot decode ${typeUrl}: ${(err as Error).message}` };
  }
}

export function encodeRequest(request: DiscoveryRequestInit): Buffer {
  return toBuffer(pb.DiscoveryRequest.encode(request).finish());
}

export function decodeRequest(bytes: Uint8Array): Result<DiscoveryRequest> {
  try {
    return { ok: true, value: pb.DiscoveryRequest.decode(bytes) };
  } catch (err) {
    return { ok: false, error: `cannot decode DiscoveryRequest: ${(err as Error).message}` };
  }
}

export function decodeResponse(bytes: Uint8Array): Result<DiscoveryResponse> {
  try {
    return { ok: true, value: pb.DiscoveryResponse.decode(bytes) };
  } catch (err) {
    return { ok: false, error: `cannot decode DiscoveryResponse: ${(err as Error).message}` };
  }
}

/** A response as the server builds it: resources already encoded. */
export interface OutgoingResponse {
  typeUrl: ResourceType;
  versionInfo: string;
  resources: readonly EncodedResource[];
  removedResources: readonly string[];
  nonce: string;
  mode: Mode;
  controlPlane: string;
  /** The subscriber's locality from its Node's labels; omitted when the control plane does not know it. */
  nodeLocality?: { readonly region: string; readonly zone: string };
  /**
   * `encodeResourceField(resources)`, when the server already has it: a list of resources sent
   * to many subscribers (a full view) is encoded once and these bytes are copied as they are.
   */
  encodedResources?: Uint8Array;
}

type Mode = (typeof Mode)[keyof typeof Mode];

const LEN = 2; // wire type of length-delimited fields
const tag = (field: number, wireType: number): number => (field << 3) | wireType;

/**
 * Writes a DiscoveryResponse whose resources are copied from their cached encodings instead
 * of being encoded again for every stream. Byte-compatible with `pb.DiscoveryResponse.encode`.
 */
export function encodeResponse(response: OutgoingResponse): Buffer {
  const w = writeHead(protobuf.Writer.create(), response);
  const field = response.encodedResources;
  if (field) return joinAround(w.finish(), field, writeTail(protobuf.Writer.create(), response).finish());
  for (const resource of response.resources) w.uint32(tag(3, LEN)).bytes(resource.encoded);
  return toBuffer(writeTail(w, response).finish());
}

/**
 * The server's serializer: the bytes `encodeResponse` writes, in one buffer it reuses from
 * call to call, so a full view sent to thousands of streams costs no allocation of its size
 * per stream (nor the garbage collections those would trigger). The result is valid only until
 * the next call: gRPC (grpc-js's `serializeMessage`) copies a serialized message into the
 * frame it sends at once, before anything else runs.
 */
export function createResponseEncoder(): (response: OutgoingResponse) => Buffer {
  let scratch = Buffer.allocUnsafe(0);
  return (response) => {
    const head = writeHead(protobuf.Writer.create(), response).finish();
    const tail = writeTail(protobuf.Writer.create(), response).finish();
    const field = response.encodedResources;
    let middle = field?.length ?? 0;
    if (!field) for (const r of response.resources) middle += 1 + varintLength(r.encoded.length) + r.encoded.length;
    const total = head.length + middle + tail.length;
    if (scratch.length < total) scratch = Buffer.allocUnsafe(Math.max(total, 2 * scratch.length, 4096));
    scratch.set(head, 0);
    let at = head.length;
    if (field) {
      scratch.set(field, at);
      at += field.length;
    } else {
      for (const r of response.resources) {
        scratch[at++] = tag(3, LEN);
        at = writeVarint(scratch, at, r.encoded.length);
        scratch.set(r.encoded, at);
        at += r.encoded.length;
      }
    }
    scratch.set(tail, at);
    return scratch.subarray(0, total);
  };
}

/** Every `resources` entry as DiscoveryResponse field 3: the bytes `encodeResponse` writes for them. */
export function encodeResourceField(resources: readonly EncodedResource[]): Buffer {
  const w = protobuf.Writer.create();
  for (const resource of resources) w.uint32(tag(3, LEN)).bytes(resource.encoded);
  return toBuffer(w.finish());
}

/** Fields 1-2, in field order before the resources. */
function writeHead(w: protobuf.Writer, response: OutgoingResponse): protobuf.Writer {
  if (response.typeUrl) w.uint32(tag(1, LEN)).string(response.typeUrl);
  if (response.versionInfo) w.uint32(tag(2, LEN)).string(response.versionInfo);
  return w;
}

/** Fields 4-8, in field order after the resources. */
function writeTail(w: protobuf.Writer, response: OutgoingResponse): protobuf.Writer {
  for (const name of response.removedResources) w.uint32(tag(4, LEN)).string(name);
  if (response.nonce) w.uint32(tag(5, LEN)).string(response.nonce);
  if (response.mode) w.uint32(tag(6, 0)).int32(response.mode);
  if (response.controlPlane) w.uint32(tag(7, LEN)).string(response.controlPlane);
  const locality = response.nodeLocality;
  if (locality) {
    w.uint32(tag(8, LEN)).fork();
    if (locality.region) w.uint32(tag(1, LEN)).string(locality.region);
    if (locality.zone) w.uint32(tag(2, LEN)).string(locality.zone);
    w.ldelim();
  }
  return w;
}

function joinAround(head: Uint8Array, middle: Uint8Array, tail: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(head.length + middle.length + tail.length);
  out.set(head, 0);
  out.set(middle, head.length);
  out.set(tail, head.length + middle.length);
  return out;
}

function varintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value >>>= 7;
    length++;
  }
  return length;
}

function writeVarint(out: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  out[at++] = value;
  return at;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The Discovery service's one method, in the shape @grpc/grpc-js takes for
 * `server.addService` and `makeGenericClientConstructor` (the protocol package imports no gRPC).
 */
export const discoveryService = {
  stream: {
    path: '/skein.v1.Discovery/Stream',
    requestStream: true,
    responseStream: true,
    originalName: 'Stream',
    requestSerialize: (request: DiscoveryRequestInit): Buffer => encodeRequest(request),
    requestDeserialize: (bytes: Buffer): DiscoveryRequest => pb.DiscoveryRequest.decode(bytes),
    responseSerialize: (response: OutgoingResponse): Buffer => encodeResponse(response),
    responseDeserialize: (bytes: Buffer): DiscoveryResponse => pb.DiscoveryResponse.decode(bytes),
  },
} as const;
