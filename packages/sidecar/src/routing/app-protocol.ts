// Service port -> L7 handling. appProtocol first (the Kubernetes field), then the port
// name's prefix as Istio's protocol selection does, else 'unknown' (the proxy sniffs).
import type { ServicePort } from '@skein/protocol';
import type { AppProtocol } from '../dataplane.js';

/**
 * appProtocol values: the IANA service names Istio accepts and the Kubernetes-defined
 * `kubernetes.io/*` ones (KEP-3726). Database protocols are opaque TCP to the mesh.
 */
const BY_APP_PROTOCOL: ReadonlyMap<string, AppProtocol> = new Map<string, AppProtocol>([
  ['http', 'http'],
  ['http2', 'h2c'],
  ['h2c', 'h2c'],
  ['kubernetes.io/h2c', 'h2c'],
  ['grpc', 'grpc'],
  ['grpc-web', 'http'],
  ['kubernetes.io/ws', 'ws'],
  ['kubernetes.io/wss', 'ws'],
  ['https', 'https'],
  ['tls', 'tcp'],
  ['tcp', 'tcp'],
  ['mongo', 'tcp'],
  ['mysql', 'tcp'],
  ['redis', 'tcp'],
]);

/**
 * Istio's port naming convention: `<protocol>[-<suffix>]`, e.g. `http-web`, `grpc`, `tcp-db`.
 * `grpc-web` is checked before `grpc` since it is a protocol of its own (HTTP/1.1 framing).
 */
const BY_NAME_PREFIX: ReadonlyArray<readonly [string, AppProtocol]> = [
  ['grpc-web', 'http'],
  ['http2', 'h2c'],
  ['https', 'https'],
  ['http', 'http'],
  ['grpc', 'grpc'],
  ['tcp', 'tcp'],
  ['tls', 'tcp'],
  ['mongo', 'tcp'],
  ['mysql', 'tcp'],
  ['redis', 'tcp'],
];

/** The L7 protocol of a Service port: from `appProtocol`, else the port name, else 'unknown'. */
export function appProtocolOf(port: ServicePort): AppProtocol {
  const declared = (port.appProtocol ?? '').toLowerCase();
  const byField = declared ? BY_APP_PROTOCOL.get(declared) : undefined;
  if (byField) return byField;
  const name = (port.name ?? '').toLowerCase();
  for (const [prefix, protocol] of BY_NAME_PREFIX) {
    if (name === prefix || (name.startsWith(prefix) && name.charCodeAt(prefix.length) === 0x2d /* '-' */)) return protocol;
  }
  return 'unknown';
}
