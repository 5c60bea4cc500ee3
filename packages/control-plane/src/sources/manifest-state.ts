// The objects a manifest directory defines, and the events that move a consumer from the
// previous read to the next. Pure: FilesSource does the I/O and hands over what each file gave.
//
// Rules (why): the last good state stays in force, as a NACKed config does in the data plane.
// - A file that could not be read, or read only in part (a syntax error in one document),
//   keeps the objects it defined before that it no longer shows: we cannot tell a deletion
//   from a half-saved edit. Objects it still shows are applied.
// - An object defined twice: the first in path order, then document order, wins, so the
//   result does not depend on the order edits happened in.
import { describeRef, refKey } from '../model/kube-objects.js';
import type { SourceEvent } from './source.js';
import type { ManifestEntry, ManifestProblem, ParsedManifest } from './manifest-parser.js';

/** What one listed file gave in a read of the directory. */
export type FileScan =
  /** The file was read; `parsed` says how much of it made sense. */
  | { readonly type: 'parsed'; readonly path: string; readonly parsed: ParsedManifest }
  /** The file could not be read now (EACCES, vanished mid-read): keep what it defined. */
  | { readonly type: 'unreadable'; readonly path: string; readonly problem?: ManifestProblem };

interface FileRecord {
  /** Objects in force from this file, in document order, including kept ones. */
  readonly entries: readonly ManifestEntry[];
  readonly skipped: number;
}

/** The current view of a manifest directory; `apply` moves it to the next read. */
export class ManifestState {
  private files = new Map<string, FileRecord>();
  private objects = new Map<string, ManifestEntry>();
  private problemKeys = new Set<string>();

  /** Documents of kinds Skein does not read, over every file in force. */
  get skipped(): number {
    let n = 0;
    for (const file of this.files.values()) n += file.skipped;
    return n;
  }

  /** Paths of the files that define something or were read, in path order. */
  get paths(): readonly string[] {
    return [...this.files.keys()];
  }

  /** The objects in force, by `refKey`. */
  get current(): ReadonlyMap<string, ManifestEntry> {
    return this.objects;
  }

  /**
   * Replaces the view with one complete read of the directory: `scans` holds every file
   * that exists now (files not in it were removed); `problems` are reported along with the
   * files' own (a directory that could not be listed). Returns, in order: `invalid` for problems
   * not reported by the previous read, `upsert` for new or changed objects (origin alone
   * changing is not a change: inserting a document would otherwise touch every object after
   * it), and `delete` for objects no longer defined.
   */
  apply(scans: readonly FileScan[], problems: readonly ManifestProblem[] = []): SourceEvent[] {
    const ordered = [...scans].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const files = new Map<string, FileRecord>();
    const found: ManifestProblem[] = [...problems];
    for (const scan of ordered) {
      const previous = this.files.get(scan.path);
      if (scan.type === 'unreadable') {
        if (scan.problem) found.push(scan.problem);
        files.set(scan.path, previous ?? { entries: [], skipped: 0 });
        continue;
      }
      found.push(...scan.parsed.problems);
      let entries = scan.parsed.entries;
      if (!scan.parsed.complete && previous) {
        const shown = new Set(entries.map((e) => e.key));
        entries = [...entries, ...previous.entries.filter((e) => !shown.has(e.key))];
      }
      files.set(scan.path, { entries, skipped: scan.parsed.skipped });
    }

    const objects = new Map<string, ManifestEntry>();
    for (const file of files.values()) {
      for (const entry of file.entries) {
        const first = objects.get(entry.key);
        if (first === undefined) {
          objects.set(entry.key, entry);
        } else {
          found.push({
            origin: entry.origin,
            ref: entry.ref,
            reason: `${describeRef(entry.ref)} is already defined at ${first.origin}; the first definition wins`,
          });
        }
      }
    }

    const events: SourceEvent[] = [];
    const problemKeys = new Set<string>();
    for (const p of found) {
      const key = `${p.origin}\n${p.ref ? refKey(p.ref) : ''}\n${p.reason}`;
      problemKeys.add(key);
      // A problem stays until fixed; report it when it appears, not on every re-read.
      if (!this.problemKeys.has(key)) events.push(p.ref ? { type: 'invalid', origin: p.origin, ref: p.ref, reason: p.reason } : { type: 'invalid', origin: p.origin, reason: p.reason });
    }
    for (const [key, entry] of objects) {
      if (this.objects.get(key)?.canonical !== entry.canonical) {
        events.push({ type: 'upsert', kind: entry.ref.kind, object: entry.object, origin: entry.origin });
      }
    }
    for (const [key, entry] of this.objects) {
      if (!objects.has(key)) events.push({ type: 'delete', ref: entry.ref, origin: entry.origin });
    }

    this.files = files;
    this.objects = objects;
    this.problemKeys = problemKeys;
    return events;
  }
}
