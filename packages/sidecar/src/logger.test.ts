import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LOG_REDACTION } from './logger.js';

/** A pino logger configured with LOG_REDACTION, writing its lines into an array. */
function capture(): { log: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { log: pino({ level: 'debug', redact: { paths: [...LOG_REDACTION.paths], censor: LOG_REDACTION.censor } }, out), lines };
}

describe('LOG_REDACTION', () => {
  it('makes pino print [Redacted] for token, identity.token and headers.authorization', () => {
    const { log, lines } = capture();
    log.debug({
      token: 'tok-1', identity: { id: 'client-1.demo', token: 'tok-2' }, headers: { authorization: 'Bearer tok-3', host: 'web' },
      request: { headers: { authorization: 'Bearer tok-4', 'proxy-authorization': 'Basic tok-5' } }, discovery: { identity: { token: 'tok-6' } },
    }, 'debug line');
    const line = JSON.parse(lines[0]!) as Record<string, Record<string, unknown>>;
    expect(line.token).toBe('[Redacted]');
    expect(line.identity).toEqual({ id: 'client-1.demo', token: '[Redacted]' });
    expect(line.headers).toEqual({ authorization: '[Redacted]', host: 'web' });
    expect(line.request).toEqual({ headers: { authorization: '[Redacted]', 'proxy-authorization': '[Redacted]' } });
    expect(line.discovery).toEqual({ identity: { token: '[Redacted]' } });
    expect(lines[0]).not.toContain('tok-');
  });

  it('adds nothing to objects without secrets', () => {
    const { log, lines } = capture();
    log.info({ identity: { id: 'client-1.demo' } }, 'plain');
    expect(JSON.parse(lines[0]!)).toMatchObject({ identity: { id: 'client-1.demo' }, msg: 'plain' });
    expect(lines[0]).not.toContain('Redacted');
  });
});
