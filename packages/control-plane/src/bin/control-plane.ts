#!/usr/bin/env node
// Process entry of skein-control-plane: flags/env, logger, signals.
import { parseConfig } from '../config.js';
import { createLogger } from '../log.js';
import { startControlPlane, type RunningControlPlane } from '../main.js';

const config = parseConfig(process.argv.slice(2));
const log = createLogger(config.logLevel, { id: config.id });

process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'uncaught exception: this is a bug, please report it');
  process.exit(70);
});

// Signal handlers go in before anything starts: until a handler exists, SIGTERM kills the
// process at once, and a supervisor may send it as soon as it sees the "listening" line.
let plane: RunningControlPlane | undefined;
let stopRequested: string | undefined;
const stop = (signal: string): void => {
  if (stopRequested) return;
  stopRequested = signal;
  if (!plane) return; // start-up finishes first, then stops
  log.info({ signal }, 'shutting down');
  plane.close().then(() => process.exit(0), (err: unknown) => {
    log.error({ err }, 'shutdown failed');
    process.exit(1);
  });
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

startControlPlane(config, log).then((running) => {
  plane = running;
  if (stopRequested) {
    const signal = stopRequested;
    stopRequested = undefined;
    stop(signal);
  }
}, (err: unknown) => {
  log.fatal({ err }, `cannot start: ${(err as Error).message}`);
  process.exit(1);
});
