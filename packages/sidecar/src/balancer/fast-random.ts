// Per-pick randomness without allocation. Calling the injected `Random` on every pick returns a
// double through an unknown function, which V8 boxes as a 16-byte HeapNumber. A picker instead
// owns a FastRandom: xoshiro128** (Blackman & Vigna) with its 128-bit state in an Int32Array,
// seeded once from the injected `Random` at build time (so a seeded source still makes the
// picker deterministic), producing 32-bit integers that are mapped to indexes with integer math.
import type { Random } from './round-robin.js';

/** 2^32, to turn a draw of the injected `Random` into 32 bits. */
const TWO_32 = 0x1_0000_0000;

/** A small, fast, allocation-free PRNG owned by one picker. Not for cryptography. */
export class FastRandom {
  private readonly s: Int32Array = new Int32Array(4);

  /** Draws four numbers from `random` for the state; any source, even a constant one, gives a valid state. */
  constructor(random: Random) {
    for (let i = 0; i < 4; i++) {
      const raw = Math.floor(random() * TWO_32) | 0;
      this.s[i] = mix32((raw + Math.imul(0x9e3779b9, i + 1)) | 0);
    }
    // xoshiro's state must not be all zero.
    if ((this.s[0]! | this.s[1]! | this.s[2]! | this.s[3]!) === 0) this.s[0] = 1;
  }

  /** 32 uniform random bits, as an int32 (read with `>>> 0` for an unsigned value). */
  next(): number {
    const s = this.s;
    const s0 = s[0]!;
    const s1 = s[1]!;
    const s2 = s[2]! ^ s0;
    const s3 = s[3]! ^ s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    s[0] = s0 ^ s3;
    s[1] = s1 ^ s2;
    s[2] = s2 ^ t;
    s[3] = rotl(s3, 11);
    return result;
  }

  /** A uniform integer in [0, n), for 1 ≤ n ≤ 2^21 (multiply-shift: exact in a double, no division). */
  index(n: number): number {
    return Math.floor(((this.next() >>> 0) * n) / TWO_32);
  }

  /** 31 uniform random bits, in [0, 2^31): compare with thresholds scaled by 2^31. */
  fraction31(): number {
    return this.next() >>> 1;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A 32-bit finalizer (murmur3's fmix32), so nearby seeds give unrelated states. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}
