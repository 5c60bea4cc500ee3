// A client's request body as undici sends it upstream. undici starts reading a body only when it
// writes the request, once the endpoint's connection is up (onConnect), so a connect failure
// leaves every body byte in the client's socket and the request can go to another endpoint.
// The wrapper exists because undici destroys the body stream it was given when the attempt ends
// (and, for an IncomingMessage, first detaches its socket): destroying this one only lets go of
// the client's message, which the exchange still answers on.
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

/** Streams `req`'s body with backpressure, from the first read on. */
export class RequestBody extends Readable {
  private attached = false;
  private readonly onData = (chunk: Buffer): void => {
    if (!this.push(chunk)) this.req.pause();
  };
  private readonly onEnd = (): void => {
    this.push(null);
  };

  constructor(private readonly req: IncomingMessage) {
    super();
  }

  override _read(): void {
    if (!this.attached) {
      this.attached = true;
      // A client that goes away mid-upload is the exchange's business (its response closes),
      // not an upstream failure, so the client's errors are not passed on.
      this.req.on('data', this.onData);
      this.req.once('end', this.onEnd);
    }
    this.req.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.attached) {
      this.req.off('data', this.onData);
      this.req.off('end', this.onEnd);
      // Whatever the endpoint did not take stays unread: the exchange closes the client's connection.
      this.req.pause();
    }
    callback(error);
  }
}
