// Structured JSON logs, one line per event. The logger is injected into components; a
// component never creates its own.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Fields whose values never reach a log line: node identity tokens (`token`, `node.token`,
 * `identity.token`, one or two levels down), Authorization headers (bare, in `headers`, in a
 * request or an error), passwords. Pino replaces each value with "[Redacted]".
 */
export const REDACTED_PATHS: readonly string[] = [
  'token', '*.token', '*.*.token',
  'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
  'headers["proxy-authorization"]', '*.headers["proxy-authorization"]',
  'password', '*.password',
];

/**
 * A JSON logger writing to `destination` (default: stdout, synchronously, so the last lines
 * survive a crash).
 */
export function createLogger(level: LogLevel, base: Record<string, unknown> = {}, destination: pino.DestinationStream = pino.destination({ dest: 1, sync: true })): Logger {
  return pino({
    level,
    base: { component: 'control-plane', ...base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: [...REDACTED_PATHS] },
  }, destination);
}
