// Protocol detection on a fresh connection: read the first bytes, decide, then put them back
// (socket.unshift) so whichever parser takes the socket next sees the stream from byte zero.
// This is how one port serves HTTP/1.1 and h2c by prior knowledge (RFC 9113 §3.3), and how the
// inbound listener tells HTTP from other TCP protocols, like Envoy's http_inspector.
import type { Socket } from 'node:net';

/** What a connection's first bytes say it speaks. */
export type SniffResult =
  /** Starts with the HTTP/2 connection preface. */
  | 'h2'
  /** Starts with an HTTP/1.x request line (`TOKEN SP`). */
  | 'http1'
  /** Anything else, or nothing within the timeout (server-speaks-first protocols). */
  | 'other'
  /** The peer closed or errored before anything could be decided. */
  | 'closed';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Longest method token looked at before calling the bytes not-HTTP. */
const MAX_METHOD = 24;

/**
 * Reads from `socket` until its protocol is known, then pauses it, unshifts what was read and
 * calls `done` once. With no decision after `timeoutMs` the result is 'other'.
 */
export function sniffProtocol(socket: Socket, timeoutMs: number, done: (result: SniffResult) => void): void {
  let seen: Buffer | undefined;
  const finish = (result: SniffResult): void => {
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onGone);
    socket.removeListener('close', onGone);
    socket.removeListener('error', onGone);
    if (result !== 'closed') {
      socket.pause();
      if (seen !== undefined) socket.unshift(seen);
    }
    done(result);
  };
  const onData = (chunk: Buffer): void => {
    seen = seen === undefined ? chunk : Buffer.concat([seen, chunk]);
    const result = classify(seen);
    if (result !== undefined) finish(result);
  };
  const onGone = (): void => finish(seen === undefined ? 'closed' : classify(seen) ?? 'other');
  const timer = setTimeout(() => finish('other'), timeoutMs);
  socket.on('data', onData);
  socket.once('end', onGone);
  socket.once('close', onGone);
  socket.once('error', onGone);
}

/** Decides from the bytes so far, or returns undefined when more bytes are needed. */
export function classify(bytes: Buffer): Exclude<SniffResult, 'closed'> | undefined {
  const n = Math.min(bytes.length, PREFACE.length);
  if (bytes.compare(PREFACE, 0, n, 0, n) === 0) return n === PREFACE.length ? 'h2' : undefined;
  const limit = Math.min(bytes.length, MAX_METHOD);
  for (let i = 0; i < limit; i++) {
    const c = bytes[i]!;
    if (c === 32 /* SP */) return i > 0 ? 'http1' : 'other';
    // Method tokens in use are upper-case letters and '-' (RFC 9110 §9, IANA registry).
    if (!((c >= 65 && c <= 90) || c === 45)) return 'other';
  }
  return bytes.length >= MAX_METHOD ? 'other' : undefined;
}
