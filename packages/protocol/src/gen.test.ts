import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('generated code', () => {
  it('is up to date with proto/skein/v1 (run `pnpm gen` after editing a .proto)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'skein-gen-'));
    try {
      execFileSync('node', [join(__dirname, '..', 'scripts', 'gen.mjs'), dir]);
      for (const file of ['skein.js', 'skein.d.ts']) {
        expect(readFileSync(join(dir, file), 'utf8')).toBe(readFileSync(join(__dirname, 'gen', file), 'utf8'));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
