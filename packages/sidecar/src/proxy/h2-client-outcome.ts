// How an h2c exchange (h2-exchange.ts) ends for its client when it does not relay an endpoint's
// response whole: a proxy error, or a reset of the client's stream. It remembers which, so the
// exchange's telemetry records what the client got.
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { DestinationError } from '../dataplane.js';
import type { RequestRecord } from '../telemetry/request-telemetry.js';
import { respondError } from './h2-error-response.js';

/** What the client of one stream got, besides an endpoint's response. */
export class H2ClientOutcome {
  /** The proxy error the client was answered with before any response header, if any. */
  private answered: DestinationError | undefined;
  /** Why the stream ended badly: a SKEIN_ERR_* code, 'reset' or 'refused-stream'. */
  private error: string | undefined;

  constructor(private readonly stream: ServerHttp2Stream, private readonly request: IncomingHttpHeaders) {}

  /** Answers with a proxy error (gRPC-style for gRPC clients), or resets the stream once headers went out. */
  fail(error: DestinationError): void {
    const { stream } = this;
    this.error = error.code;
    if (!stream.headersSent && !stream.closed && !stream.destroyed) this.answered = error;
    respondError(stream, this.request, error);
  }

  /** Resets the client's stream with RST_STREAM `code`; `why` is what telemetry records. */
  reset(code: number, why = 'reset'): void {
    this.error ??= why;
    this.stream.close(code);
  }

  /**
   * Ends `record` once the client's stream has closed: with the status the client got (0 for
   * none) and why it failed. `complete`: the proxy sent the whole response. A proxy error counts
   * as its HTTP status even in gRPC's trailers-only form (:status 200, its grpc-status derived
   * from that status), as a proxy error before any attempt does (h2c-proxy.ts).
   */
  end(record: RequestRecord, complete: boolean): void {
    const { stream, answered } = this;
    const status = answered?.status ?? (stream.headersSent ? Number(stream.sentHeaders[':status'] ?? 0) : 0);
    record.end(status, this.error ?? (complete ? undefined : 'client-closed'));
  }
}
