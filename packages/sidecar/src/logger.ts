// The data plane logs through this small interface: pino in the sidecar process, a no-op in
// library mode unless the app passes its own (CONVENTIONS rule 11).
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

const nothing = (): void => undefined;
export const noopLogger: Logger = { debug: nothing, info: nothing, warn: nothing, error: nothing };

/**
 * What a process logger (pino's `redact` option) must hide: node identity tokens (`token`,
 * `identity.token`, one or two levels down), Authorization headers (bare, in `headers`, in a
 * request or an error) and passwords. Pure data, so the library imports no logger.
 */
export const LOG_REDACTION: { readonly paths: readonly string[]; readonly censor: string } = Object.freeze({
  paths: Object.freeze([
    'token', '*.token', '*.*.token',
    'authorization', '*.authorization', 'headers.authorization', '*.headers.authorization',
    'headers["proxy-authorization"]', '*.headers["proxy-authorization"]',
    'password', '*.password',
  ]),
  censor: '[Redacted]',
});
