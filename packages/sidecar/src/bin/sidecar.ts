#!/usr/bin/env node
// Process entry of skein-sidecar: flags/env, logger, signals.
import { pino } from 'pino';
import { LOG_REDACTION } from '../logger.js';
import { parseSidecarConfig } from './sidecar-config.js';
import { startSidecar, type RunningSidecar } from './start-sidecar.js';

const config = parseSidecarConfig(process.argv.slice(2));
const log = pino({
  level: config.logLevel,
  base: { component: 'sidecar', pod: `${config.namespace}/${config.podName}` },
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label) => ({ level: label }) },
  redact: { paths: [...LOG_REDACTION.paths], censor: LOG_REDACTION.censor },
}, pino.destination({ dest: 1, sync: true }));

process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'uncaught exception: this is a bug, please report it');
  process.exit(70);
});

// Handlers go in before anything starts: until one exists, SIGTERM kills the process at once.
let sidecar: RunningSidecar | undefined;
let stopRequested: string | undefined;
const stop = (signal: string): void => {
  if (stopRequested && sidecar === undefined) return;
  stopRequested = signal;
  if (!sidecar) return;
  log.info({ signal, drainMs: config.drainMs }, 'draining');
  sidecar.close().then(() => process.exit(0), (err: unknown) => {
    log.error({ err }, 'shutdown failed');
    process.exit(1);
  });
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

startSidecar(config, log).then((running) => {
  sidecar = running;
  if (stopRequested) stop(stopRequested);
}, (err: unknown) => {
  log.fatal({ err }, `cannot start: ${(err as Error).message}`);
  process.exit(1);
});
