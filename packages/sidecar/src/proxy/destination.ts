// The proxy's side of the Dataplane contract: resolve what a host:port names (waiting once for
// on-demand names), choose the endpoint for an attempt, choose a different one for a retry.
import { randomBytes } from 'node:crypto';
import { requestCounterOf } from '../balancer/request-counter.js';
import { hashKey } from '../balancer/hash-key.js';
import { requestHash, type HeaderValues } from '../balancer/request-hash.js';
import type { Dataplane, Destination, DestinationError, RequestCounter, Target } from '../dataplane.js';
import { proxyLoop } from './proxy-errors.js';

/** A destination the proxy can connect to: a mesh service or a direct host:port. */
export type Routable = Exclude<Destination, { type: 'reject' }>;

/** The code `resolve()` answers with for a name the control plane has not answered for yet. */
const UNKNOWN_SERVICE = 'SKEIN_ERR_UNKNOWN_SERVICE';

/**
 * Resolves `host:port`. An unknown name may be one the dataplane has just subscribed on demand,
 * so it waits once (up to `waitMs`) for the control plane's answer and resolves again. Returns
 * synchronously when no wait is needed, so the common path allocates no promise.
 */
export function resolveDestination(dataplane: Dataplane, host: string, port: number, waitMs: number): Destination | Promise<Destination> {
  const first = dataplane.resolve(host, port);
  if (first.type !== 'reject' || first.error.code !== UNKNOWN_SERVICE || waitMs <= 0) return first;
  return dataplane.whenKnown(host, waitMs).then(() => dataplane.resolve(host, port));
}

/**
 * Resolves `host:port` as `resolveDestination` does and calls `then` with the destination, now
 * or once known. A direct destination for which `isSelf` is true becomes a loop rejection.
 */
export function routeTo(dataplane: Dataplane, host: string, port: number, waitMs: number,
  isSelf: (host: string, port: number) => boolean, then: (destination: Destination) => void): void {
  const checked = (destination: Destination): void => {
    if (destination.type === 'direct' && isSelf(destination.host, destination.port)) then({ type: 'reject', error: proxyLoop(`${host}:${port}`) });
    else then(destination);
  };
  const result = resolveDestination(dataplane, host, port, waitMs);
  if ('then' in result) result.then(checked, () => checked(dataplane.resolve(host, port)));
  else checked(result);
}

/** The label counters and logs use for a destination: the service, or `passthrough`. */
export function serviceLabel(destination: Routable): string {
  return destination.service ?? 'passthrough';
}

/**
 * The endpoint for a first attempt, or the error to answer with (a service with no endpoint).
 * `hash` is the request's hash (see `requestHashOf`) for hashing pickers; `clientIp` (see
 * `clientIpOf`) is set for ClientIP affinity services, which then pick through their affinity.
 */
export function firstTarget(destination: Routable, hash?: number, clientIp?: string): Target | DestinationError {
  if (destination.type === 'direct') return directTarget(destination.host, destination.port);
  const picked = clientIp !== undefined && destination.affinity !== undefined
    ? destination.affinity.pick(clientIp, undefined, hash)
    : destination.picker.pick(undefined, hash);
  return picked.type === 'pick' ? picked.target : picked.error;
}

/**
 * The endpoint for a retry after connect failures on the targets in `tried`, or undefined when
 * there is none left: a direct destination has one address, and a picker that can only offer
 * an endpoint already tried has nothing better (retrying a refusing endpoint only adds latency).
 */
export function retryTarget(destination: Routable, tried: ReadonlySet<string>, hash?: number, clientIp?: string): Target | undefined {
  if (destination.type === 'direct') return undefined;
  const picked = clientIp !== undefined && destination.affinity !== undefined
    ? destination.affinity.pick(clientIp, tried, hash)
    : destination.picker.pick(tried, hash);
  if (picked.type !== 'pick' || tried.has(picked.target.key)) return undefined;
  return picked.target;
}

/**
 * The request hash for a service whose picker hashes (`skein.io/hash-key`): of the header
 * (`headers` by lower-cased name, as node gives them), the cookie, or the client's address
 * (`podIp`, when given, stands for a loopback client: the app in this pod).
 * Undefined for other destinations or when the request lacks the value.
 */
export function requestHashOf(destination: Routable, headers: HeaderValues, remoteAddress: string | undefined, podIp: string | undefined): number | undefined {
  if (destination.type !== 'service' || destination.hashKey === undefined) return undefined;
  // Why: the app reaches its sidecar over loopback, and every pod's loopback address is the
  // same: hashing it would send every client pod in the cluster to one endpoint.
  const source = podIp && remoteAddress !== undefined && isLoopback(remoteAddress) ? podIp : remoteAddress;
  return requestHash(destination.hashKey, headers, source);
}

/** A hash cookie the sidecar hands a client that has none (see `newHashCookie`). */
export interface HashCookie {
  /** The request hash the new value gives: this request is picked with it already. */
  readonly hash: number;
  /** The Set-Cookie header value for the response. */
  readonly setCookie: string;
}

/**
 * For a service hashing on a cookie (`skein.io/hash-key: cookie:<name>`) whose request had no
 * such cookie (`requestHashOf` gave no hash): a fresh random value, hashed for this request and
 * handed to the client, so its later requests carry it and stay on one endpoint (Envoy
 * generates the cookie the same way when its hash policy has a ttl). A session cookie: it lasts
 * as long as the client keeps it. Undefined for any other destination.
 */
export function newHashCookie(destination: Routable): HashCookie | undefined {
  if (destination.type !== 'service' || destination.hashKey?.type !== 'cookie') return undefined;
  // Random, not derived from the client address: every app reaches its sidecar over loopback.
  const value = randomBytes(8).toString('hex');
  return { hash: hashKey(value), setCookie: `${destination.hashKey.name}=${value}; Path=/; HttpOnly` };
}

/**
 * The client address ClientIP affinity keys on, for a destination that has affinity (else
 * undefined): the peer's address, or `podIp` for a loopback client (the app in this pod), for
 * the same reason as in `requestHashOf`.
 */
export function clientIpOf(destination: Routable, remoteAddress: string | undefined, podIp: string | undefined): string | undefined {
  if (destination.type !== 'service' || destination.affinity === undefined || remoteAddress === undefined) return undefined;
  return podIp && isLoopback(remoteAddress) ? podIp : remoteAddress;
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}

/** The picker's outstanding-request counter (least request), once per request; undefined for others. */
export function requestCounterFor(destination: Routable): RequestCounter | undefined {
  return destination.type === 'service' ? requestCounterOf(destination.picker) : undefined;
}

/** A Target for a host:port outside the balancer (DNS, if any, happens at connect time). */
export function directTarget(host: string, port: number): Target {
  return { address: host, port, key: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` };
}

/** Distinguishes a DestinationError from a Target in `firstTarget`'s result. */
export function isError(value: Target | DestinationError): value is DestinationError {
  return (value as DestinationError).code !== undefined;
}
