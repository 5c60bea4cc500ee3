// The benchmark's simulated subscriber: a light client of the discovery protocol, so that
// thousands of them fit in a few worker processes next to the control plane on a small machine.
// Each is its own gRPC channel and TCP connection (one sidecar), subscribes to both types with
// wildcard and ACKs every response as soon as it arrives. It does not decode what it receives:
// a response is scanned for its top-level fields only (the resources are counted, and kept as
// raw bytes when the response is small, so a delta push can be looked into).
import grpc from '@grpc/grpc-js';
import { encodeRequest, Mode, TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '../packages/protocol/dist/index.js';

/** Responses under this size keep their resources' bytes (delta pushes); larger ones only count them. */
let keepResourcesBelow = 64 * 1024;

/** Sets the size under which responses keep their resources' bytes (a churn phase looks into every push). */
export function keepResources(belowBytes) {
  keepResourcesBelow = belowBytes;
}

/** A position in encoded protobuf bytes, reading varints forward. */
class Reader {
  constructor(bytes, i) {
    this.bytes = bytes;
    this.i = i;
  }

  varint() {
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = this.bytes[this.i++];
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
      shift += 7;
    }
  }
}

/** Top-level fields of an encoded DiscoveryResponse, without decoding its resources. */
export function scanResponse(bytes) {
  const out = { typeUrl: '', versionInfo: '', nonce: '', mode: 0, resources: 0, removed: 0, bytes: bytes.length, raw: undefined };
  const keep = bytes.length < keepResourcesBelow;
  if (keep) out.raw = [];
  const r = new Reader(bytes, 0);
  while (r.i < bytes.length) {
    const key = r.varint();
    const field = key >>> 3;
    if ((key & 7) === 0) {
      const value = r.varint();
      if (field === 6) out.mode = value;
      continue;
    }
    if ((key & 7) !== 2) throw new Error(`unexpected wire type ${key & 7} for field ${field}`);
    const length = r.varint();
    const start = r.i;
    const end = (r.i += length);
    if (field === 1) out.typeUrl = bytes.toString('utf8', start, end);
    else if (field === 2) out.versionInfo = bytes.toString('utf8', start, end);
    else if (field === 3) {
      out.resources++;
      if (keep) out.raw.push(bytes.subarray(start, end));
    } else if (field === 4) out.removed++;
    else if (field === 5) out.nonce = bytes.toString('utf8', start, end);
  }
  return out;
}

/** The fields `field` (wire type 2) of an encoded message, as [start, end) offsets into `bytes`. */
function* lengthDelimited(bytes, start, end, field) {
  const r = new Reader(bytes, start);
  while (r.i < end) {
    const key = r.varint();
    const type = key & 7;
    if (type === 0) r.varint();
    else if (type === 2) {
      const length = r.varint();
      if (key >>> 3 === field) yield [r.i, r.i + length];
      r.i += length;
    } else if (type === 5) r.i += 4;
    else if (type === 1) r.i += 8;
    else throw new Error(`unexpected wire type ${type}`);
  }
}

/**
 * A kept EndpointGroup resource's name and its endpoints' addresses, read straight from the
 * bytes (Resource.name, Resource.body -> EndpointGroup.endpoints -> Endpoint.address): a
 * fraction of a decode's cost, for thousands of pushes per second.
 */
export function groupAddresses(resourceBytes) {
  const first = (start, end, field) => lengthDelimited(resourceBytes, start, end, field).next().value;
  const [ns, ne] = first(0, resourceBytes.length, 1);
  const [bs, be] = first(0, resourceBytes.length, 3);
  const addresses = [];
  for (const [es, ee] of lengthDelimited(resourceBytes, bs, be, 4)) {
    const address = first(es, ee, 1);
    if (address) addresses.push(resourceBytes.toString('latin1', address[0], address[1]));
  }
  return { name: resourceBytes.toString('utf8', ns, ne), addresses };
}

const Client = grpc.makeGenericClientConstructor({
  stream: {
    path: '/skein.v1.Discovery/Stream', requestStream: true, responseStream: true, originalName: 'Stream',
    requestSerialize: encodeRequest, requestDeserialize: () => undefined,
    responseSerialize: () => Buffer.alloc(0), responseDeserialize: scanResponse,
  },
}, 'skein.v1.Discovery');

/** Connection attempts before a subscriber gives up (a sidecar never does; the benchmark must end). */
const MAX_ATTEMPTS = 8;

/**
 * Opens one subscriber: `onResponse(response, at)` is called for each response, after its ACK
 * was written; `onEnd(status)` once the stream ended for good. A stream that ends UNAVAILABLE
 * before any response (thousands connecting at once overflow the listen backlog) is opened
 * again after a jittered, doubling delay, as a sidecar does; `onRetry(status)` counts those.
 * Returns {close()}.
 */
export function subscribe({ address, node, mode, onResponse, onEnd, onRetry }) {
  const wireMode = mode === 'delta' ? Mode.MODE_DELTA : Mode.MODE_STATE_OF_THE_WORLD;
  let client;
  let call;
  let closed = false;
  let attempts = 0;
  const open = () => {
    if (closed) return;
    attempts++;
    // A local subchannel pool: without it grpc-js shares one connection among same-target channels.
    client = new Client(address, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': -1,
    });
    const current = client.stream();
    call = current;
    let received = false;
    current.on('error', () => {});
    current.on('status', (status) => {
      if (closed || current !== call) return;
      if (status.code === grpc.status.UNAVAILABLE && !received && attempts < MAX_ATTEMPTS) {
        onRetry?.(status);
        client.close();
        setTimeout(open, Math.random() * 250 * 2 ** attempts);
        return;
      }
      closed = true;
      onEnd?.(status);
    });
    current.on('data', (response) => {
      const at = Date.now();
      if (closed) return;
      received = true;
      current.write(mode === 'delta'
        ? { typeUrl: response.typeUrl, mode: wireMode, responseNonce: response.nonce }
        : { typeUrl: response.typeUrl, mode: wireMode, responseNonce: response.nonce, versionInfo: response.versionInfo });
      onResponse(response, at);
    });
    [TYPE_SERVICE, TYPE_ENDPOINT_GROUP].forEach((typeUrl, i) => {
      current.write({
        ...(i === 0 ? { node } : {}), typeUrl, mode: wireMode,
        ...(mode === 'delta' ? { resourceNamesSubscribe: ['*'] } : {}),
      });
    });
  };
  open();
  return {
    close() {
      closed = true;
      call.cancel();
      client.close();
    },
  };
}
