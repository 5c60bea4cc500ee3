// Reads and parses one manifest file for FilesSource, and remembers what each file gave, keyed
// by its stat stamp: a file whose stamp has not moved is not read or parsed again.
//
// Why a stamp is not always enough (the "racily clean" problem git's index has too): timestamps
// are coarse (a jiffy on Linux, seconds or worse elsewhere), so a file written again within the
// same tick after we read it keeps its stamp. A file read less than RACY_MS after its last
// modification is therefore read again next time, until a read lands well after it. Reading is
// cheap and parsing is not (YAML): text that hashes as before keeps its earlier parse.
import { createHash } from 'node:crypto';
import { readFile as fsReadFile } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { parseManifest } from './manifest-parser.js';
import type { FileScan } from './manifest-state.js';

/** Manifests are small; a huge file is a mistake, not something to hold in memory. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;
/** How long after a modification a read may still have missed a same-tick write. */
export const RACY_MS = 2000;

/** The stat fields the stamp is made of: a change of any means the file may have changed. */
export type FileStats = Pick<BigIntStats, 'dev' | 'ino' | 'size' | 'mtimeNs' | 'ctimeNs' | 'mtimeMs'>;

/** What a read gave: the file's scan, or `vanished` when it was gone by the time we read it. */
export type ReadResult = FileScan | { readonly type: 'vanished'; readonly path: string };

export interface ManifestReaderOptions {
  /** Reads a file as UTF-8. Default `fs.promises.readFile`; tests count calls through it. */
  readonly readFile?: (file: string) => Promise<string>;
  /** Wall-clock time in ms, compared with file mtimes. Default `Date.now`. */
  readonly now?: () => number;
}

interface CachedFile {
  readonly stamp: string;
  readonly mtimeMs: number;
  readonly readAtMs: number;
  /** Of the text the scan was parsed from. */
  readonly digest: string;
  readonly scan: FileScan;
}

/** A per-file cache of parsed manifests, keyed by path and checked against a fresh stat. */
export class ManifestReader {
  private readonly cache = new Map<string, CachedFile>();
  private readonly readText: (file: string) => Promise<string>;
  private readonly now: () => number;

  constructor(options: ManifestReaderOptions = {}) {
    this.readText = options.readFile ?? ((file) => fsReadFile(file, 'utf8'));
    this.now = options.now ?? Date.now;
  }

  /**
   * What `file` defines. `stats` must come from a stat taken before this call: a write during
   * the read then shows up as a new stamp next time. Served from the cache when the stamp is
   * unchanged, the last read was not racy and `force` is false; when read, text equal to the
   * last read's gives the last scan again (the same object). Never throws.
   */
  async read(file: string, display: string, stats: FileStats, force: boolean): Promise<ReadResult> {
    const stamp = fileStamp(stats);
    const cached = this.cache.get(file);
    if (!force && cached?.stamp === stamp && cached.readAtMs - cached.mtimeMs > RACY_MS) return cached.scan;
    const origin = `files: ${display}`;
    if (stats.size > MAX_FILE_BYTES) {
      this.cache.delete(file);
      return { type: 'unreadable', path: file, problem: { origin, reason: `file is larger than ${MAX_FILE_BYTES} bytes` } };
    }
    const readAtMs = this.now();
    let text: string;
    try {
      text = await this.readText(file);
    } catch (err) {
      this.cache.delete(file);
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      // Gone between stat and read (an editor's save dance): the caller looks again shortly.
      if (code === 'ENOENT') return { type: 'vanished', path: file };
      return { type: 'unreadable', path: file, problem: { origin, reason: `cannot read file: ${code}` } };
    }
    const digest = createHash('sha256').update(text).digest('base64');
    const scan: FileScan = cached?.digest === digest
      ? cached.scan
      : { type: 'parsed', path: file, parsed: parseManifest(text, display, /\.json$/i.test(file) ? 'json' : 'yaml') };
    this.cache.set(file, { stamp, mtimeMs: Number(stats.mtimeMs), readAtMs, digest, scan });
    return scan;
  }

  /** Drops what is remembered of `file` (it is gone, or no longer listed). */
  forget(file: string): void {
    this.cache.delete(file);
  }

  /** Paths with a cached parse. */
  get paths(): IterableIterator<string> {
    return this.cache.keys();
  }
}

/** Identity and content stamp: equal stamps mean "not modified", as far as stat can tell. */
export function fileStamp(stats: FileStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}:${stats.ctimeNs}`;
}
