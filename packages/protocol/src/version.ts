// Content versions: a resource's version is a hash of its canonical encoding, so two
// control-plane replicas fed the same objects publish the same versions, and a client that
// reconnects to another replica is sent only what differs (ARCHITECTURE section 3).
import { createHash } from 'node:crypto';

/** 16 hex characters (64 bits) of SHA-256 over the bytes. */
export function contentVersion(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

/** Version of a set of named versions, independent of insertion order. */
export function combinedVersion(versions: Iterable<readonly [string, string]>): string {
  const sorted = [...versions].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const hash = createHash('sha256');
  for (const [name, version] of sorted) hash.update(name).update('\0').update(version).update('\n');
  return hash.digest('hex').slice(0, 16);
}
