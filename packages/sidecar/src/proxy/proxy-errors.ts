// Errors the proxy listeners answer with themselves (as opposed to the dataplane's `reject`
// errors): values with a stable code, shaped like DestinationError so one writer serves both.
// Why here and not in a package errors.ts: none exists yet; move these when one does.
import type { DestinationError } from '../dataplane.js';

export const ProxyErrorCode = {
  /** The request line, target or headers cannot be routed (400). */
  BAD_REQUEST: 'SKEIN_ERR_BAD_REQUEST',
  /** No endpoint accepted a connection within the connect timeout and retries (503, like Envoy's UF). */
  CONNECT_FAILED: 'SKEIN_ERR_CONNECT_FAILED',
  /** The endpoint accepted the connection, then failed before a response head arrived (502). */
  UPSTREAM_FAILED: 'SKEIN_ERR_UPSTREAM_FAILED',
  /** The request did not complete within the service's `skein.io/timeout` (504). */
  TIMEOUT: 'SKEIN_ERR_TIMEOUT',
  /** Every endpoint is at its circuit-breaking limit of active or pending requests (503, like Envoy's UO). */
  OVERFLOW: 'SKEIN_ERR_OVERFLOW',
  /** The request would be sent back to this proxy's own port (508). */
  LOOP: 'SKEIN_ERR_PROXY_LOOP',
  /** The listener does not serve this kind of request, e.g. CONNECT on a service listener (405). */
  METHOD_NOT_ALLOWED: 'SKEIN_ERR_METHOD_NOT_ALLOWED',
} as const;

/** A request this listener cannot route: `detail` says what is wrong with it. */
export function badRequest(detail: string): DestinationError {
  return { code: ProxyErrorCode.BAD_REQUEST, message: `skein: bad request: ${detail}`, status: 400 };
}

/** Every endpoint tried for `what` (a "host:port" as the client named it) refused or timed out. */
export function connectFailed(what: string, target: string, cause: string): DestinationError {
  return {
    code: ProxyErrorCode.CONNECT_FAILED,
    message: `skein: cannot connect to "${what}" (last endpoint tried ${target}: ${cause})`,
    status: 503,
  };
}

/** The endpoint for `what` failed after the connection was made, before answering. */
export function upstreamFailed(what: string, target: string, cause: string): DestinationError {
  return {
    code: ProxyErrorCode.UPSTREAM_FAILED,
    message: `skein: endpoint ${target} of "${what}" failed before responding: ${cause}`,
    status: 502,
  };
}

/** The request to `what` did not complete within `timeoutMs` (`skein.io/timeout`). */
export function upstreamTimeout(what: string, timeoutMs: number): DestinationError {
  return { code: ProxyErrorCode.TIMEOUT, message: `skein: upstream request to ${what} timed out after ${timeoutMs} ms`, status: 504 };
}

/** Every endpoint of `service` (as the client named it) is at its request limit (circuit breaking). */
export function overflow(service: string): DestinationError {
  return { code: ProxyErrorCode.OVERFLOW, message: `skein: every endpoint of ${service} is at its request limit`, status: 503 };
}

/** `what` names this proxy itself; forwarding would loop until sockets run out. */
export function proxyLoop(what: string): DestinationError {
  return { code: ProxyErrorCode.LOOP, message: `skein: "${what}" is this proxy's own address; refusing to loop`, status: 508 };
}

/** Short cause text for an I/O error: its code when it has one (ECONNREFUSED), else its message. */
export function causeOf(error: unknown): string {
  if (error && typeof error === 'object') {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const message = (error as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  }
  return String(error);
}
