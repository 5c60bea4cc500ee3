// --auth token-file:<path>: one shared token for every subscriber (files mode, demos, meshes
// outside Kubernetes). The file is read for each stream, so replacing it rotates the token
// without a restart. It proves "knows the secret", not which pod: claims are not checked.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { refuse, type AuthClaim, type AuthDecision, type StreamAuthenticator } from './stream-auth.js';

export class StaticTokenAuthenticator implements StreamAuthenticator {
  readonly mode = 'token-file';

  constructor(private readonly path: string, private readonly read: (path: string) => Promise<string> = (p) => readFile(p, 'utf8')) {}

  /** Reads the file once; throws (start-up configuration error) when it is unreadable or empty. */
  async check(): Promise<void> {
    if (!(await this.read(this.path)).trim()) throw new Error(`--auth token-file: ${this.path} is empty`);
  }

  async authenticate(token: string | undefined, _claim: AuthClaim): Promise<AuthDecision> {
    if (!token) return refuse('unauthenticated', 'no-token', 'no token: send the shared token as "authorization: Bearer <token>"');
    let expected: string;
    try {
      expected = (await this.read(this.path)).trim();
    } catch (err) {
      return refuse('unavailable', 'review-failed', `cannot read the token file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (!expected) return refuse('unavailable', 'review-failed', 'the token file is empty');
    // Hashes have equal lengths, so the comparison time says nothing about the token.
    const same = timingSafeEqual(digest(token), digest(expected));
    return same ? { type: 'allow', subject: 'static token' } : refuse('unauthenticated', 'invalid-token', 'the token is not the shared token');
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
