import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './log.js';

/** A logger at `level` whose lines are kept, parsed. */
function capture(level: 'debug' | 'info' = 'debug'): { log: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { log: createLogger(level, {}, out), lines };
}

describe('createLogger: redaction', () => {
  it('prints [Redacted] for tokens and Authorization headers, wherever they sit', () => {
    const { log, lines } = capture();
    log.debug({
      token: 'tok-top',
      identity: { id: 'client-1.demo', token: 'tok-identity' },
      node: { id: 'n', token: 'tok-node' },
      subscriber: { node: { token: 'tok-deep' } },
      headers: { authorization: 'Bearer tok-header', 'proxy-authorization': 'Basic tok-proxy', accept: 'application/json' },
      req: { headers: { authorization: 'Bearer tok-req' } },
      err: { headers: { authorization: 'Bearer tok-err' } },
      authorization: 'Bearer tok-bare',
    }, 'something happened');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, Record<string, unknown>>;
    expect(line.token).toBe('[Redacted]');
    expect(line.identity).toEqual({ id: 'client-1.demo', token: '[Redacted]' });
    expect(line.node!.token).toBe('[Redacted]');
    expect(line.subscriber).toEqual({ node: { token: '[Redacted]' } });
    expect(line.headers).toEqual({ authorization: '[Redacted]', 'proxy-authorization': '[Redacted]', accept: 'application/json' });
    expect(line.req).toEqual({ headers: { authorization: '[Redacted]' } });
    expect(line.err).toMatchObject({ headers: { authorization: '[Redacted]' } });
    expect(line.authorization).toBe('[Redacted]');
    expect(lines[0]).not.toMatch(/tok-/);
  });

  it('leaves objects without secrets as they are (no field added)', () => {
    const { log, lines } = capture('info');
    log.info({ identity: { id: 'client-1.demo' }, headers: { accept: 'text/plain' } }, 'plain');
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line.identity).toEqual({ id: 'client-1.demo' });
    expect(line.headers).toEqual({ accept: 'text/plain' });
    expect(line).toMatchObject({ level: 'info', component: 'control-plane', msg: 'plain' });
  });
});
