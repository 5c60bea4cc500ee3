// The walk of a manifest directory tree for FilesSource: which manifest files and directories
// exist, with one stat per file (its stamp) and none for other files. Reads no file content.
import { type BigIntStats, stat as statCallback } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ManifestProblem } from './manifest-parser.js';

/** The files FilesSource reads. */
export const MANIFEST_FILE = /\.(ya?ml|json)$/i;

/**
 * Stats queued at once during a walk. A queue deeper than libuv's four threads lets them and the
 * event loop handle completions in batches: a fifth of the CPU of one stat at a time (measured on
 * Node 20, 1,000 files). Bounded, so other fs users wait behind at most this many.
 */
const STAT_CONCURRENCY = 16;

// The callback API: fs.promises.stat costs up to twice the CPU per call (Node 20).
const statBig = promisify(statCallback) as (p: string, options: { bigint: true }) => Promise<BigIntStats>;

/** One walk of the tree. */
export interface ManifestTree {
  /** Manifest files, in path order, with the stat taken during the walk. */
  readonly files: ReadonlyMap<string, BigIntStats>;
  /** Directories walked, with their identity (`dirId`); includes those that failed to list. */
  readonly dirs: ReadonlyMap<string, string>;
  /** Directories that could not be listed: files under them keep their objects. */
  readonly failedDirs: readonly string[];
  readonly problems: readonly ManifestProblem[];
  /** Some file or directory was reached through a symlink, whose target can change where no watcher of the tree sees it. */
  readonly symlinks: boolean;
}

/**
 * Walks `root` (a directory whose `dirId` is `rootId`), following symlinks. Skips dot-entries:
 * editor lock and temp files, and Kubernetes ConfigMap volumes' `..data` copies.
 * `display` shapes paths for problem origins.
 */
export async function walkManifestTree(root: string, rootId: string, display: (p: string) => string): Promise<ManifestTree> {
  const files: Array<[string, BigIntStats]> = [];
  const dirs = new Map<string, string>();
  const failedDirs: string[] = [];
  const problems: ManifestProblem[] = [];
  const seen = new Set<string>();
  let symlinks = false;
  const visit = async (dir: string, id: string): Promise<void> => {
    if (seen.has(id)) return; // a symlink loop, or a second link to a directory already read
    seen.add(id);
    dirs.set(dir, id);
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => err);
    if (entries instanceof Error) {
      failedDirs.push(dir);
      const code = errorCode(entries);
      if (code !== 'ENOENT') problems.push({ origin: `files: ${display(dir)}`, reason: `cannot list directory: ${code}` });
      return;
    }
    const subdirs: Array<[string, string]> = [];
    const candidates = entries.filter((e) => !e.name.startsWith('.') && (e.isDirectory() || e.isSymbolicLink() || (e.isFile() && MANIFEST_FILE.test(e.name))));
    await eachLimit(candidates, STAT_CONCURRENCY, async (entry) => {
      const full = path.join(dir, entry.name);
      const stats = await statEntry(full); // follows symlinks; a dangling one counts as absent
      if (stats instanceof Error) return;
      if (entry.isSymbolicLink() && (stats.isDirectory() || MANIFEST_FILE.test(entry.name))) symlinks = true;
      if (stats.isDirectory()) subdirs.push([full, dirId(stats)]);
      else if (stats.isFile() && MANIFEST_FILE.test(entry.name)) files.push([full, stats]);
    });
    // Name order, so that which of two links to one directory is walked does not depend on timing.
    for (const [sub, subId] of subdirs.sort(([a], [b]) => compare(a, b))) await visit(sub, subId);
  };
  await visit(root, rootId);
  return { files: new Map(files.sort(([a], [b]) => compare(a, b))), dirs, failedDirs, problems, symlinks };
}

/** The stat of `p` (following symlinks), or the error. */
export function statEntry(p: string): Promise<BigIntStats | NodeJS.ErrnoException> {
  return statBig(p, { bigint: true }).catch((err: NodeJS.ErrnoException) => err);
}

/** A directory's identity: a replaced directory (same path) has another. */
export function dirId(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}`;
}

export function errorCode(e: NodeJS.ErrnoException): string {
  return e.code ?? e.message;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Runs `task` over `items`, at most `limit` at a time. */
async function eachLimit<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
