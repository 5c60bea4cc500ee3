import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FilesSource, type FilesSourceOptions } from './files.js';
import type { SourceEvent } from './source.js';

const svc = (name: string, port = 80, ns?: string): string => `apiVersion: v1
kind: Service
metadata:
  name: ${name}${ns ? `\n  namespace: ${ns}` : ''}
spec:
  selector: { app: ${name} }
  ports: [{ name: http, port: ${port}, targetPort: http }]
`;
const node = (name: string, zone: string): string => `apiVersion: v1
kind: Node
metadata: { name: ${name}, labels: { topology.kubernetes.io/zone: ${zone} } }
`;
const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec: { selector: { matchLabels: { app: web } } }
`;

/** YAML documents as the items of a block sequence. */
const asItems = (...docs: string[]): string =>
  docs.map((d) => d.trimEnd().split('\n').map((line, i) => (i === 0 ? '- ' : '  ') + line).join('\n')).join('\n') + '\n';

/** What the sink received, and polling helpers that wait with generous deadlines. */
class Recorder {
  readonly events: SourceEvent[] = [];
  readonly sink = (event: SourceEvent): void => void this.events.push(event);

  since(mark: number): SourceEvent[] {
    return this.events.slice(mark);
  }

  async until<T>(probe: () => T | undefined | false, what: string, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events, null, 1)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Waits until the events since `mark` include one matching `match`, and returns them all. */
  async after(mark: number, match: (e: SourceEvent) => boolean, what: string): Promise<SourceEvent[]> {
    return this.until(() => this.since(mark).some(match) && this.since(mark), what);
  }
}

const upserted = (events: SourceEvent[]): string[] =>
  events.flatMap((e) => (e.type === 'upsert' ? [`${e.kind}/${e.object.metadata?.namespace ?? ''}/${e.object.metadata?.name}`] : []));
const deleted = (events: SourceEvent[]): string[] =>
  events.flatMap((e) => (e.type === 'delete' ? [`${e.ref.kind}/${e.ref.namespace}/${e.ref.name}`] : []));
const invalid = (events: SourceEvent[]): Array<Extract<SourceEvent, { type: 'invalid' }>> =>
  events.filter((e): e is Extract<SourceEvent, { type: 'invalid' }> => e.type === 'invalid');
const isUpsertOf = (name: string) => (e: SourceEvent): boolean => e.type === 'upsert' && e.object.metadata?.name === name;
const isDeleteOf = (name: string) => (e: SourceEvent): boolean => e.type === 'delete' && e.ref.name === name;

describe('FilesSource', () => {
  let dir: string;
  let source: FilesSource | undefined;
  let rec: Recorder;

  /** Editors save by writing a temporary file and renaming it over the old one. */
  const write = (file: string, text: string): void => {
    const target = join(dir, file);
    mkdirSync(dirname(target), { recursive: true });
    const temp = join(dirname(target), `.${Math.random().toString(36).slice(2)}.tmp`);
    writeFileSync(temp, text);
    renameSync(temp, target);
  };
  const start = async (options: Partial<FilesSourceOptions> = {}): Promise<FilesSource> => {
    source = new FilesSource({ dir, cwd: dir, ...options });
    await source.start(rec.sink);
    await rec.until(() => rec.events.some((e) => e.type === 'synced'), 'synced');
    return source;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'skein-files-'));
    rec = new Recorder();
  });
  afterEach(async () => {
    await source?.stop();
    source = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads multi-document YAML, Lists and JSON, defaults the namespace and skips unrelated kinds', async () => {
    write('web.yaml', `${svc('web', 80, 'demo')}---\n${deployment}---\n${svc('api')}`);
    write('nodes/list.yml', `apiVersion: v1\nkind: List\nitems:\n${asItems(node('node-a', 'zone-a'), node('node-b', 'zone-b'))}`);
    write('cm.json', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }));
    write('pod.json', JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-a1', namespace: 'demo' }, status: { podIP: '127.0.0.11' } }));
    write('notes.txt', 'kind: Service');
    const s = await start();

    expect(s.name).toBe(`files:${dir}`);
    expect(upserted(rec.events)).toEqual(['Node//node-a', 'Node//node-b', 'Pod/demo/web-a1', 'Service/demo/web', 'Service/default/api']);
    expect(invalid(rec.events)).toEqual([]);
    expect(s.skipped).toBe(2);
    const origins = rec.events.flatMap((e) => (e.type === 'upsert' ? [e.origin] : []));
    expect(origins).toEqual(['files: nodes/list.yml doc 1 item 1', 'files: nodes/list.yml doc 1 item 2', 'files: pod.json doc 1', 'files: web.yaml doc 1', 'files: web.yaml doc 3']);
    expect(rec.events.filter((e) => e.type === 'synced')).toHaveLength(1);
    expect(rec.events.at(-1)).toEqual({ type: 'synced' });
  });

  it('reports an invalid document with file, doc index, object and reason, and applies the rest', async () => {
    write('a.yaml', [svc('one'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: two\n bad: indent\n', '- just\n- a list\n',
      'apiVersion: v1\nkind: Pod\nmetadata: { labels: { app: x } }\n', svc('three')].join('---\n'));
    write('b.yaml', `${svc('one', 81)}---\n${svc('four')}`);
    await start();

    expect(upserted(rec.events)).toEqual(['Service/default/one', 'Service/default/three', 'Service/default/four']);
    expect(rec.events.find(isUpsertOf('one'))).toMatchObject({ origin: 'files: a.yaml doc 1' });
    const problems = invalid(rec.events);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatchObject({ origin: 'files: a.yaml doc 2', ref: { kind: 'Service', namespace: 'default', name: 'two' } });
    expect(problems[0]!.reason).toMatch(/^YAML syntax error at line \d+, column \d+: /);
    expect(problems[1]).toEqual({ type: 'invalid', origin: 'files: a.yaml doc 3', reason: 'document is not a mapping (found a sequence)' });
    expect(problems[2]).toEqual({ type: 'invalid', origin: 'files: a.yaml doc 4', reason: 'Pod has no metadata.name' });
    expect(problems[3]).toEqual({
      type: 'invalid', origin: 'files: b.yaml doc 1', ref: { kind: 'Service', namespace: 'default', name: 'one' },
      reason: 'Service "default/one" is already defined at files: a.yaml doc 1; the first definition wins',
    });
  });

  it('keeps the objects of a file that no longer parses, and applies what still does', async () => {
    write('a.yaml', `${svc('one')}---\n${svc('two')}`);
    write('b.yaml', svc('other'));
    await start();
    let mark = rec.events.length;
    write('a.yaml', 'kind: Service\nmetadata: { name: [unclosed\n');
    await rec.after(mark, (e) => e.type === 'invalid', 'the syntax error');
    // A second, unrelated change proves the broken file was read again and still kept.
    write('b.yaml', svc('other', 81));
    const events = await rec.after(mark, isUpsertOf('other'), 'the edit of b.yaml');
    expect(deleted(events)).toEqual([]);
    expect(invalid(events)[0]).toMatchObject({ origin: 'files: a.yaml doc 1' });

    mark = rec.events.length;
    write('a.yaml', `${svc('one', 90)}---\nkind: [broken\n`);
    const partial = await rec.after(mark, isUpsertOf('one'), 'the partly fixed file');
    expect(upserted(partial)).toEqual(['Service/default/one']);
    expect(deleted(partial)).toEqual([]);

    mark = rec.events.length;
    write('a.yaml', svc('one', 90));
    const fixed = await rec.after(mark, isDeleteOf('two'), 'the fixed file');
    expect(deleted(fixed)).toEqual(['Service/default/two']);
    expect(upserted(fixed)).toEqual([]);
  });

  it('emits an upsert for only the object that changed', async () => {
    write('a.yaml', `${svc('one')}---\n${svc('two')}---\n${svc('three')}`);
    await start();
    const mark = rec.events.length;
    write('a.yaml', `${svc('one')}---\n${svc('two', 8080)}---\n${svc('three')}`);
    const events = await rec.after(mark, isUpsertOf('two'), 'the edit');
    expect(events.filter((e) => e.type !== 'status')).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'upsert', kind: 'Service', origin: 'files: a.yaml doc 2', object: { spec: { ports: [{ port: 8080 }] } } });
  });

  it('dates events after the first read by when the change was noticed (for push latency)', async () => {
    write('a.yaml', svc('one'));
    const seen: Array<[SourceEvent['type'], number | undefined]> = [];
    source = new FilesSource({ dir, cwd: dir });
    await source.start((event, seenAt) => {
      rec.sink(event);
      seen.push([event.type, seenAt]);
    });
    await rec.until(() => rec.events.some((e) => e.type === 'synced'), 'synced');
    expect(seen.filter(([type]) => type === 'upsert')).toEqual([['upsert', undefined]]);
    const before = Date.now();
    const mark = rec.events.length;
    write('a.yaml', svc('one', 8080));
    await rec.after(mark, isUpsertOf('one'), 'the edit');
    const [, seenAt] = seen.at(-1)!;
    expect(seenAt).toBeGreaterThanOrEqual(before);
    expect(seenAt).toBeLessThanOrEqual(Date.now());
  });

  it('reads during a steady stream of edits instead of waiting for it to stop', async () => {
    write('a.yaml', svc('one'));
    // No poll to fall back on: only the watcher's debounce can see the edits.
    await start({ debounceMs: 100, debounceMaxMs: 300, watchedPollIntervalMs: 600_000, pollIntervalMs: 600_000 });
    const mark = rec.events.length;
    let firstSeenWhileWriting: number | undefined;
    for (let i = 0; i < 60; i++) {
      write('a.yaml', svc('one', 1000 + i)); // every 20 ms: never 100 ms of quiet
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (firstSeenWhileWriting === undefined && rec.since(mark).some(isUpsertOf('one'))) firstSeenWhileWriting = i;
    }
    expect(firstSeenWhileWriting).toBeDefined();
    expect(firstSeenWhileWriting).toBeLessThan(45);
  });

  it('reads a file written in place only once its writes settle, never half-written', async () => {
    // Why the files source has no leading edge: truncate and each write are separate events,
    // and a read at the first one sees a valid manifest (empty, or one document of two) whose
    // missing objects would be deleted. A fix that reads at once must keep this test green.
    write('a.yaml', `${svc('one')}---\n${svc('two')}`);
    await start({ debounceMs: 200, debounceMaxMs: 1000, watchedPollIntervalMs: 600_000, pollIntervalMs: 600_000 });
    const mark = rec.events.length;
    const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 30));
    const fd = openSync(join(dir, 'a.yaml'), 'w'); // truncates: the file is empty now
    await pause();
    writeSync(fd, `${svc('one', 81)}---\n`);
    await pause();
    writeSync(fd, svc('two'));
    closeSync(fd);
    const events = await rec.after(mark, isUpsertOf('one'), 'the edit');
    await new Promise((resolve) => setTimeout(resolve, 300)); // no second read, or a late one, changes anything
    expect(deleted(rec.since(mark))).toEqual([]);
    expect(upserted(rec.since(mark))).toEqual(['Service/default/one']);
    expect(events.find(isUpsertOf('one'))).toMatchObject({ object: { spec: { ports: [{ port: 81 }] } } });
  });

  it('emits deletes for a removed document and a removed file', async () => {
    write('a.yaml', `${svc('one')}---\n${svc('two')}`);
    write('sub/b.yaml', `${svc('three')}---\n${node('node-a', 'zone-a')}`);
    await start();
    let mark = rec.events.length;
    write('a.yaml', svc('two'));
    const events = await rec.after(mark, isDeleteOf('one'), 'delete of one');
    expect(events).toEqual([{ type: 'delete', ref: { kind: 'Service', namespace: 'default', name: 'one' }, origin: 'files: a.yaml doc 1' }]);

    mark = rec.events.length;
    rmSync(join(dir, 'sub'), { recursive: true });
    await rec.after(mark, isDeleteOf('node-a'), 'deletes of sub/b.yaml');
    await rec.until(() => deleted(rec.since(mark)).length === 2 && rec.since(mark), 'both deletes');
    expect(deleted(rec.since(mark)).sort()).toEqual(['Node//node-a', 'Service/default/three']);
  });

  it('emits upserts for an added file, in a new subdirectory too', async () => {
    write('a.yaml', svc('one'));
    await start();
    const mark = rec.events.length;
    write('deep/er/b.yaml', `${svc('two')}---\n${svc('three')}`);
    await rec.until(() => upserted(rec.since(mark)).length === 2, 'two upserts');
    expect(upserted(rec.since(mark))).toEqual(['Service/default/two', 'Service/default/three']);
    expect(rec.since(mark)[0]).toMatchObject({ origin: 'files: deep/er/b.yaml doc 1' });
  });

  it('sees edits without watchers, through the poll', async () => {
    write('a.yaml', svc('one'));
    await start({ watch: false, pollIntervalMs: 100 });
    const mark = rec.events.length;
    writeFileSync(join(dir, 'a.yaml'), svc('one', 81));
    await rec.after(mark, isUpsertOf('one'), 'the polled edit');
  });

  it('follows the directory when it is replaced', async () => {
    write('a.yaml', svc('one'));
    await start();
    const mark = rec.events.length;
    rmSync(dir, { recursive: true });
    mkdirSync(dir);
    write('b.yaml', svc('two'));
    await rec.after(mark, isUpsertOf('two'), 'the new directory');
    await rec.after(mark, isDeleteOf('one'), 'the old object gone');
    const later = rec.events.length;
    write('b.yaml', svc('two', 81));
    await rec.after(later, isUpsertOf('two'), 'an edit in the new directory');
  });

  it('waits for a missing directory without syncing, then reads it', async () => {
    const missing = join(dir, 'later');
    source = new FilesSource({ dir: missing, pollIntervalMs: 100 });
    await source.start(rec.sink);
    await rec.until(() => rec.events.find((e) => e.type === 'status' && e.state === 'retrying'), 'retrying');
    expect(rec.events.some((e) => e.type === 'synced')).toBe(false);
    mkdirSync(missing);
    writeFileSync(join(missing, 'a.yaml'), svc('one'));
    await rec.until(() => rec.events.some((e) => e.type === 'synced'), 'synced');
    expect(upserted(rec.events)).toEqual(['Service/default/one']);
  });

  // Root reads any file, so the EACCES path is covered by manifest-state.test.ts there.
  it.skipIf(process.getuid?.() === 0)('reports an unreadable file and keeps its objects', async () => {
    write('a.yaml', svc('one'));
    write('b.yaml', svc('two'));
    await start();
    const mark = rec.events.length;
    write('a.yaml', svc('one', 81));
    chmodSync(join(dir, 'a.yaml'), 0o000);
    write('b.yaml', svc('two', 81));
    const events = await rec.after(mark, (e) => e.type === 'invalid', 'the read error');
    expect(invalid(events)[0]).toMatchObject({ origin: 'files: a.yaml', reason: 'cannot read file: EACCES' });
    await rec.after(mark, isUpsertOf('two'), 'the other file');
    expect(deleted(rec.since(mark))).toEqual([]);
  });

  describe('reading only what changed', () => {
    /** Reads through the real file system, counting them per file (relative path). */
    const counted = (): { reads: Map<string, number>; readFile: (file: string) => Promise<string> } => {
      const reads = new Map<string, number>();
      return { reads, readFile: (file) => {
        const rel = relative(dir, file);
        reads.set(rel, (reads.get(rel) ?? 0) + 1);
        return readFile(file, 'utf8');
      } };
    };
    /** 30 files in two directories, last modified an hour ago: none is "recently modified". */
    const world = (): string[] => {
      const files = Array.from({ length: 30 }, (_, i) => `${i < 15 ? '' : 'sub/'}s${i}.yaml`);
      files.forEach((file, i) => write(file, svc(`s${i}`)));
      const anHourAgo = new Date(Date.now() - 3_600_000);
      for (const file of files) utimesSync(join(dir, file), anHourAgo, anHourAgo);
      return files;
    };
    const others = (reads: Map<string, number>, ...except: string[]): number[] =>
      [...reads].filter(([file]) => !except.includes(file)).map(([, n]) => n);
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 400));

    it('reads again only the file an edit touched; polls in between read nothing', async () => {
      const files = world();
      const { reads, readFile } = counted();
      await start({ readFile, pollIntervalMs: 50, watchedPollIntervalMs: 50 });
      expect([...reads.keys()].sort()).toEqual([...files].sort());
      await settle(); // several polls
      expect(others(reads)).toEqual(files.map(() => 1));

      const mark = rec.events.length;
      write('sub/s20.yaml', svc('s20', 81));
      await rec.after(mark, isUpsertOf('s20'), 'the edit');
      await settle();
      expect(rec.since(mark).filter((e) => e.type !== 'status')).toHaveLength(1);
      // The edited file is read again (and, being recently modified, maybe by a poll or two more).
      expect(reads.get('sub/s20.yaml')).toBeGreaterThanOrEqual(2);
      expect(others(reads, 'sub/s20.yaml')).toEqual(files.slice(1).map(() => 1));
    });

    it('sees an in-place edit, a removed file and an added one, and reads nothing else', async () => {
      const files = world();
      const { reads, readFile } = counted();
      await start({ readFile });
      let mark = rec.events.length;
      writeFileSync(join(dir, 's3.yaml'), svc('s3', 81)); // in place: same inode, a 'change' event
      await rec.after(mark, isUpsertOf('s3'), 'the in-place edit');
      mark = rec.events.length;
      rmSync(join(dir, 'sub/s16.yaml'));
      write('sub/new.yaml', svc('new'));
      await rec.after(mark, isDeleteOf('s16'), 'the removal');
      await rec.after(mark, isUpsertOf('new'), 'the new file');
      expect(reads.get('s3.yaml')).toBe(2);
      expect(reads.get('sub/new.yaml')).toBe(1);
      expect(others(reads, 's3.yaml', 'sub/new.yaml')).toEqual(files.slice(1).map(() => 1));
    });

    it('reads only the file whose stamp moved when the poll is the only path', async () => {
      const files = world();
      const { reads, readFile } = counted();
      await start({ readFile, watch: false, pollIntervalMs: 50 });
      const mark = rec.events.length;
      writeFileSync(join(dir, 'sub/s29.yaml'), svc('s29', 81));
      await rec.after(mark, isUpsertOf('s29'), 'the polled edit');
      await settle();
      expect(others(reads, 'sub/s29.yaml')).toEqual(files.slice(1).map(() => 1));
    });
  });

  it('sees a ConfigMap volume update (the atomic swap of its `..data` symlink) through the watcher', async () => {
    // The layout kubelet's atomic writer keeps: web.yaml -> ..data/web.yaml, ..data -> ..<timestamp>.
    mkdirSync(join(dir, '..2025_01_01_00_00_00.1'));
    writeFileSync(join(dir, '..2025_01_01_00_00_00.1', 'web.yaml'), svc('web'));
    symlinkSync('..2025_01_01_00_00_00.1', join(dir, '..data'));
    symlinkSync('..data/web.yaml', join(dir, 'web.yaml'));
    // Polls far apart: only the watcher can see the update in time.
    await start({ pollIntervalMs: 60_000, watchedPollIntervalMs: 60_000 });
    expect(upserted(rec.events)).toEqual(['Service/default/web']);
    const mark = rec.events.length;
    mkdirSync(join(dir, '..2025_01_01_00_01_00.2'));
    writeFileSync(join(dir, '..2025_01_01_00_01_00.2', 'web.yaml'), svc('web', 81));
    symlinkSync('..2025_01_01_00_01_00.2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    rmSync(join(dir, '..2025_01_01_00_00_00.1'), { recursive: true });
    const events = await rec.after(mark, isUpsertOf('web'), 'the swapped volume');
    expect(events.find(isUpsertOf('web'))).toMatchObject({ object: { spec: { ports: [{ port: 81 }] } } });
  });

  it('polls often when a manifest is a symlink out of the tree, whose target no watcher sees', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'skein-files-outside-'));
    try {
      writeFileSync(join(outside, 'a.yaml'), svc('one'));
      symlinkSync(join(outside, 'a.yaml'), join(dir, 'a.yaml'));
      await start({ pollIntervalMs: 100, watchedPollIntervalMs: 60_000 });
      const mark = rec.events.length;
      writeFileSync(join(outside, 'a.yaml'), svc('one', 81));
      await rec.after(mark, isUpsertOf('one'), 'the edit behind the symlink');
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('reads deploy/examples cleanly', async () => {
    source = new FilesSource({ dir: fileURLToPath(new URL('../../../../deploy/examples', import.meta.url)) });
    await source.start(rec.sink);
    await rec.until(() => rec.events.some((e) => e.type === 'synced'), 'synced');
    expect(invalid(rec.events)).toEqual([]);
    expect(upserted(rec.events)).toEqual([
      'Service/demo/api', 'EndpointSlice/demo/api-1', 'Node//node-a', 'Node//node-b',
      'Service/demo/web', 'Pod/demo/web-a1', 'Pod/demo/web-a2', 'Pod/demo/web-b1',
    ]);
    expect(source.skipped).toBe(1); // the Namespace
  });

  it('delivers nothing after stop() and leaves no watchers behind', async () => {
    const watchersBefore = process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;
    write('a.yaml', svc('one'));
    const s = await start();
    await s.stop();
    await rec.until(() => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length === watchersBefore, 'watchers closed');
    const mark = rec.events.length;
    write('a.yaml', svc('one', 81));
    write('b.yaml', svc('two'));
    await new Promise((resolve) => setTimeout(resolve, 1500)); // longer than the poll: would have fired
    expect(rec.since(mark)).toEqual([]);
  });
});
