// The encoded size of a DiscoveryResponse, for metrics, without encoding it a second time
// (gRPC runs the serializer; we only hand it the OutgoingResponse).
import { varintSize, type OutgoingResponse } from '@skein/protocol';

/** Bytes `encodeResponse(response)` produces (fields 1-8 each take a one-byte tag). */
export function encodedResponseSize(response: OutgoingResponse): number {
  let size = 0;
  size += stringField(response.typeUrl);
  size += stringField(response.versionInfo);
  if (response.encodedResources) size += response.encodedResources.length;
  else for (const resource of response.resources) size += lengthDelimited(resource.encoded.length);
  for (const name of response.removedResources) size += lengthDelimited(Buffer.byteLength(name));
  size += stringField(response.nonce);
  if (response.mode) size += 1 + varintSize(response.mode);
  size += stringField(response.controlPlane);
  const locality = response.nodeLocality;
  if (locality) size += lengthDelimited(stringField(locality.region) + stringField(locality.zone));
  return size;
}

function stringField(text: string): number {
  return text ? lengthDelimited(Buffer.byteLength(text)) : 0;
}

function lengthDelimited(length: number): number {
  return 1 + varintSize(length) + length;
}
