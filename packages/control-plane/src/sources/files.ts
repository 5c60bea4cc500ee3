// FilesSource: `--source files:<dir>`. Reads the Kubernetes manifests in a directory tree and
// re-reads on change, emitting only the differences (ManifestState decides what they are).
//
// A change costs what changed, not the size of the tree: ManifestReader keeps each file's
// parse keyed by its stat stamp, and only a file whose stamp moved, or that a watcher named,
// is read again. Change detection has two paths, because neither alone is reliable everywhere:
// - one non-recursive fs.watch per directory (Node 20's `recursive` on Linux is a userland
//   walker with its own gaps). A notification names an entry of its directory; after a short
//   debounce the named entries are stat'ed and the manifests among them read again. Anything
//   else (a directory added, removed or replaced, an unnamed notification) walks the tree.
// - a poll that walks the tree with one stat per file and reads those whose stamp moved. It
//   catches what watchers miss: the directory replaced, network filesystems, inotify limits,
//   a symlink's target changing elsewhere. While every directory is watched and nothing is
//   reached through a symlink it runs rarely; otherwise often, as the only sure path.
import { type FSWatcher, watch } from 'node:fs';
import path from 'node:path';
import type { ManifestProblem } from './manifest-parser.js';
import { ManifestReader, type ReadResult } from './manifest-reader.js';
import { type FileScan, ManifestState } from './manifest-state.js';
import { dirId, errorCode, MANIFEST_FILE, type ManifestTree, statEntry, walkManifestTree } from './manifest-tree.js';
import type { Source, SourceEvent, SourceSink } from './source.js';

/** Where FilesSource reads, and tuning whose defaults suit people editing manifests by hand. */
export interface FilesSourceOptions {
  /** The manifest directory, resolved against `cwd`; read recursively. */
  readonly dir: string;
  /** Quiet time after a change notification before re-reading: editors write in bursts. Default 50 ms. */
  readonly debounceMs?: number;
  /** Longest a noticed change waits while notifications keep coming (a steady stream of edits). Default 250 ms. */
  readonly debounceMaxMs?: number;
  /** Interval of the poll while watchers may miss changes (see `watchedPollIntervalMs`). Default 800 ms, so an edit lands within a second. */
  readonly pollIntervalMs?: number;
  /** Interval of the poll while every directory is watched and no symlink is followed: only a safety net then. Default 5 s. */
  readonly watchedPollIntervalMs?: number;
  /** Use fs.watch; false leaves only the poll. Default true. */
  readonly watch?: boolean;
  /** Paths in origins are shown relative to this when inside it. Default `process.cwd()`. */
  readonly cwd?: string;
  /** Reads a manifest as UTF-8. Default `fs.promises.readFile`; tests count reads through it. */
  readonly readFile?: (file: string) => Promise<string>;
}

/** A Source over a directory of Kubernetes manifests (`*.yaml`, `*.yml`, `*.json`). */
export class FilesSource implements Source {
  /** `files:<dir>`, the dir as given. */
  readonly name: string;
  private readonly root: string;
  private readonly options: Required<Omit<FilesSourceOptions, 'dir' | 'readFile'>>;
  private readonly state = new ManifestState();
  private readonly reader: ManifestReader;
  private readonly watchers = new Map<string, { id: string; watcher: FSWatcher }>();
  /** The last walk; undefined until one succeeded. */
  private tree: ManifestTree | undefined;
  /** What each file gave in the last read applied to `state`, by path: the files in force. */
  private scans = new Map<string, FileScan>();
  private problems: readonly ManifestProblem[] = [];
  private sink: SourceSink | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private busy = false;
  private requested = false;
  /** Walk the whole tree at the next read (else only `pendingPaths`). */
  private pendingFull = false;
  /** Entries named by watchers since the last read; read again even if their stamp looks unchanged. */
  private pendingPaths = new Set<string>();
  /** When a watcher first reported a change not yet read (epoch ms): the events' `seenAt`. */
  private firstNoticedAt: number | undefined;
  private stopped = false;
  private synced = false;
  /** The root's problem last reported as `retrying`; '' before the first read, undefined when fine. */
  private rootProblem: string | undefined = '';

  constructor(options: FilesSourceOptions) {
    this.name = `files:${options.dir}`;
    this.options = {
      debounceMs: options.debounceMs ?? 50,
      debounceMaxMs: options.debounceMaxMs ?? 250,
      pollIntervalMs: options.pollIntervalMs ?? 800,
      watchedPollIntervalMs: options.watchedPollIntervalMs ?? 5000,
      watch: options.watch ?? true,
      cwd: options.cwd ?? process.cwd(),
    };
    this.reader = new ManifestReader(options.readFile ? { readFile: options.readFile } : {});
    this.root = path.resolve(this.options.cwd, options.dir);
  }

  /** Documents of kinds Skein does not read (Deployment, ConfigMap...) in the last read. */
  get skipped(): number {
    return this.state.skipped;
  }

  /** Starts the watchers and schedules the first read, after which the poll runs; `synced` follows it. */
  async start(sink: SourceSink): Promise<void> {
    if (this.sink || this.stopped) throw new Error(`${this.name}: start() called twice or after stop()`);
    this.sink = sink;
    // Watch the top before the first read, so that no change after start() can go unseen.
    const root = await statEntry(this.root);
    if (this.stopped) return;
    if (!(root instanceof Error) && root.isDirectory()) this.watchDirs(new Map([[this.root, dirId(root)]]));
    this.request(true);
  }

  /** Closes watchers and timers and waits for a read in progress; nothing is emitted afterwards. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.pollTimer);
    clearTimeout(this.debounceTimer);
    for (const { watcher } of this.watchers.values()) watcher.close();
    this.watchers.clear();
    await this.running;
  }

  private emit(event: SourceEvent, seenAt?: number): void {
    if (!this.stopped) this.sink?.(event, seenAt);
  }

  /**
   * Something changed: `file` (an entry of a watched directory), or, when undefined, something
   * a walk must find. Read once the burst is over.
   */
  private changed(file: string | undefined): void {
    if (this.stopped) return;
    const now = Date.now();
    this.firstNoticedAt ??= now;
    if (file === undefined) this.pendingFull = true;
    else this.pendingPaths.add(file);
    clearTimeout(this.debounceTimer);
    // Trailing debounce, but a stream of notifications cannot hold the first one back forever.
    // No leading edge (unlike SnapshotPublisher): the quiet time is how we know a write is done.
    // A file written in place notifies at the truncate and at each write, and fs.watch says
    // nothing of close; a read at the first notification parses a valid but partial manifest
    // (empty, or the first documents), and ManifestState rightly takes what a complete parse
    // lacks as deleted. Only a syntax error marks a read as partial (its objects are kept).
    // An atomic save (rename into place) would be safe to read at once, but fs.watch reports
    // it as `rename`, as it does a file just created and not yet written.
    const wait = Math.min(this.options.debounceMs, this.firstNoticedAt + this.options.debounceMaxMs - now);
    this.debounceTimer = setTimeout(() => this.request(false), Math.max(0, wait));
    this.debounceTimer.unref();
  }

  /** Runs a read now, or right after the one in progress; reads never overlap. */
  private request(full: boolean): void {
    if (this.stopped) return;
    this.requested = true;
    this.pendingFull ||= full;
    if (this.busy) return;
    this.busy = true;
    this.running = this.drain();
  }

  private async drain(): Promise<void> {
    while (this.requested && !this.stopped) {
      this.requested = false;
      const full = this.pendingFull;
      const named = this.pendingPaths;
      this.pendingFull = false;
      this.pendingPaths = new Set();
      // A change a watcher noticed dates from then; one only this read finds (poll), from now.
      const seenAt = this.synced ? (this.firstNoticedAt ?? Date.now()) : undefined;
      this.firstNoticedAt = undefined;
      let walked = true;
      try {
        walked = await this.scan(full, named, seenAt);
      } catch (err) {
        // A bug, not bad input: say so and try again at the next poll.
        this.emit({ type: 'status', state: 'retrying', detail: `${this.name}: ${String(err)}` });
      }
      // The poll's clock starts after a walk: a walk it would do now has just been done.
      if (walked) this.schedulePoll();
    }
    this.busy = false;
  }

  private schedulePoll(): void {
    clearTimeout(this.pollTimer);
    if (this.stopped) return;
    const interval = this.watchingAll() ? this.options.watchedPollIntervalMs : this.options.pollIntervalMs;
    this.pollTimer = setTimeout(() => this.request(true), interval);
    this.pollTimer.unref();
  }

  /** True when every directory of the last walk has a live watcher on the same directory, and no symlink leads elsewhere. */
  private watchingAll(): boolean {
    if (!this.options.watch || !this.tree || this.tree.symlinks || this.rootProblem !== undefined) return false;
    for (const [dir, id] of this.tree.dirs) if (this.watchers.get(dir)?.id !== id) return false;
    return true;
  }

  /**
   * One read: a walk of the tree when `full` (or when the named entries need one), else a look
   * at the `named` entries only. Named files are read even if their stamp looks unchanged.
   * Returns whether it walked the tree. `seenAt` goes with the object events (see SourceSink).
   */
  private async scan(full: boolean, named: ReadonlySet<string>, seenAt: number | undefined): Promise<boolean> {
    const root = await statEntry(this.root);
    if (root instanceof Error || !root.isDirectory()) {
      // Missing or replaced mid-way: keep what we have, as for a lost API server connection.
      this.retrying(`${this.name}: ${root instanceof Error ? errorCode(root) : 'not a directory'}`);
      return true;
    }
    const rootId = dirId(root);
    let scans = !full && this.tree?.dirs.get(this.root) === rootId ? await this.look(this.tree, named) : undefined;
    const walked = scans === undefined;
    let tree = this.tree;
    if (scans === undefined) {
      tree = await walkManifestTree(this.root, rootId, (p) => this.display(p));
      if (this.stopped) return true;
      if (tree.failedDirs.includes(this.root)) {
        this.retrying(`${this.name}: cannot list directory`);
        return true;
      }
      scans = await this.readTree(tree, named);
    }
    if (this.stopped || tree === undefined) return walked;

    if (this.rootProblem !== undefined) this.emit({ type: 'status', state: 'connected' });
    this.rootProblem = undefined;
    const unchanged = this.synced && sameScans(this.scans, scans) && sameProblems(this.problems, tree.problems);
    this.tree = tree;
    this.scans = scans;
    this.problems = tree.problems;
    // Nothing read again and nothing gone (most polls): skip the pass over every object.
    if (!unchanged) for (const event of this.state.apply([...scans.values()], tree.problems)) this.emit(event, seenAt);
    if (!this.synced) {
      this.synced = true;
      this.emit({ type: 'synced' });
    }
    // A directory watched only now may have changed between the walk and its watcher: walk
    // once more (stat only, nothing is read unless it changed) rather than wait for the poll.
    if (walked && this.watchDirs(tree.dirs)) this.request(true);
    return walked;
  }

  private retrying(detail: string): void {
    if (this.rootProblem !== detail) this.emit({ type: 'status', state: 'retrying', detail });
    this.rootProblem = detail;
  }

  /** Every file of a fresh walk, read again only if its stamp moved or a watcher named it. */
  private async readTree(tree: ManifestTree, named: ReadonlySet<string>): Promise<Map<string, FileScan>> {
    const scans = new Map<string, FileScan>();
    for (const [file, stats] of tree.files) scans.set(file, this.settle(await this.reader.read(file, this.display(file), stats, named.has(file))));
    for (const file of this.scans.keys()) {
      if (scans.has(file)) continue;
      // Under a directory that could not be listed: keep its objects (ManifestState's rule).
      if (tree.failedDirs.some((d) => file.startsWith(d + path.sep))) scans.set(file, { type: 'unreadable', path: file });
    }
    for (const file of [...this.reader.paths]) if (!scans.has(file)) this.reader.forget(file);
    return scans;
  }

  /**
   * The files in force after the entries a watcher `named` changed, without a walk; undefined
   * when they call for one (a directory appeared, went or was replaced; a stat failed oddly).
   */
  private async look(tree: ManifestTree, named: ReadonlySet<string>): Promise<Map<string, FileScan> | undefined> {
    const scans = new Map(this.scans);
    for (const file of [...named].sort()) {
      const dir = path.dirname(file);
      if (!tree.dirs.has(dir) || tree.failedDirs.includes(dir)) continue; // a watcher that outlived its directory
      if (tree.dirs.has(file)) return undefined;
      const stats = await statEntry(file);
      if (stats instanceof Error) {
        if (stats.code !== 'ENOENT' && stats.code !== 'ENOTDIR') return undefined;
        scans.delete(file);
        this.reader.forget(file);
      } else if (stats.isDirectory()) {
        return undefined;
      } else if (stats.isFile() && MANIFEST_FILE.test(file)) {
        scans.set(file, this.settle(await this.reader.read(file, this.display(file), stats, true)));
      } else if (scans.delete(file)) {
        this.reader.forget(file); // a manifest replaced by something that is not a file
      }
    }
    return scans;
  }

  /** A file that vanished between stat and read keeps its objects for now, and is looked at again shortly. */
  private settle(result: ReadResult): FileScan {
    if (result.type !== 'vanished') return result;
    this.changed(result.path);
    return { type: 'unreadable', path: result.path };
  }

  /** Keeps one watcher per walked directory, replacing those whose directory was replaced; true if it added any. */
  private watchDirs(dirs: ReadonlyMap<string, string>): boolean {
    if (!this.options.watch || this.stopped) return false;
    for (const [dir, entry] of this.watchers) if (dirs.get(dir) !== entry.id) this.unwatch(dir, entry.watcher);
    let added = false;
    for (const [dir, id] of dirs) {
      if (this.watchers.has(dir)) continue;
      try {
        const self = path.basename(dir);
        const watcher = watch(dir, { persistent: false }, (_event, name) => {
          if (name === self) {
            // What inotify reports when the watched directory itself is deleted or moved; the
            // watcher is dead then, even if a new directory reuses the inode. (Rarely an entry
            // of the same name: re-watching costs nothing.)
            this.unwatch(dir, watcher);
            this.changed(undefined);
          } else if (name === null || name.startsWith('..')) {
            // Unnamed; or Kubernetes' atomic writer swapping a ConfigMap volume's `..data`
            // symlink, which changes what every manifest link there points to.
            this.changed(undefined);
          } else if (!name.startsWith('.')) {
            this.changed(path.join(dir, name)); // names are relative to the watched directory
          }
        });
        watcher.on('error', () => {
          // Typically the directory went away; a walk re-creates what is still there.
          this.unwatch(dir, watcher);
          this.changed(undefined);
        });
        this.watchers.set(dir, { id, watcher });
        added = true;
      } catch {
        // Out of inotify watches, or gone already: the poll, now at its short interval, sees changes.
      }
    }
    return added;
  }

  private unwatch(dir: string, watcher: FSWatcher): void {
    watcher.close();
    if (this.watchers.get(dir)?.watcher === watcher) this.watchers.delete(dir);
  }

  private display(file: string): string {
    const rel = path.relative(this.options.cwd, file);
    return rel !== '' && !rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel) ? rel : file;
  }
}

function sameProblems(a: readonly ManifestProblem[], b: readonly ManifestProblem[]): boolean {
  return a === b || (a.length === b.length && a.every((p, i) => p.origin === b[i]!.origin && p.reason === b[i]!.reason));
}

/** Same files, each with the very same scan (a cached parse is returned as the same object). */
function sameScans(a: ReadonlyMap<string, FileScan>, b: ReadonlyMap<string, FileScan>): boolean {
  if (a.size !== b.size) return false;
  for (const [file, scan] of b) if (a.get(file) !== scan) return false;
  return true;
}
