// A protobuf writer for encoders that write messages by hand, in one pass into one growing
// buffer (otlp-span-encoder.ts says why the sidecar encodes its spans itself).
//
// Length-prefixed fields: a message's length is only known once it is written, so a guess of
// its length's size is reserved and the body moved when the guess was wrong (rare when the
// guesses fit the messages: 1 byte for lengths under 128, 2 under 16,384, 3 under 2 MiB).
import type { HrTime } from '@opentelemetry/api';
import { varintSize } from '@skein/protocol';

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;
const TWO_32 = 4294967296;

export class ProtobufWriter {
  protected buf: Buffer = Buffer.allocUnsafe(64 * 1024);
  protected pos = 0;

  /** Encodes with `write` on the side, without disturbing the message being built. */
  protected standalone(write: () => void): Buffer {
    const saved = this.pos;
    write();
    const bytes = Buffer.from(this.buf.subarray(saved, this.pos));
    this.pos = saved;
    return bytes;
  }

  /** Starts a length-delimited field, reserving `reserve` bytes for its length. */
  protected begin(field: number, reserve: number): number {
    this.tag(field, WIRE_LEN);
    this.ensure(reserve);
    const start = this.pos;
    this.pos += reserve;
    return start;
  }

  protected end(start: number, reserve: number): void {
    const length = this.pos - start - reserve;
    const size = varintSize(length);
    if (size !== reserve) {
      this.ensure(size - reserve);
      this.buf.copyWithin(start + size, start + reserve, this.pos);
      this.pos += size - reserve;
    }
    const body = this.pos;
    this.pos = start;
    this.varint(length);
    this.pos = body;
  }

  /** A length-delimited field of already-encoded bytes; field -1: the bytes carry their own tag. */
  protected raw(field: number, bytes: Uint8Array): void {
    if (field >= 0) {
      this.tag(field, WIRE_LEN);
      this.varint(bytes.length);
    }
    const length = bytes.length;
    this.ensure(length);
    const buf = this.buf;
    const pos = this.pos;
    // A short copy in a loop beats a call into the runtime (TypedArray#set, Buffer#copy).
    if (length <= 64) for (let i = 0; i < length; i++) buf[pos + i] = bytes[i]!;
    else buf.set(bytes, pos);
    this.pos = pos + length;
  }

  protected string(field: number, value: string): void {
    this.tag(field, WIRE_LEN);
    // Up to 42 UTF-16 units make at most 126 UTF-8 bytes: a one-byte length, no measuring.
    // ASCII, the common case, is copied here: cheaper than a call into Buffer#write.
    if (value.length <= 42) {
      this.ensure(1 + value.length * 3);
      const buf = this.buf;
      const start = this.pos + 1;
      let i = 0;
      for (; i < value.length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + i] = c;
      }
      const written = i === value.length ? i : i + buf.write(value.slice(i), start + i, 'utf8');
      buf[this.pos] = written;
      this.pos = start + written;
      return;
    }
    const length = Buffer.byteLength(value, 'utf8');
    this.varint(length);
    this.ensure(length);
    this.pos += this.buf.write(value, this.pos, 'utf8');
  }

  protected hex(field: number, id: string, bytes: number): void {
    this.tag(field, WIRE_LEN);
    this.varint(bytes);
    this.ensure(bytes);
    // Decoded here rather than by Buffer#write(…, 'hex'): ids are short, calls into C++ are not
    // free. A bad digit counts as 0, so an invalid id still fills its bytes.
    const buf = this.buf;
    for (let i = 0; i < bytes; i++) buf[this.pos + i] = (nibble(id.charCodeAt(2 * i)) << 4) | nibble(id.charCodeAt(2 * i + 1));
    this.pos += bytes;
  }

  protected count(field: number, n: number): void {
    this.tag(field, WIRE_VARINT);
    this.varint(n);
  }

  protected tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  protected varint(n: number): void {
    if (n < 0x80 && this.pos < this.buf.length) {
      this.buf[this.pos++] = n;
      return;
    }
    this.ensure(10);
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  /** int64 as a varint: negatives are their 64-bit two's complement (10 bytes). */
  protected int64(n: number): void {
    if (n >= 0) {
      this.varint(n);
      return;
    }
    this.ensure(10);
    let value = BigInt.asUintN(64, BigInt(n));
    for (let i = 0; i < 9; i++) {
      this.buf[this.pos++] = Number(value & 0x7fn) | 0x80;
      value >>= 7n;
    }
    this.buf[this.pos++] = Number(value);
  }

  protected fixed32(n: number, field?: number): void {
    if (field !== undefined) this.tag(field, WIRE_FIXED32);
    this.ensure(4);
    this.buf.writeUInt32LE(n >>> 0, this.pos);
    this.pos += 4;
  }

  /** [seconds, nanoseconds] as fixed64 nanoseconds, exactly: the product passes 2^53. */
  protected time([seconds, nanos]: HrTime): void {
    this.nanoseconds(seconds, nanos);
  }

  /** Milliseconds since the epoch (a fraction for the rest) as fixed64 nanoseconds, as the SDK's HrTime would give. */
  protected epochMilliseconds(ms: number): void {
    const seconds = Math.floor(ms / 1000);
    // Rounding may give 1e9 nanoseconds: the sum below carries it, no HrTime to normalize.
    this.nanoseconds(seconds, Math.round((ms - seconds * 1000) * 1e6));
  }

  private nanoseconds(seconds: number, nanos: number): void {
    // seconds * 1e9 + nanos = high * 2^32 + low, computed in parts that stay below 2^53.
    const upper = Math.floor(seconds / 65536) * 1e9; // × 2^16
    const rest = (upper % 65536) * 65536 + (seconds % 65536) * 1e9 + nanos;
    const high = Math.floor(upper / 65536) + Math.floor(rest / TWO_32);
    this.ensure(8);
    this.buf.writeUInt32LE(rest % TWO_32, this.pos);
    this.buf.writeUInt32LE(high, this.pos + 4);
    this.pos += 8;
  }

  protected ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }
}

/** The value of one hex digit's char code; 0 for anything else. */
function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return 0;
}
