// FilesSource: `--source files:<dir>`. Reads the Kubernetes manifests in a directory tree and
// re-reads on change, emitting only the differences (ManifestState decides what they are).
//
// Change detection has two paths, because neither alone is reliable everywhere:
// - one non-recursive fs.watch per directory (Node 20's `recursive` on Linux is a userland
//   walker with its own gaps); any notification schedules a full re-read after a short debounce;
// - a cheap poll that stats every file and re-reads those whose stamp changed. It catches what
//   watchers miss: the directory replaced, network filesystems, inotify limits.
import { type FSWatcher, watch } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { type ManifestProblem, parseManifest } from './manifest-parser.js';
import { type FileScan, ManifestState } from './manifest-state.js';
import type { Source, SourceEvent, SourceSink } from './source.js';

/** Where FilesSource reads, and tuning whose defaults suit people editing manifests by hand. */
export interface FilesSourceOptions {
  /** The manifest directory, resolved against `cwd`; read recursively. */
  readonly dir: string;
  /** Quiet time after a change notification before re-reading: editors write in bursts. Default 50 ms. */
  readonly debounceMs?: number;
  /** Interval of the stat poll. Default 800 ms, so an edit lands within a second even unwatched. */
  readonly pollIntervalMs?: number;
  /** Use fs.watch; false leaves only the poll. Default true. */
  readonly watch?: boolean;
  /** Paths in origins are shown relative to this when inside it. Default `process.cwd()`. */
  readonly cwd?: string;
}

const MANIFEST_FILE = /\.(ya?ml|json)$/i;
/** Manifests are small; a huge file is a mistake, not something to hold in memory. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;
/** Timestamps are coarse (a jiffy on Linux, seconds elsewhere): a file modified this recently may change again unseen. */
const RACY_MS = 2000;

interface CachedFile {
  readonly stamp: string;
  readonly mtimeMs: number;
  readonly readAtMs: number;
  readonly scan: FileScan;
}

interface Listing {
  readonly files: string[];
  /** Directories walked, keyed by path, with their identity (dev:ino). */
  readonly dirs: Map<string, string>;
  /** Directories that could not be listed: files under them keep their objects. */
  readonly failedDirs: string[];
  readonly problems: ManifestProblem[];
}

/** A Source over a directory of Kubernetes manifests (`*.yaml`, `*.yml`, `*.json`). */
export class FilesSource implements Source {
  /** `files:<dir>`, the dir as given. */
  readonly name: string;
  private readonly root: string;
  private readonly options: Required<Omit<FilesSourceOptions, 'dir'>>;
  private readonly state = new ManifestState();
  private readonly cache = new Map<string, CachedFile>();
  private readonly watchers = new Map<string, { id: string; watcher: FSWatcher }>();
  private sink: SourceSink | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private busy = false;
  private pending = false;
  private pendingForce = false;
  private stopped = false;
  private synced = false;
  /** The root's problem last reported as `retrying`; '' before the first read, undefined when fine. */
  private rootProblem: string | undefined = '';

  constructor(options: FilesSourceOptions) {
    this.name = `files:${options.dir}`;
    this.options = {
      debounceMs: options.debounceMs ?? 50,
      pollIntervalMs: options.pollIntervalMs ?? 800,
      watch: options.watch ?? true,
      cwd: options.cwd ?? process.cwd(),
    };
    this.root = path.resolve(this.options.cwd, options.dir);
  }

  /** Documents of kinds Skein does not read (Deployment, ConfigMap...) in the last read. */
  get skipped(): number {
    return this.state.skipped;
  }

  /** Starts the watchers and the poll and schedules the first read; `synced` follows it. */
  async start(sink: SourceSink): Promise<void> {
    if (this.sink || this.stopped) throw new Error(`${this.name}: start() called twice or after stop()`);
    this.sink = sink;
    // Watch the top before the first read, so that no change after start() can go unseen.
    const rootId = await statId(this.root);
    if (this.stopped) return;
    if (typeof rootId === 'string' && rootId.startsWith('d')) this.watchDirs(new Map([[this.root, rootId]]));
    this.pollTimer = setInterval(() => this.request(false), this.options.pollIntervalMs);
    this.pollTimer.unref();
    this.request(true);
  }

  /** Closes watchers and timers and waits for a read in progress; nothing is emitted afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.debounceTimer);
    for (const { watcher } of this.watchers.values()) watcher.close();
    this.watchers.clear();
    await this.running;
  }

  private emit(event: SourceEvent): void {
    if (!this.stopped) this.sink?.(event);
  }

  /** A watcher saw something: re-read everything once the burst is over. */
  private changed(): void {
    if (this.stopped) return;
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => this.request(true), this.options.debounceMs);
    this.debounceTimer.unref();
  }

  /** Runs a read now, or right after the one in progress; reads never overlap. */
  private request(force: boolean): void {
    if (this.stopped) return;
    this.pending = true;
    this.pendingForce ||= force;
    if (this.busy) return;
    this.busy = true;
    this.running = this.drain();
  }

  private async drain(): Promise<void> {
    while (this.pending && !this.stopped) {
      const force = this.pendingForce;
      this.pending = false;
      this.pendingForce = false;
      try {
        await this.scan(force);
      } catch (err) {
        // A bug, not bad input: say so and try again at the next poll.
        this.emit({ type: 'status', state: 'retrying', detail: `${this.name}: ${String(err)}` });
      }
    }
    this.busy = false;
  }

  /** One read of the directory. `force` re-reads every file, else only those whose stamp moved. */
  private async scan(force: boolean): Promise<void> {
    const rootId = await statId(this.root);
    if (typeof rootId !== 'string' || !rootId.startsWith('d')) {
      // Missing or replaced mid-way: keep what we have, as for a lost API server connection.
      const detail = `${this.name}: ${typeof rootId === 'string' ? 'not a directory' : rootId.code}`;
      if (this.rootProblem !== detail) this.emit({ type: 'status', state: 'retrying', detail });
      this.rootProblem = detail;
      return;
    }
    const listing = await this.list(rootId);
    if (this.stopped) return;
    if (listing.failedDirs.includes(this.root)) {
      const detail = `${this.name}: cannot list directory`;
      if (this.rootProblem !== detail) this.emit({ type: 'status', state: 'retrying', detail });
      this.rootProblem = detail;
      return;
    }
    const scans: FileScan[] = [];
    for (const file of listing.files) scans.push(await this.read(file, force));
    const listed = new Set(listing.files);
    for (const file of this.state.paths) {
      const under = listing.failedDirs.some((d) => file.startsWith(d + path.sep));
      if (!listed.has(file) && under) scans.push({ type: 'unreadable', path: file });
    }
    for (const file of this.cache.keys()) if (!listed.has(file)) this.cache.delete(file);
    if (this.stopped) return;

    if (this.rootProblem !== undefined) this.emit({ type: 'status', state: 'connected' });
    this.rootProblem = undefined;
    for (const event of this.state.apply(scans, listing.problems)) this.emit(event);
    if (!this.synced) {
      this.synced = true;
      this.emit({ type: 'synced' });
    }
    this.watchDirs(listing.dirs);
  }

  private async read(file: string, force: boolean): Promise<FileScan> {
    const display = this.display(file);
    const origin = `files: ${display}`;
    const before = await stat(file, { bigint: true }).catch((err: NodeJS.ErrnoException) => err);
    if (before instanceof Error) return this.unreadable(file, origin, before);
    const stamp = `${before.dev}:${before.ino}:${before.size}:${before.mtimeNs}:${before.ctimeNs}`;
    const cached = this.cache.get(file);
    if (!force && cached?.stamp === stamp && cached.readAtMs - cached.mtimeMs > RACY_MS) return cached.scan;
    if (before.size > MAX_FILE_BYTES) {
      return { type: 'unreadable', path: file, problem: { origin, reason: `file is larger than ${MAX_FILE_BYTES} bytes` } };
    }
    const readAtMs = Date.now();
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => err);
    if (text instanceof Error) return this.unreadable(file, origin, text);
    const parsed = parseManifest(text, display, /\.json$/i.test(file) ? 'json' : 'yaml');
    const scan: FileScan = { type: 'parsed', path: file, parsed };
    // Stamp taken before the read: a write during the read shows up as a new stamp next time.
    this.cache.set(file, { stamp, mtimeMs: Number(before.mtimeMs), readAtMs, scan });
    return scan;
  }

  private unreadable(file: string, origin: string, err: NodeJS.ErrnoException): FileScan {
    this.cache.delete(file);
    // Vanished between listing and reading (an editor's save dance): look again shortly.
    if (err.code === 'ENOENT') {
      this.changed();
      return { type: 'unreadable', path: file };
    }
    return { type: 'unreadable', path: file, problem: { origin, reason: `cannot read file: ${err.code ?? err.message}` } };
  }

  /** Walks the tree in name order. Skips dot-entries: editor lock files, and Kubernetes ConfigMap volumes' `..data` copies. */
  private async list(rootId: string): Promise<Listing> {
    const listing: Listing = { files: [], dirs: new Map(), failedDirs: [], problems: [] };
    const seen = new Set<string>();
    const visit = async (dir: string, id: string): Promise<void> => {
      if (seen.has(id)) return; // a symlink loop, or a second link to a directory already read
      seen.add(id);
      listing.dirs.set(dir, id);
      const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => err);
      if (names instanceof Error) {
        listing.failedDirs.push(dir);
        if (errorCode(names) !== 'ENOENT') listing.problems.push({ origin: `files: ${this.display(dir)}`, reason: `cannot list directory: ${errorCode(names)}` });
        return;
      }
      for (const name of names.sort()) {
        if (name.startsWith('.')) continue;
        const full = path.join(dir, name);
        const entryId = await statId(full); // follows symlinks; a dangling one counts as absent
        if (typeof entryId !== 'string') continue;
        if (entryId.startsWith('d')) await visit(full, entryId);
        else if (entryId.startsWith('f') && MANIFEST_FILE.test(name)) listing.files.push(full);
      }
    };
    await visit(this.root, rootId);
    listing.files.sort();
    return listing;
  }

  /** Keeps one watcher per walked directory, replacing those whose directory was replaced. */
  private watchDirs(dirs: Map<string, string>): void {
    if (!this.options.watch || this.stopped) return;
    for (const [dir, entry] of this.watchers) {
      if (dirs.get(dir) !== entry.id) {
        entry.watcher.close();
        this.watchers.delete(dir);
      }
    }
    for (const [dir, id] of dirs) {
      if (this.watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, { persistent: false }, () => this.changed());
        watcher.on('error', () => {
          // Typically the directory went away; the next poll re-creates what is still there.
          watcher.close();
          if (this.watchers.get(dir)?.watcher === watcher) this.watchers.delete(dir);
          this.changed();
        });
        this.watchers.set(dir, { id, watcher });
      } catch {
        // Out of inotify watches, or gone already: the poll still sees changes.
      }
    }
  }

  private display(file: string): string {
    const rel = path.relative(this.options.cwd, file);
    return rel !== '' && !rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel) ? rel : file;
  }
}

/** `d<dev>:<ino>` for a directory, `f…` for a file, `o…` otherwise; the error if stat fails. */
async function statId(p: string): Promise<string | NodeJS.ErrnoException> {
  try {
    const s = await stat(p);
    return `${s.isDirectory() ? 'd' : s.isFile() ? 'f' : 'o'}${s.dev}:${s.ino}`;
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
}

function errorCode(e: NodeJS.ErrnoException): string {
  return e.code ?? e.message;
}
