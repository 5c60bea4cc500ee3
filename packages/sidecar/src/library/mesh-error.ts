// The one error type library mode raises: a mesh refusal (unknown service, no endpoint,
// registry-only), a request past its service's timeout, or a start-up problem, with the data
// plane's stable code (CONVENTIONS rule 7).
import type { DestinationError } from '../dataplane.js';

/** Codes library mode adds to the data plane's SKEIN_ERR_* set. */
export const ERR_NOT_READY = 'SKEIN_ERR_NOT_READY';
export const ERR_CLOSED = 'SKEIN_ERR_CLOSED';
export const ERR_BAD_TARGET = 'SKEIN_ERR_BAD_TARGET';
/** The request did not complete within its service's `skein.io/timeout` (the sidecar answers 504 with the same code). */
export const ERR_TIMEOUT = 'SKEIN_ERR_TIMEOUT';

/**
 * A request the mesh refused or could not route. `code` is stable (`SKEIN_ERR_NO_ENDPOINT`,
 * `SKEIN_ERR_UNKNOWN_SERVICE`, …); `status` is the HTTP status a proxy would answer with.
 * undici's `fetch` wraps it: `TypeError('fetch failed', { cause: MeshError })`.
 */
export class MeshError extends Error {
  override readonly name = 'MeshError';
  readonly code: string;
  readonly status: number;

  constructor(code: string, message: string, status = 503) {
    super(message);
    this.code = code;
    this.status = status;
  }

  static from(error: DestinationError): MeshError {
    return new MeshError(error.code, error.message, error.status);
  }
}
