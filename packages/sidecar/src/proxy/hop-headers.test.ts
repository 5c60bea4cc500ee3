import { sensitiveHeaders } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { forwardH2Headers, forwardHeaders, hasHost, KEEP_TRANSFER_ENCODING, KEEP_UPGRADE } from './hop-headers.js';

describe('forwardHeaders', () => {
  const raw = [
    'Host', 'web.demo', 'Connection', 'keep-alive, X-Private', 'X-Private', 'secret', 'Keep-Alive', 'timeout=5',
    'Proxy-Authorization', 'Basic eA==', 'Proxy-Connection', 'keep-alive', 'TE', 'trailers', 'Trailer', 'x-sum',
    'Upgrade', 'websocket', 'Transfer-Encoding', 'chunked', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2', 'X-Keep', 'yes',
  ];

  it('drops hop-by-hop fields and those Connection lists, keeping case, order and duplicates', () => {
    expect(forwardHeaders(raw, 0)).toEqual(['Host', 'web.demo', 'Set-Cookie', 'a=1', 'set-cookie', 'b=2', 'X-Keep', 'yes']);
  });

  it('keeps Transfer-Encoding when asked', () => {
    expect(forwardHeaders(raw, KEEP_TRANSFER_ENCODING)).toContain('chunked');
  });

  it('keeps Upgrade and says Connection: Upgrade for a handshake', () => {
    const out = forwardHeaders(raw, KEEP_UPGRADE);
    expect(out.slice(-2)).toEqual(['Connection', 'Upgrade']);
    expect(out).toContain('websocket');
    expect(out).not.toContain('secret');
  });

  it('finds Host in any case', () => {
    expect(hasHost(['hOsT', 'x'])).toBe(true);
    expect(hasHost(['Hostname', 'x'])).toBe(false);
  });
});

describe('forwardH2Headers', () => {
  it('drops connection-specific fields, keeps te: trailers, pseudo-headers and never-index marks', () => {
    const headers = {
      ':method': 'POST', ':path': '/svc/Call', ':authority': 'grpc.demo', te: 'trailers', connection: 'x',
      'content-type': 'application/grpc', authorization: 'secret', [sensitiveHeaders]: ['authorization'],
    };
    const out = forwardH2Headers(headers);
    expect(Object.fromEntries(Object.entries(out))).toEqual({ ':method': 'POST', ':path': '/svc/Call', ':authority': 'grpc.demo', te: 'trailers', 'content-type': 'application/grpc', authorization: 'secret' });
    expect((out as Record<symbol, unknown>)[sensitiveHeaders]).toEqual(['authorization']);
    expect(forwardH2Headers({ te: 'gzip' })).toEqual({});
  });
});
