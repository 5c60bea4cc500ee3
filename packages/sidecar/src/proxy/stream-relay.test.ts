import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { StreamRelay } from './stream-relay.js';

/** A sink that keeps what it got and, with `highWaterMark` 1, asks for drain after each write. */
function sink(): { stream: Writable; chunks: string[]; release: () => void } {
  const chunks: string[] = [];
  const pending: Array<() => void> = [];
  const stream = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      pending.push(callback);
    },
  });
  return { stream, chunks, release: () => pending.splice(0).forEach((callback) => callback()) };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('StreamRelay', () => {
  it('copies every chunk and ends the destination after the source', async () => {
    const from = new PassThrough();
    const to = new PassThrough();
    const got: string[] = [];
    to.on('data', (chunk: Buffer) => got.push(chunk.toString()));
    new StreamRelay(from, to);
    from.write('a');
    from.end('b');
    await tick();
    expect(got.join('')).toBe('ab');
    expect(to.writableEnded).toBe(true);
  });

  it('pauses the source while the destination needs drain', async () => {
    const from = new PassThrough();
    const { stream, chunks, release } = sink();
    new StreamRelay(from, stream);
    from.write('a');
    from.write('b');
    await tick();
    expect(chunks).toEqual(['a']);
    expect(from.isPaused()).toBe(true);
    release();
    await tick();
    expect(chunks).toEqual(['a', 'b']);
  });

  it('stop() leaves further data buffered in the paused source', async () => {
    const from = new PassThrough();
    const to = new PassThrough();
    const relay = new StreamRelay(from, to);
    relay.stop();
    from.write('late');
    await tick();
    expect(to.readableLength).toBe(0);
    expect(from.isPaused()).toBe(true);
    expect(from.readableLength).toBe(4);
    expect(to.writableEnded).toBe(false);
  });

  it('ends the destination of a source that already ended', async () => {
    const from = new PassThrough();
    from.resume();
    from.end();
    await tick();
    expect(from.readableEnded).toBe(true);
    const to = new PassThrough();
    new StreamRelay(from, to);
    await tick();
    expect(to.writableEnded).toBe(true);
  });

  it('drops data for a destroyed destination without ending it', async () => {
    const from = new PassThrough();
    const to = new PassThrough();
    new StreamRelay(from, to);
    to.destroy();
    from.end('x');
    await tick();
    expect(to.writableEnded).toBe(false);
    expect(from.listenerCount('data')).toBe(0);
  });
});
