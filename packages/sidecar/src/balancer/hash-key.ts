// The hash of hashing pickers (ring hash, maglev): MurmurHash3 x86_32 (Austin Appleby's
// public-domain algorithm), our implementation. Pure, allocation-free, stable across
// processes and versions: a request's hash key and an endpoint's place on a ring or in a
// lookup table must not change when a sidecar restarts.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/**
 * The request hash for `Picker.pick(exclude, hash)`: an unsigned 32-bit hash of a hash key
 * value (a header or cookie value, or the client's address). Allocation-free; O(length).
 */
export function hashKey(key: string): number {
  return hash32(key, 0);
}

/**
 * MurmurHash3 x86_32 of `text` with `seed`. Reads UTF-16 code units two at a time as one
 * 4-byte little-endian block (so no encoding step allocates); equal strings hash equal.
 * Different seeds give independent hashes of one string (maglev's offset and skip, a ring's
 * virtual nodes). Returns an unsigned 32-bit integer.
 */
export function hash32(text: string, seed: number): number {
  let h = seed >>> 0;
  const length = text.length;
  const even = length & ~1;
  for (let i = 0; i < even; i += 2) {
    h ^= mixBlock(text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  // Tail: a single 2-byte code unit.
  if (even !== length) h ^= mixBlock(text.charCodeAt(even));
  h ^= length * 2;
  return finalMix(h);
}

function mixBlock(block: number): number {
  let k = Math.imul(block, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

/** Murmur3's avalanche step; also spreads small integers (a seed-per-virtual-node) well. */
export function finalMix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
