// The caller's undici handler across the attempts of one request (service-request.ts). Each
// attempt on an endpoint gets its own handler, which tells the request what happened (connect
// failure, status, reset) and passes the caller only the attempt the request settles on, so the
// caller sees one request: one start, one response or one error. undici 7 has two handler
// styles: controller-based (onRequestStart, onResponseStart…) and the legacy callbacks
// (onConnect, onHeaders…). Attempt handlers speak the caller's style, so nothing is
// translated; pools accept both.
import { errors, type Dispatcher } from 'undici';

type Handler = Dispatcher.DispatchHandler;
type Controller = Dispatcher.DispatchController;
type Headers = Parameters<NonNullable<Handler['onResponseStart']>>[2];

/** What the request learns from one attempt, and whether the caller hears of it. */
export interface AttemptObserver {
  /**
   * True while this attempt speaks for the request; false once the request has left it
   * (retried elsewhere, timed out, aborted by the caller). Its events then stop at the observer.
   */
  readonly current: boolean;
  /**
   * The request is being written to a connection; `abort` ends the attempt (its failure then
   * comes to `failed`). undici calls it again if it moves the request to another connection.
   */
  started(abort: (reason: Error) => void): void;
  /** A final (>= 200) status arrived. The observer may leave the attempt here, to retry. */
  responded(statusCode: number): void;
  /** The response ended, or the connection was upgraded. */
  completed(): void;
  /** The attempt failed. The observer may leave the attempt here (it retries on another endpoint). */
  failed(error: Error): void;
}

/** The caller's side of one request. */
export interface Caller {
  /** A handler for one attempt, in the caller's style, reporting to `observer`. */
  attempt(observer: AttemptObserver): Handler;
  /** Fails the request: the caller hears nothing more after this. */
  fail(error: Error): void;
}

/** Wraps the caller's `inner` handler; `onAbort` is called when the caller aborts the request. */
export function callerOf(inner: Handler, onAbort: (reason: Error) => void): Caller {
  return typeof inner.onRequestStart === 'function' ? new ControllerCaller(inner, onAbort) : new CallbackCaller(inner, onAbort);
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

/**
 * The one controller the caller gets, for the whole request: abort() goes to the request (which
 * ends whichever attempt is running), pause()/resume() to the attempt being delivered.
 */
class RequestController implements Controller {
  private attemptController: Controller | undefined;
  private abortReason: Error | null = null;
  private pausedByCaller = false;

  constructor(private readonly onAbort: (reason: Error) => void) {}

  get aborted(): boolean {
    return this.abortReason !== null;
  }
  get paused(): boolean {
    return this.pausedByCaller;
  }
  get reason(): Error | null {
    return this.abortReason;
  }
  get rawHeaders(): Controller['rawHeaders'] {
    return this.attemptController?.rawHeaders;
  }
  get rawTrailers(): Controller['rawTrailers'] {
    return this.attemptController?.rawTrailers;
  }

  /** The current attempt's controller; a pause the caller asked for carries over. */
  attach(controller: Controller): void {
    this.attemptController = controller;
    if (this.pausedByCaller) controller.pause();
  }

  abort(reason: Error | undefined): void {
    if (this.abortReason !== null) return;
    this.abortReason = reason ?? new errors.RequestAbortedError();
    this.onAbort(this.abortReason);
  }
  pause(): void {
    this.pausedByCaller = true;
    this.attemptController?.pause();
  }
  resume(): void {
    this.pausedByCaller = false;
    this.attemptController?.resume();
  }
}

class ControllerCaller implements Caller {
  readonly controller: RequestController;
  private started = false;

  constructor(readonly inner: Handler, onAbort: (reason: Error) => void) {
    this.controller = new RequestController(onAbort);
  }

  attempt(observer: AttemptObserver): Handler {
    return new ControllerAttempt(this, observer);
  }

  /** The attempt that is writing the request becomes the one the controller drives; the caller hears of the first. */
  start(controller: Controller, context: unknown): void {
    this.controller.attach(controller);
    if (this.started) return;
    this.started = true;
    this.inner.onRequestStart?.(this.controller, context);
  }

  fail(error: Error): void {
    if (!this.started) {
      failRequest(this.inner, error);
      return;
    }
    this.inner.onResponseError?.(this.controller, error);
  }
}

class ControllerAttempt implements Handler {
  private readonly inner: Handler;
  /** undici saw the response begin; the caller is told with the head it gets, not for a head it never sees. */
  private responseBegan = false;

  constructor(private readonly caller: ControllerCaller, private readonly observer: AttemptObserver) {
    this.inner = caller.inner;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.observer.started((reason) => controller.abort(reason));
    if (this.observer.current) this.caller.start(controller, context);
  }

  onRequestUpgrade(_controller: Controller, statusCode: number, headers: Headers, socket: Parameters<NonNullable<Handler['onRequestUpgrade']>>[3]): void {
    this.observer.responded(statusCode);
    this.observer.completed();
    if (!this.observer.current) return;
    this.beginResponse();
    this.inner.onRequestUpgrade?.(this.caller.controller, statusCode, headers, socket);
  }

  onResponseStarted(): void {
    this.responseBegan = true;
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: Headers, statusMessage?: string): void {
    if (statusCode >= 200) this.observer.responded(statusCode);
    if (!this.observer.current) return;
    this.beginResponse();
    this.inner.onResponseStart?.(this.caller.controller, statusCode, headers, statusMessage);
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    if (this.observer.current) this.inner.onResponseData?.(this.caller.controller, chunk);
  }

  onResponseEnd(_controller: Controller, trailers: Parameters<NonNullable<Handler['onResponseEnd']>>[1]): void {
    this.observer.completed();
    if (this.observer.current) this.inner.onResponseEnd?.(this.caller.controller, trailers);
  }

  onResponseError(_controller: Controller, error: Error): void {
    this.observer.failed(error);
    if (this.observer.current) this.caller.fail(error);
  }

  private beginResponse(): void {
    if (!this.responseBegan) return;
    this.responseBegan = false;
    this.inner.onResponseStarted?.();
  }
}

type LegacyConnect = (abort: (error?: Error) => void, context?: unknown) => void;

class CallbackCaller implements Caller {
  /** The one abort the caller gets, for the whole request. */
  private readonly abort: (error?: Error) => void;
  private aborted = false;
  private started = false;

  constructor(readonly inner: Handler, onAbort: (reason: Error) => void) {
    this.abort = (error) => {
      if (this.aborted) return;
      this.aborted = true;
      onAbort(error ?? new errors.RequestAbortedError());
    };
  }

  attempt(observer: AttemptObserver): Handler {
    return new CallbackAttempt(this, observer);
  }

  /** The caller hears of the first attempt that writes the request. */
  start(context: unknown): void {
    if (this.started) return;
    this.started = true;
    // Legacy handlers receive a context second argument too (undici passes it through).
    (this.inner.onConnect as LegacyConnect | undefined)?.(this.abort, context);
  }

  fail(error: Error): void {
    failRequest(this.inner, error);
  }
}

class CallbackAttempt implements Handler {
  private readonly inner: Handler;
  /** As in ControllerAttempt: passed on with the head the caller gets. */
  private responseBegan = false;

  constructor(private readonly caller: CallbackCaller, private readonly observer: AttemptObserver) {
    this.inner = caller.inner;
  }

  onConnect(abort: (error?: Error) => void, context?: unknown): void {
    this.observer.started(abort);
    if (this.observer.current) this.caller.start(context);
  }

  onResponseStarted(): void {
    this.responseBegan = true;
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode >= 200) this.observer.responded(statusCode);
    if (!this.observer.current) return true;
    this.beginResponse();
    return this.inner.onHeaders?.(statusCode, headers, resume, statusText) ?? true;
  }

  onData(chunk: Buffer): boolean {
    if (!this.observer.current) return true;
    return this.inner.onData?.(chunk) ?? true;
  }

  onComplete(trailers: string[] | null): void {
    this.observer.completed();
    if (this.observer.current) this.inner.onComplete?.(trailers);
  }

  onUpgrade(statusCode: number, headers: Buffer[] | string[] | null, socket: Parameters<NonNullable<Handler['onUpgrade']>>[2]): void {
    this.observer.responded(statusCode);
    this.observer.completed();
    if (!this.observer.current) return;
    this.beginResponse();
    this.inner.onUpgrade?.(statusCode, headers, socket);
  }

  onBodySent(chunkSize: number, totalBytesSent: number): void {
    if (this.observer.current) this.inner.onBodySent?.(chunkSize, totalBytesSent);
  }

  onError(error: Error): void {
    this.observer.failed(error);
    if (this.observer.current) this.caller.fail(error);
  }

  private beginResponse(): void {
    if (!this.responseBegan) return;
    this.responseBegan = false;
    this.inner.onResponseStarted?.();
  }
}

function abortedController(reason: Error): Controller {
  const nothing = (): void => undefined;
  return { aborted: true, paused: false, reason, abort: nothing, pause: nothing, resume: nothing };
}
