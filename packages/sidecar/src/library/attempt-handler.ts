// Wraps the caller's undici handler for one attempt on one endpoint, so the dispatcher can
// see the attempt's fate (connect failure -> retry elsewhere; status -> passive health) while
// the caller sees a single request. undici 7 has two handler styles: controller-based
// (onRequestStart, onResponseStart…) and the legacy callbacks (onConnect, onHeaders…). The
// wrapper speaks the caller's style, so nothing is translated; pools accept both.
import type { Dispatcher } from 'undici';

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;

/** What the dispatcher learns from one attempt. */
export interface AttemptObserver {
  /** The request is being written to a connection: from here on it is never retried. */
  started(): void;
  /** A final (>= 200) or upgrade status arrived. */
  responded(statusCode: number): void;
  /** The response ended. */
  completed(): void;
  /**
   * The attempt failed. Returns true when the observer takes the failure over (it retries on
   * another endpoint); the caller's handler then never hears of this attempt.
   */
  failed(error: Error): boolean;
}

/** A handler for one attempt that forwards to `inner` in its own style. */
export function attemptHandler(inner: Handler, observer: AttemptObserver): Handler {
  return typeof inner.onRequestStart === 'function' ? new ControllerAttempt(inner, observer) : new CallbackAttempt(inner, observer);
}

/** Fails a request that never reached a pool (refused by the mesh, dispatcher closed). */
export function failRequest(handler: Handler, error: Error): void {
  if (typeof handler.onRequestStart === 'function') {
    if (!handler.onResponseError) throw error;
    handler.onResponseError(abortedController(error), error);
  } else {
    if (!handler.onError) throw error;
    handler.onError(error);
  }
}

class ControllerAttempt implements Handler {
  constructor(private readonly inner: Handler, private readonly observer: AttemptObserver) {}

  onRequestStart(controller: Controller, context: unknown): void {
    this.observer.started();
    this.inner.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: Parameters<NonNullable<Handler['onRequestUpgrade']>>[2], socket: Parameters<NonNullable<Handler['onRequestUpgrade']>>[3]): void {
    this.observer.responded(statusCode);
    this.observer.completed();
    this.inner.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStarted(): void {
    this.inner.onResponseStarted?.();
  }

  onResponseStart(controller: Controller, statusCode: number, headers: Parameters<NonNullable<Handler['onResponseStart']>>[2], statusMessage?: string): void {
    if (statusCode >= 200) this.observer.responded(statusCode);
    this.inner.onResponseStart?.(controller, statusCode, headers, statusMessage);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.inner.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: Parameters<NonNullable<Handler['onResponseEnd']>>[1]): void {
    this.observer.completed();
    this.inner.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Controller, error: Error): void {
    if (this.observer.failed(error)) return;
    // undici passes no controller when a request fails before it started; give the caller one.
    this.inner.onResponseError?.(controller ?? abortedController(error), error);
  }
}

class CallbackAttempt implements Handler {
  constructor(private readonly inner: Handler, private readonly observer: AttemptObserver) {}

  onConnect(abort: (error?: Error) => void, context?: unknown): void {
    this.observer.started();
    // Legacy handlers receive a context second argument too (undici passes it through).
    (this.inner.onConnect as ((abort: (error?: Error) => void, context?: unknown) => void) | undefined)?.(abort, context);
  }

  onResponseStarted(): void {
    this.inner.onResponseStarted?.();
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode >= 200) this.observer.responded(statusCode);
    return this.inner.onHeaders?.(statusCode, headers, resume, statusText) ?? true;
  }

  onData(chunk: Buffer): boolean {
    return this.inner.onData?.(chunk) ?? true;
  }

  onComplete(trailers: string[] | null): void {
    this.observer.completed();
    this.inner.onComplete?.(trailers);
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: Parameters<NonNullable<Handler['onUpgrade']>>[2]): void {
    this.observer.responded(statusCode);
    this.observer.completed();
    this.inner.onUpgrade?.(statusCode, headers, socket);
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    this.inner.onBodySent?.(chunkSize, totalBytesSent);
  }

  onError(error: Error): void {
    if (this.observer.failed(error)) return;
    this.inner.onError?.(error);
  }
}

function abortedController(reason: Error): Controller {
  const nothing = (): void => undefined;
  return { aborted: true, paused: false, reason, abort: nothing, pause: nothing, resume: nothing };
}
