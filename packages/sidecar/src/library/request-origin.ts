// What a dispatched request was addressed to, and the Host header that keeps it addressed
// there once the mesh sends it to an endpoint's address instead; headers set per attempt.
import type { Dispatcher } from 'undici';
import { ERR_BAD_TARGET, MeshError } from './mesh-error.js';
import { setHeaders } from '../proxy/hop-headers.js';

export interface RequestOrigin {
  readonly protocol: 'http:' | 'https:';
  /** The name to resolve: brackets of an IPv6 literal removed. */
  readonly hostname: string;
  readonly port: number;
  /** `host[:port]` as the app wrote it: the Host header the backend must see. */
  readonly authority: string;
}

// Origins parsed before: an app talks to a handful of origins, and `new URL` costs about a
// microsecond per request. Bounded: cleared when full (a crawler of many hosts just re-parses).
const parsedOrigins = new Map<string, RequestOrigin>();
const MAX_PARSED_ORIGINS = 1024;

/** Parses a dispatch `origin` ("http://web.demo", URL). A MeshError when it is missing or not http(s). */
export function parseOrigin(origin: string | URL | undefined): RequestOrigin | MeshError {
  if (typeof origin === 'string') {
    const known = parsedOrigins.get(origin);
    if (known !== undefined) return known;
    const parsed = parseOriginUncached(origin);
    if (!(parsed instanceof MeshError)) {
      if (parsedOrigins.size >= MAX_PARSED_ORIGINS) parsedOrigins.clear();
      parsedOrigins.set(origin, parsed);
    }
    return parsed;
  }
  return parseOriginUncached(origin);
}

function parseOriginUncached(origin: string | URL | undefined): RequestOrigin | MeshError {
  if (origin === undefined) return new MeshError(ERR_BAD_TARGET, 'skein: dispatch without an origin (use an absolute URL)', 400);
  let url: URL;
  try {
    url = typeof origin === 'string' ? new URL(origin) : origin;
  } catch {
    return new MeshError(ERR_BAD_TARGET, `skein: invalid origin "${String(origin)}"`, 400);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return new MeshError(ERR_BAD_TARGET, `skein: unsupported scheme "${url.protocol}" in "${url.origin}" (http and https only)`, 400);
  }
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { protocol: url.protocol, hostname, port, authority: url.host };
}

/** The origin of a pool for one endpoint: "http://10.0.0.7:8080", "http://[fd00::7]:8080". */
export function endpointOrigin(protocol: string, address: string, port: number): string {
  return `${protocol}//${address.includes(':') ? `[${address}]` : address}:${String(port)}`;
}

type Headers = Dispatcher.DispatchOptions['headers'];

/**
 * `headers` with `host: authority` added unless the app set its own Host. A pool would
 * otherwise send its endpoint's "address:port", and virtual hosting, routing and TLS SNI
 * at the backend all key on the name the app used (what a proxy keeps as well).
 */
export function withHostHeader(headers: Headers, authority: string): Headers {
  if (headers == null) return { host: authority };
  if (Array.isArray(headers)) {
    // A flat [name, value, name, value…] list, as undici reads arrays.
    const flat = headers as string[];
    for (let i = 0; i < flat.length; i += 2) if (isHost(flat[i]!)) return headers;
    return [...flat, 'host', authority];
  }
  if (isIterable(headers)) {
    // Iterated once into a flat list: a generator cannot be read twice.
    const flat: (string | string[])[] = [];
    let hasHost = false;
    for (const [name, value] of headers) {
      if (value === undefined) continue;
      hasHost ||= isHost(name);
      flat.push(name, value);
    }
    if (!hasHost) flat.push('host', authority);
    return flat as string[];
  }
  for (const name in headers) if (isHost(name)) return headers;
  return { ...headers, host: authority } as Headers;
}

/** Whether a header name is Host, in any case (the length test spares most names a lower-casing). */
function isHost(name: string): boolean {
  return name.length === 4 && name.toLowerCase() === 'host';
}

/** Decides as undici's Request does: an own iterator, or an iterable class instance (Map, Headers). */
function isIterable(value: object): value is Iterable<[string, string | string[] | undefined]> {
  if (Object.prototype.hasOwnProperty.call(value, Symbol.iterator)) return true;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto !== Object.prototype && proto !== null && typeof (value as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function';
}

/**
 * The value of header `name` (lower-cased) in headers as `withHostHeader` returns them (a flat
 * list or a record; iterables were flattened there), or undefined. Repeated cookie headers are
 * joined with "; ", others give their first value. Allocates only when joining.
 */
export function headerValue(headers: Headers, name: string): string | undefined {
  if (headers == null) return undefined;
  let found: string | undefined;
  const take = (value: unknown): void => {
    const text = typeof value === 'string' ? value : Array.isArray(value) && typeof value[0] === 'string' ? (value as string[]).join(name === 'cookie' ? '; ' : ', ') : undefined;
    if (text === undefined) return;
    found = found === undefined ? text : name === 'cookie' ? `${found}; ${text}` : found;
  };
  if (Array.isArray(headers)) {
    const flat = headers as unknown[];
    for (let i = 0; i < flat.length; i += 2) if (String(flat[i]).toLowerCase() === name) take(flat[i + 1]);
    return found;
  }
  const record = headers as Record<string, unknown>;
  for (const key in record) if (key.toLowerCase() === name) take(record[key]);
  return found;
}

/**
 * `headers` (as `withHostHeader` returns them: a flat list or a record) with each header of
 * `set` replacing any of the same name, case-insensitively: e.g. an attempt's trace context.
 * A copy: the app's own object is never changed. `headers` itself when `set` is empty.
 */
export function withHeaders(headers: Headers, set: Readonly<Record<string, string>>): Headers {
  const names = Object.keys(set);
  if (names.length === 0) return headers;
  if (Array.isArray(headers)) {
    // A copy: the app's own array stays as it was.
    const out = (headers as string[]).slice();
    setHeaders(out, set);
    return out;
  }
  const replaced = new Set(names.map((name) => name.toLowerCase()));
  const out: Record<string, unknown> = {};
  const record = (headers ?? {}) as Record<string, unknown>;
  for (const key in record) if (!replaced.has(key.toLowerCase())) out[key] = record[key];
  return Object.assign(out, set) as Headers;
}
