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
