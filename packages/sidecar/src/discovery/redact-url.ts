// Secrets that can ride in a URL (`https://user:token@host`, `?access_token=…`) must not reach a
// log line, an error message or a debug page: URLs are shown through these functions.

export const REDACTED = '[Redacted]';

/** Query parameters whose values are treated as secrets. */
const SECRET_PARAM = /token|secret|passw|auth|key|sig|credential|session/i;

/** Shorter "secrets" are not worth scrubbing out of messages (they would garble them). */
const MIN_SCRUBBED_LENGTH = 3;

/**
 * `url` with its user info and the values of secret-looking query parameters replaced by
 * "[Redacted]". Text that is not an absolute URL comes back with any `//user@` part redacted.
 */
export function redactUrl(url: string): string {
  const parsed = parseHierarchical(url);
  if (parsed === undefined) return url.replace(/\/\/[^/@]*@/, `//${REDACTED}@`);
  const userinfo = parsed.username !== '' || parsed.password !== '' ? `${REDACTED}@` : '';
  const query = parsed.search === '' ? '' : `?${parsed.search.slice(1).split('&').map(redactParam).join('&')}`;
  return `${parsed.protocol}//${userinfo}${parsed.host}${parsed.pathname}${query}${parsed.hash}`;
}

/** `scheme://…` parsed; undefined for anything else ("host:port" would parse as scheme "host:"). */
function parseHierarchical(url: string): URL | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return undefined;
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

function redactParam(pair: string): string {
  const eq = pair.indexOf('=');
  if (eq < 0) return pair;
  let name = pair.slice(0, eq);
  try {
    name = decodeURIComponent(name);
  } catch {
    // keep the raw name
  }
  return SECRET_PARAM.test(name) ? `${pair.slice(0, eq)}=${REDACTED}` : pair;
}

/** The secret parts of `url`, as written and decoded, for `scrubSecrets`. */
export function urlSecrets(url: string): string[] {
  const parsed = parseHierarchical(url);
  if (parsed === undefined) return [];
  const found = [parsed.username, parsed.password];
  for (const pair of parsed.search.slice(1).split('&')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && redactParam(pair) !== pair) found.push(pair.slice(eq + 1));
  }
  const out = new Set<string>();
  for (const raw of found) {
    out.add(raw);
    try {
      out.add(decodeURIComponent(raw));
    } catch {
      // only the raw form
    }
  }
  // Longest first, so a secret containing another is replaced whole.
  return [...out].filter((s) => s.length >= MIN_SCRUBBED_LENGTH).sort((a, b) => b.length - a.length);
}

/** `text` with every occurrence of each secret replaced by "[Redacted]". */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}
