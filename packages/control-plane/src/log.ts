// Structured JSON logs, one line per event. The logger is injected into components; a
// component never creates its own.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A JSON logger writing to stdout synchronously (so the last lines survive a crash). */
export function createLogger(level: LogLevel, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { component: 'control-plane', ...base },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Tokens never reach a log line, wherever they hide.
    redact: { paths: ['token', '*.token', 'node.token', 'headers.authorization'], censor: '[redacted]' },
  }, pino.destination({ dest: 1, sync: true }));
}
