// The data plane's errors module (CONVENTIONS rule 7): every expected failure on the request
// path is a `DestinationError` value with a stable code, the HTTP status a proxy answers with,
// and a message that names the component ("skein") and the object (service, host, port).
import type { DestinationError } from './dataplane.js';

/** Stable error codes. Tests, logs, metrics and users match on these; never rename one. */
export const ErrorCode = {
  /** A mesh-looking name the config does not hold (yet): subscribed on demand. */
  UNKNOWN_SERVICE: 'SKEIN_ERR_UNKNOWN_SERVICE',
  /** A known Service has no port with the requested number. */
  UNKNOWN_PORT: 'SKEIN_ERR_UNKNOWN_PORT',
  /** A Service port has no eligible endpoint (none ready, none serving and terminating). */
  NO_ENDPOINT: 'SKEIN_ERR_NO_ENDPOINT',
  /** `--outbound-policy registry-only` and the host is not in the mesh registry. */
  NOT_IN_REGISTRY: 'SKEIN_ERR_NOT_IN_REGISTRY',
  /** internalTrafficPolicy: Local and no usable endpoint on this node (no fallback, as kube-proxy). */
  LOCAL_NO_ENDPOINT: 'SKEIN_ERR_LOCAL_NO_ENDPOINT',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * HTTP statuses. 503: the destination is in the mesh but cannot be served now. 403: the
 * request is refused by policy (registry-only) — not 502, because nothing upstream failed;
 * the proxy decided, and a retry will not help. Istio's BlackHoleCluster answers 502, which
 * users routinely mistake for a broken backend.
 */
export const ErrorStatus: Readonly<Record<ErrorCode, number>> = {
  SKEIN_ERR_UNKNOWN_SERVICE: 503,
  SKEIN_ERR_UNKNOWN_PORT: 503,
  SKEIN_ERR_NO_ENDPOINT: 503,
  SKEIN_ERR_NOT_IN_REGISTRY: 403,
  SKEIN_ERR_LOCAL_NO_ENDPOINT: 503,
};

/** Builds a frozen error value; the status comes from the code. */
export function destinationError(code: ErrorCode, message: string): DestinationError {
  return Object.freeze({ code, message, status: ErrorStatus[code] });
}

/** "web.demo" for resource name "demo/web": the form users type. */
export function displayName(serviceKey: string): string {
  const slash = serviceKey.indexOf('/');
  return slash < 0 ? serviceKey : `${serviceKey.slice(slash + 1)}.${serviceKey.slice(0, slash)}`;
}

/** `host` looks like a mesh name but no such Service is known (`pending`: asked for on demand). */
export function unknownServiceError(host: string, pending: boolean): DestinationError {
  const why = pending
    ? 'is not known yet; subscribed on demand, retry shortly'
    : 'does not name a known Service';
  return destinationError(ErrorCode.UNKNOWN_SERVICE, `skein: host "${host}" ${why}`);
}

/** `serviceKey` has no port `port`; names the ports it has. */
export function unknownPortError(serviceKey: string, port: number, ports: readonly number[]): DestinationError {
  const has = ports.length === 0 ? 'no ports' : `port${ports.length > 1 ? 's' : ''} ${ports.join(', ')}`;
  return destinationError(
    ErrorCode.UNKNOWN_PORT,
    `skein: service "${displayName(serviceKey)}" has no port ${port} (it has ${has})`,
  );
}

/** No eligible endpoint for a Service port; `detail` says what was there instead. */
export function noEndpointError(serviceKey: string, port: number, detail?: string): DestinationError {
  return destinationError(
    ErrorCode.NO_ENDPOINT,
    `skein: service "${displayName(serviceKey)}" has no ready endpoint for port ${port}${detail ? ` (${detail})` : ''}`,
  );
}

/** internalTrafficPolicy Local and none of the Service's usable endpoints is on `nodeName`. */
export function localNoEndpointError(serviceKey: string, port: number, nodeName: string | undefined): DestinationError {
  const node = nodeName ? `node "${nodeName}"` : 'this node (its name is unknown: set --node-name)';
  return destinationError(
    ErrorCode.LOCAL_NO_ENDPOINT,
    `skein: service "${displayName(serviceKey)}" has internalTrafficPolicy Local and no ready endpoint for port ${port} on ${node}`,
  );
}

/** registry-only outbound policy and `host` is not a mesh destination. */
export function notInRegistryError(host: string, port: number): DestinationError {
  return destinationError(
    ErrorCode.NOT_IN_REGISTRY,
    `skein: host "${joinHostPort(host, port)}" is not in the mesh registry and the outbound policy is registry-only`,
  );
}

/** "host:port", with an IPv6 address in brackets: the form of `Target.key`. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
