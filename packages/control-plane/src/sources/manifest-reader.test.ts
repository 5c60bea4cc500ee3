import { describe, expect, it } from 'vitest';
import { type FileStats, ManifestReader, MAX_FILE_BYTES, RACY_MS } from './manifest-reader.js';

const svc = (name: string, port = 80): string => `apiVersion: v1\nkind: Service\nmetadata: { name: ${name} }\nspec: { ports: [{ port: ${port} }] }\n`;

/** Stats of a file last modified at `mtimeMs` (wall clock); the rest of the stamp is fixed unless given. */
const stats = (mtimeMs: number, o: Partial<Record<'ino' | 'size' | 'ctimeNs', number>> = {}): FileStats => ({
  dev: 1n, ino: BigInt(o.ino ?? 7), size: BigInt(o.size ?? 100),
  mtimeMs: BigInt(mtimeMs), mtimeNs: BigInt(mtimeMs) * 1_000_000n, ctimeNs: BigInt(o.ctimeNs ?? mtimeMs * 1_000_000),
});

/** A reader over an in-memory "disk" and a hand-driven clock. */
function fixture() {
  const disk = new Map<string, string | NodeJS.ErrnoException>();
  const reads: string[] = [];
  const clock = { now: 1_000_000 };
  const reader = new ManifestReader({
    now: () => clock.now,
    readFile: async (file) => {
      reads.push(file);
      const content = disk.get(file);
      if (content === undefined) throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
      if (typeof content !== 'string') throw content;
      return content;
    },
  });
  const ports = async (file: string, s: FileStats, force = false): Promise<unknown> => {
    const result = await reader.read(file, file, s, force);
    return result.type === 'parsed' ? result.parsed.entries.map((e) => (e.object as unknown as { spec: { ports: Array<{ port: number }> } }).spec.ports[0]!.port) : result;
  };
  return { disk, reads, clock, reader, ports };
}

describe('ManifestReader', () => {
  it('reads and parses a file once while its stamp holds', async () => {
    const { disk, reads, clock, reader, ports } = fixture();
    disk.set('a.yaml', svc('a'));
    const old = stats(clock.now - 60_000);
    const first = await reader.read('a.yaml', 'a.yaml', old, false);
    disk.set('a.yaml', svc('a', 81)); // unseen: stat says nothing changed
    clock.now += 10_000;
    expect(await reader.read('a.yaml', 'a.yaml', old, false)).toBe(first); // the very same scan
    expect(await ports('a.yaml', old)).toEqual([80]);
    expect(reads).toEqual(['a.yaml']);
  });

  it.each([
    ['mtime', { mtimeMs: -59_000 }],
    ['ctime', { ctimeNs: 5 }],
    ['size', { size: 101 }],
    ['inode (a rename over the file)', { ino: 8 }],
  ] as const)('reads again when the %s moves', async (_what, change) => {
    const { disk, reads, clock, ports } = fixture();
    disk.set('a.yaml', svc('a'));
    const base = clock.now - 60_000;
    await ports('a.yaml', stats(base));
    disk.set('a.yaml', svc('a', 81));
    const { mtimeMs, ...rest } = change as { mtimeMs?: number; ino?: number; size?: number; ctimeNs?: number };
    expect(await ports('a.yaml', stats(mtimeMs === undefined ? base : clock.now + mtimeMs, rest))).toEqual([81]);
    expect(reads).toHaveLength(2);
  });

  it(`reads a file modified less than ${RACY_MS} ms before the read again, until a read lands later`, async () => {
    const { disk, reads, clock, ports } = fixture();
    const s = stats(clock.now - 10); // just written
    disk.set('a.yaml', svc('a'));
    expect(await ports('a.yaml', s)).toEqual([80]);
    // Written again within the same timestamp tick: the stamp cannot tell.
    disk.set('a.yaml', svc('a', 81));
    clock.now += 500;
    expect(await ports('a.yaml', s)).toEqual([81]);
    clock.now += RACY_MS;
    expect(await ports('a.yaml', s)).toEqual([81]); // read once more: this read is well after the write
    expect(await ports('a.yaml', s)).toEqual([81]);
    expect(reads).toHaveLength(3);
  });

  it('keeps the parse of text read again unchanged: the same scan object', async () => {
    const { disk, reads, clock, reader } = fixture();
    disk.set('a.yaml', svc('a'));
    const first = await reader.read('a.yaml', 'a.yaml', stats(clock.now - 60_000), false);
    const touched = await reader.read('a.yaml', 'a.yaml', stats(clock.now - 1000), false); // `touch`: the stamp moved
    expect(touched).toBe(first);
    disk.set('a.yaml', svc('a', 81));
    const edited = await reader.read('a.yaml', 'a.yaml', stats(clock.now - 1000), true);
    expect(edited).not.toBe(first);
    expect(reads).toHaveLength(3);
  });

  it('reads again when forced, and after forget()', async () => {
    const { disk, reads, clock, reader, ports } = fixture();
    const s = stats(clock.now - 60_000);
    disk.set('a.yaml', svc('a'));
    await ports('a.yaml', s);
    disk.set('a.yaml', svc('a', 81));
    expect(await ports('a.yaml', s, true)).toEqual([81]);
    reader.forget('a.yaml');
    await ports('a.yaml', s);
    expect(reads).toHaveLength(3);
  });

  it('says a file vanished, reports other read errors, and does not read a huge file', async () => {
    const { disk, reads, clock, ports } = fixture();
    const s = stats(clock.now - 60_000);
    expect(await ports('gone.yaml', s)).toEqual({ type: 'vanished', path: 'gone.yaml' });
    disk.set('locked.yaml', Object.assign(new Error('denied'), { code: 'EACCES' }));
    expect(await ports('locked.yaml', s)).toEqual({
      type: 'unreadable', path: 'locked.yaml', problem: { origin: 'files: locked.yaml', reason: 'cannot read file: EACCES' },
    });
    expect(await ports('huge.yaml', stats(clock.now - 60_000, { size: MAX_FILE_BYTES + 1 }))).toMatchObject({
      type: 'unreadable', problem: { reason: `file is larger than ${MAX_FILE_BYTES} bytes` },
    });
    expect(reads).toEqual(['gone.yaml', 'locked.yaml']);
  });
});
