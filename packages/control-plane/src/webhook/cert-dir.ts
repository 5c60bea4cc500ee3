// The webhook certificate from --webhook-cert-dir (tls.crt, tls.key: a mounted kubernetes.io/tls
// Secret, cert-manager's or one's own). Polled, because the kubelet updates a mounted Secret by
// swapping a symlink, which file watchers report unreliably; reading two small files every few
// seconds is cheap.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { inspectCertificate, type CertificatePair } from './webhook-cert.js';

/** Reads and checks the pair; an error message instead when it is unusable. */
async function loadPair(dir: string): Promise<CertificatePair | { error: string }> {
  let pair: CertificatePair;
  try {
    const [cert, key] = await Promise.all([readFile(join(dir, 'tls.crt'), 'utf8'), readFile(join(dir, 'tls.key'), 'utf8')]);
    pair = { cert, key };
  } catch (err) {
    return { error: (err as Error).message };
  }
  const info = inspectCertificate(pair);
  if ('error' in info) return { error: `tls.crt or tls.key does not parse: ${info.error}` };
  if (!info.keyMatches) return { error: 'tls.key does not match tls.crt' };
  return pair;
}

/** The certificate in `dir`; throws (a start-up configuration error) when it is unusable. */
export async function readCertDir(dir: string): Promise<CertificatePair> {
  const pair = await loadPair(dir);
  if ('error' in pair) throw new Error(`webhook: --webhook-cert-dir ${dir}: ${pair.error}`);
  return pair;
}

export interface CertDirWatcherOptions {
  dir: string;
  /** The pair served now (from {@link readCertDir}). */
  current: CertificatePair;
  log: Logger;
  onCertificate(pair: CertificatePair): void;
  intervalMs?: number;
}

/** Calls `onCertificate` when the directory holds a different usable pair; a bad one is logged and skipped. */
export class CertDirWatcher {
  private current: CertificatePair;
  private timer: NodeJS.Timeout | undefined;
  private lastProblem = '';

  constructor(private readonly options: CertDirWatcherOptions) {
    this.current = options.current;
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), this.options.intervalMs ?? 2000);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look at the directory (the interval calls it; tests may too). */
  async check(): Promise<void> {
    const pair = await loadPair(this.options.dir);
    if ('error' in pair) {
      // A rotation may be half-written for a moment: keep serving the last good pair.
      if (pair.error !== this.lastProblem) this.options.log.warn({ dir: this.options.dir }, `webhook: ${this.options.dir}: ${pair.error}; still serving the previous certificate`);
      this.lastProblem = pair.error;
      return;
    }
    this.lastProblem = '';
    if (pair.cert === this.current.cert && pair.key === this.current.key) return;
    this.current = pair;
    this.options.log.info({ dir: this.options.dir }, 'webhook: certificate reloaded');
    this.options.onCertificate(pair);
  }
}
