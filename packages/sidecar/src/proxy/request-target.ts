// Parses what an HTTP client names as its destination: the authority of a CONNECT request or a
// Host header (`host:port`), and absolute-form request targets (`http://web.demo/path`, RFC 9112
// §3.2.2), without `new URL()` on the request path.
import type { IncomingMessage } from 'node:http';

/** A destination as the client named it: a host (name or IP, IPv6 without brackets) and a port. */
export interface Authority {
  readonly host: string;
  readonly port: number;
}

/** An absolute-form target split into the authority and the origin-form path to send upstream. */
export interface AbsoluteTarget extends Authority {
  /** Origin-form: starts with "/" (or is "*"), includes the query. */
  readonly path: string;
  /** The authority exactly as written in the URL, for a Host header when the client sent none. */
  readonly authority: string;
}

/**
 * Parses `host`, `host:port`, `[v6]` or `[v6]:port`. `defaultPort` applies when there is no
 * port; pass 0 to require one (CONNECT). Returns undefined for anything malformed.
 */
export function parseAuthority(text: string, defaultPort: number): Authority | undefined {
  let host: string;
  let portText: string | undefined;
  if (text.charCodeAt(0) === 91 /* [ */) {
    const close = text.indexOf(']');
    if (close < 2) return undefined;
    host = text.slice(1, close);
    if (close + 1 < text.length) {
      if (text.charCodeAt(close + 1) !== 58 /* : */) return undefined;
      portText = text.slice(close + 2);
    }
  } else {
    const colon = text.lastIndexOf(':');
    if (colon === -1) {
      host = text;
    } else {
      if (text.indexOf(':') !== colon) return undefined; // bare IPv6 without brackets
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
    }
  }
  if (host.length === 0 || !validHost(host)) return undefined;
  let port = defaultPort;
  if (portText !== undefined) {
    port = parsePort(portText);
    if (port === 0) return undefined;
  } else if (port === 0) {
    return undefined;
  }
  return { host: host.toLowerCase(), port };
}

/**
 * Parses an absolute-form `http://authority/path?query` target. Userinfo is dropped (deprecated
 * in HTTP URIs, RFC 9110 §4.2.4); a missing path becomes "/". Returns undefined when malformed
 * or when the scheme is not http (https clients must tunnel with CONNECT).
 */
export function parseAbsoluteForm(url: string): AbsoluteTarget | undefined {
  if (url.length < 8 || !/^http:\/\//i.test(url)) return undefined;
  let end = url.length;
  for (let i = 7; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 47 /* / */ || c === 63 /* ? */ || c === 35 /* # */) {
      end = i;
      break;
    }
  }
  let authority = url.slice(7, end);
  const at = authority.lastIndexOf('@');
  if (at !== -1) authority = authority.slice(at + 1);
  const parsed = parseAuthority(authority, 80);
  if (!parsed) return undefined;
  let path = end === url.length ? '/' : url.slice(end);
  if (path.charCodeAt(0) === 63 /* ? */) path = `/${path}`;
  const hash = path.indexOf('#');
  if (hash !== -1) path = path.slice(0, hash);
  return { host: parsed.host, port: parsed.port, path, authority };
}

function parsePort(text: string): number {
  if (text.length === 0 || text.length > 5) return 0;
  let port = 0;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return 0;
    port = port * 10 + d;
  }
  return port <= 65535 ? port : 0;
}

// Rejects characters that cannot appear in a DNS name or IP literal, so a smuggled path or
// whitespace never reaches the dataplane or a log line as a "host".
function validHost(host: string): boolean {
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    const ok = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57)
      || c === 45 /* - */ || c === 46 /* . */ || c === 95 /* _ */ || c === 58 /* : (IPv6) */ || c === 37 /* % (zone) */;
    if (!ok) return false;
  }
  return true;
}

/** True when `host` names this machine's loopback or unspecified address (for loop detection). */
export function isLocalHost(host: string): boolean {
  return host === 'localhost' || host.startsWith('127.') || host === '::1' || host === '0.0.0.0' || host === '::'
    || host === '::ffff:127.0.0.1';
}

/** The origin-form path of a request; absolute-form is tolerated and reduced to its path. */
export function originPath(req: IncomingMessage): string | undefined {
  const url = req.url ?? '/';
  if (url.charCodeAt(0) === 47 /* / */ || url === '*') return url;
  return parseAbsoluteForm(url)?.path;
}
