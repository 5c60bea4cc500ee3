// Where a discovery client gets the token it shows the control plane: a static value, or a
// file read again at every (re)connect because kubelet rotates projected ServiceAccount tokens
// in place. Failures are values, so a missing file means "retry later", never a crash.
import { readFile } from 'node:fs/promises';

export type TokenResult = { ok: true; token: string | undefined } | { ok: false; error: string };

/** Called before each connection attempt; never rejects. */
export type TokenSource = () => Promise<TokenResult>;

/** A fixed token (or none). */
export function staticToken(token: string | undefined): TokenSource {
  const result: TokenResult = { ok: true, token: token || undefined };
  return () => Promise.resolve(result);
}

/** The trimmed content of `path`, read on every call; unreadable or empty is an error value naming the file. */
export function tokenFile(path: string, read: (path: string) => Promise<string> = (p) => readFile(p, 'utf8')): TokenSource {
  return async () => {
    try {
      const token = (await read(path)).trim();
      return token ? { ok: true, token } : { ok: false, error: `token file ${path} is empty` };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { ok: false, error: `cannot read token file ${path}: ${code ?? (err as Error).message}` };
    }
  };
}

/** Call metadata / HTTP header value for a token. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}
