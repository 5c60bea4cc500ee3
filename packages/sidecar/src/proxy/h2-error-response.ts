// Proxy errors as HTTP/2 responses: gRPC clients get a status they understand, others text.
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { DestinationError } from '../dataplane.js';

const { NGHTTP2_INTERNAL_ERROR } = constants;

/**
 * Answers a stream with a proxy error. gRPC clients get a trailers-only response whose
 * grpc-status follows gRPC's HTTP-to-status mapping (doc/http-grpc-status-mapping.md), so they
 * see UNAVAILABLE with the message instead of an opaque HTTP status; others get plain text.
 */
export function respondError(stream: ServerHttp2Stream, request: IncomingHttpHeaders, error: DestinationError): void {
  if (stream.closed || stream.destroyed) return;
  if (stream.headersSent) {
    stream.close(NGHTTP2_INTERNAL_ERROR);
    return;
  }
  stream.resume(); // discard whatever the client still sends
  if (request['content-type']?.startsWith('application/grpc') === true) {
    stream.respond({
      ':status': 200, 'content-type': 'application/grpc', 'grpc-status': grpcStatus(error.status),
      'grpc-message': percentEncode(error.message), 'x-skein-error': error.code,
    }, { endStream: true });
    return;
  }
  const body = `${error.message}\n`;
  stream.respond({
    ':status': error.status, 'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body), 'x-skein-error': error.code,
  });
  stream.end(body);
}

function grpcStatus(httpStatus: number): string {
  switch (httpStatus) {
    case 400: return '13'; // INTERNAL
    case 401: return '16'; // UNAUTHENTICATED
    case 403: return '7'; // PERMISSION_DENIED
    case 404: return '12'; // UNIMPLEMENTED
    case 429: case 502: case 503: case 504: return '14'; // UNAVAILABLE
    default: return '2'; // UNKNOWN
  }
}

// grpc-message is percent-encoded UTF-8 (gRPC over HTTP/2 spec, "Responses").
function percentEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
