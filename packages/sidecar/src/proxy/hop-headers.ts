// Header filtering for the two hops a proxied message crosses. A sidecar is transparent: it
// forwards end-to-end headers untouched (case, order, duplicates: it works on rawHeaders) and
// adds nothing (no X-Forwarded-For, no Via), but it must drop hop-by-hop fields (RFC 9110
// §7.6.1) and anything the Connection header names, or a client's keep-alive or proxy
// credentials would leak to the next hop.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { sensitiveHeaders } from 'node:http2';

/** Keep `Upgrade` and send `Connection: Upgrade` (an Upgrade/WebSocket handshake). */
export const KEEP_UPGRADE = 1;
/**
 * Keep `Transfer-Encoding`. Node decodes chunked bodies and re-frames what we write when the
 * header says chunked, so passing it through preserves the framing choice; drop it towards an
 * HTTP/1.0 client, which cannot parse chunks (node then delimits the body by closing).
 */
export const KEEP_TRANSFER_ENCODING = 2;

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate',
  'te', 'trailer', 'upgrade', 'transfer-encoding',
]);

/**
 * Returns a flat `[name, value, …]` copy of `raw` (a message's rawHeaders) without hop-by-hop
 * fields. `flags` is a bit set of KEEP_UPGRADE and KEEP_TRANSFER_ENCODING.
 */
export function forwardHeaders(raw: readonly string[], flags: number): string[] {
  let listed: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') listed = connectionTokens(raw[i + 1]!, listed);
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      const keep = (lower === 'upgrade' && (flags & KEEP_UPGRADE) !== 0)
        || (lower === 'transfer-encoding' && (flags & KEEP_TRANSFER_ENCODING) !== 0);
      if (!keep) continue;
    } else if (listed !== undefined && listed.includes(lower)) {
      continue;
    }
    out.push(name, raw[i + 1]!);
  }
  if ((flags & KEEP_UPGRADE) !== 0) out.push('Connection', 'Upgrade');
  return out;
}

/** Adds to `into` the extra field names a Connection header lists (skipping the common tokens). */
function connectionTokens(value: string, into: string[] | undefined): string[] | undefined {
  const lower = value.toLowerCase();
  if (lower === 'keep-alive' || lower === 'close' || lower === 'upgrade') return into;
  for (const token of lower.split(',')) {
    const name = token.trim();
    if (name.length > 0 && !HOP_BY_HOP.has(name) && name !== 'close') (into ??= []).push(name);
  }
  return into;
}

/** True when the Host header is present in `raw`. */
export function hasHost(raw: readonly string[]): boolean {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') return true;
  }
  return false;
}

// Connection-specific fields are forbidden in HTTP/2 (RFC 9113 §8.2.2); `te` may only say
// "trailers", which gRPC requires, so it is kept exactly then.
const H2_FORBIDDEN = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);

/**
 * Copies HTTP/2 headers (request, response or trailers, pseudo-headers included) minus
 * connection-specific fields, keeping node's never-index marks on sensitive values.
 */
export function forwardH2Headers(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (H2_FORBIDDEN.has(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (name === 'te' && value !== 'trailers') continue;
    out[name] = value;
  }
  const sensitive = (headers as Record<symbol, unknown>)[sensitiveHeaders];
  if (Array.isArray(sensitive) && sensitive.length > 0) (out as Record<symbol, unknown>)[sensitiveHeaders] = sensitive;
  return out;
}

/** Replaces (case-insensitively) or appends `set` in a flat raw header list. */
export function setHeaders(raw: string[], set: Readonly<Record<string, string>>): void {
  for (const name in set) {
    const lower = name.toLowerCase();
    for (let i = raw.length - 2; i >= 0; i -= 2) {
      // Length first: most names differ there, and toLowerCase would allocate for each.
      if (raw[i]!.length === lower.length && raw[i]!.toLowerCase() === lower) raw.splice(i, 2);
    }
    raw.push(name, set[name]!);
  }
}

