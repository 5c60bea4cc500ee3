// The head of a request as the HTTP/1.1 forwarder sends it upstream through undici: the client's
// end-to-end headers (hop-headers.ts), checked against what undici refuses. undici validates a
// request when a connection takes it and then fails it, which would look like an endpoint
// failure (and, in undici 7, leave that connection marked busy), so what it would refuse is
// answered 400 here instead.
import type { IncomingMessage } from 'node:http';
import type { DestinationError } from '../dataplane.js';
import { forwardHeaders, setHeaders } from './hop-headers.js';
import { badRequest } from './proxy-errors.js';

/** What the upstream request line and headers are made of. */
export interface UpstreamHead {
  /** Origin-form path. */
  readonly path: string;
  /** Host header value to add when the client sent none. */
  readonly addHost?: string | undefined;
  /** Headers replacing any the client sent. */
  readonly setHeaders?: Readonly<Record<string, string>> | undefined;
}

/**
 * The flat `[name, value, …]` header list for `req`'s upstream request, or the 400 to answer.
 * Framing is undici's: it writes Content-Length, or chunks a body of unknown length, so the
 * client's Transfer-Encoding is dropped with the other hop-by-hop fields. `Expect` is dropped
 * too: node's server has already answered `100 Continue` (nothing here listens for
 * 'checkContinue'), as Envoy answers it itself, and undici can neither send Expect nor read an
 * interim 100.
 */
export function upstreamHeaders(req: IncomingMessage, head: UpstreamHead): string[] | DestinationError {
  if (head.path.charCodeAt(0) !== 47 /* / */) {
    // undici sends origin-form and absolute-form only.
    return badRequest(`request target "${head.path}" (asterisk-form) is not forwarded`);
  }
  const headers = forwardHeaders(req.rawHeaders, 0);
  let hosts = 0;
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    const name = headers[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') hosts++;
    else if (name.length === 6 && name.toLowerCase() === 'expect') headers.splice(i, 2);
  }
  // RFC 9112 section 3.2: a request with more than one Host is answered 400.
  if (hosts > 1) return badRequest('more than one Host header');
  if (hosts === 0 && head.addHost !== undefined) headers.push('Host', head.addHost);
  if (head.setHeaders !== undefined) setHeaders(headers, head.setHeaders);
  return headers;
}
