// Body forwarding for the h2c proxy's streams: what `from.pipe(to)` does (backpressure, end
// after the source's end, stop when the destination is gone) without pipe's bookkeeping. Pipe
// adds seven listeners per call across both streams and removes them again, and every add or
// remove on an HTTP/2 stream also emits node's newListener/removeListener; with one gRPC call
// per stream that was a measurable share of the sidecar's CPU per call. A relay adds two.
import type { Readable, Writable } from 'node:stream';

/** A running `from` → `to` copy; `stop()` detaches it as `from.unpipe(to)` would. */
export class StreamRelay {
  private stopped = false;
  private waitingForDrain = false;

  constructor(private readonly from: Readable, readonly to: Writable) {
    from.on('data', this.onData);
    from.on('end', this.onEnd);
    // As pipe: a source that already ended (an attempt before this one read it all) ends `to` now.
    if (from.readableEnded) process.nextTick(this.onEnd);
    else if (to.writableNeedDrain) this.waitForDrain();
    else from.resume();
  }

  /** Stops copying and pauses `from` (further data stays buffered there), as unpipe does. */
  stop(): void {
    if (this.detach()) this.from.pause();
  }

  /** Removes the listeners; false when already stopped. */
  private detach(): boolean {
    if (this.stopped) return false;
    this.stopped = true;
    this.from.removeListener('data', this.onData);
    this.from.removeListener('end', this.onEnd);
    return true;
  }

  private readonly onData = (chunk: Buffer): void => {
    const { to } = this;
    // As pipe, which unpipes when its destination closes or errors. `from` keeps flowing: the
    // owner of a destroyed destination decides (the h2c exchange drains a cancelled upstream).
    if (to.destroyed) {
      this.detach();
      return;
    }
    if (!to.write(chunk)) this.waitForDrain();
  };

  private readonly onEnd = (): void => {
    if (this.detach() && !this.to.destroyed) this.to.end();
  };

  private waitForDrain(): void {
    if (this.waitingForDrain) return;
    this.waitingForDrain = true;
    this.from.pause();
    this.to.once('drain', this.onDrain);
  }

  private readonly onDrain = (): void => {
    this.waitingForDrain = false;
    if (!this.stopped) this.from.resume();
  };
}
