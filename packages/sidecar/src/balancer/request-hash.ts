// The request hash for hashing pickers (ring hash, maglev): reads the request property named by
// `skein.io/hash-key` (header, cookie or source address) and hashes it with `hashKey`. Pure:
// the proxy and library mode hand in the headers and the client's address.
import type { HashKeySource } from '../dataplane.js';
import { hashKey } from './hash-key.js';

/** Request headers by lower-cased name, as node's `IncomingMessage.headers` and http2 give them. */
export type HeaderValues = Readonly<Record<string, string | readonly string[] | undefined>>;

/** A header's value by lower-cased name, for header forms other than `HeaderValues`. */
export type HeaderLookup = (name: string) => string | undefined;

/**
 * `hashKey()` of the value `source` names, or undefined when there is no source (the picker
 * does not hash) or the request lacks the value (the picker then chooses at random).
 */
export function requestHash(source: HashKeySource | undefined, headers: HeaderValues | HeaderLookup, sourceAddress: string | undefined): number | undefined {
  if (source === undefined) return undefined;
  const header = (name: string): string | undefined => (typeof headers === 'function' ? headers(name) : firstValue(headers[name]));
  let value: string | undefined;
  switch (source.type) {
    case 'header':
      value = header(source.name);
      break;
    case 'cookie': {
      const cookies = header('cookie');
      value = cookies === undefined ? undefined : cookieValue(cookies, source.name);
      break;
    }
    case 'source-ip':
      value = sourceAddress;
      break;
  }
  return value === undefined || value === '' ? undefined : hashKey(value);
}

/** The first value of a node header: a string, or the first of repeated ones. */
export function firstValue(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' || value === undefined ? value : value[0];
}

/**
 * The value of cookie `name` in a Cookie header (`a=1; b=2`, RFC 6265 section 5.4), or
 * undefined. Scans in place: the only allocation is the returned value.
 */
export function cookieValue(header: string, name: string): string | undefined {
  const length = header.length;
  let start = 0;
  while (start < length) {
    // Skip the separator's spaces.
    while (start < length && (header.charCodeAt(start) === 32 || header.charCodeAt(start) === 9)) start++;
    let end = header.indexOf(';', start);
    if (end === -1) end = length;
    if (header.startsWith(name, start) && header.charCodeAt(start + name.length) === 61 /* = */ && start + name.length < end) {
      let from = start + name.length + 1;
      let to = end;
      while (to > from && (header.charCodeAt(to - 1) === 32 || header.charCodeAt(to - 1) === 9)) to--;
      // A quoted value's quotes are not part of it.
      if (to - from >= 2 && header.charCodeAt(from) === 34 && header.charCodeAt(to - 1) === 34) {
        from++;
        to--;
      }
      return header.slice(from, to);
    }
    start = end + 1;
  }
  return undefined;
}
