import { describe, expect, it } from 'vitest';
import { parseManifest } from './manifest-parser.js';
import { type FileScan, ManifestState } from './manifest-state.js';

const svc = (name: string, port = 80): string => `apiVersion: v1\nkind: Service\nmetadata: { name: ${name} }\nspec: { ports: [{ port: ${port} }] }\n`;
const file = (path: string, text: string): FileScan => ({ type: 'parsed', path, parsed: parseManifest(text, path, 'yaml') });

describe('ManifestState', () => {
  it('keeps the objects of an unreadable file and reports the problem once', () => {
    const state = new ManifestState();
    state.apply([file('a.yaml', svc('one')), file('b.yaml', svc('two'))]);
    const unreadable: FileScan = { type: 'unreadable', path: 'a.yaml', problem: { origin: 'files: a.yaml', reason: 'cannot read file: EACCES' } };
    expect(state.apply([unreadable, file('b.yaml', svc('two', 81))])).toEqual([
      { type: 'invalid', origin: 'files: a.yaml', reason: 'cannot read file: EACCES' },
      expect.objectContaining({ type: 'upsert', origin: 'files: b.yaml doc 1' }),
    ]);
    expect(state.apply([unreadable, file('b.yaml', svc('two', 81))])).toEqual([]);
    expect([...state.current.keys()]).toEqual(['Service/default/one', 'Service/default/two']);
    expect(state.apply([file('b.yaml', svc('two', 81))])).toEqual([
      { type: 'delete', ref: { kind: 'Service', namespace: 'default', name: 'one' }, origin: 'files: a.yaml doc 1' },
    ]);
  });

  it('lets the first file in path order win a duplicate, whatever order the files came in', () => {
    const state = new ManifestState();
    state.apply([file('b.yaml', svc('one', 2))]);
    const events = state.apply([file('b.yaml', svc('one', 2)), file('a.yaml', svc('one', 1))]);
    expect(events.map((e) => e.type)).toEqual(['invalid', 'upsert']);
    expect(events[1]).toMatchObject({ origin: 'files: a.yaml doc 1', object: { spec: { ports: [{ port: 1 }] } } });
    expect(events[0]).toMatchObject({ origin: 'files: b.yaml doc 1', reason: expect.stringContaining('already defined at files: a.yaml doc 1') });
  });

  it('does not treat a moved definition as a change', () => {
    const state = new ManifestState();
    state.apply([file('a.yaml', `${svc('one')}---\n${svc('two')}`)]);
    expect(state.apply([file('a.yaml', svc('two')), file('b.yaml', svc('one'))])).toEqual([]);
  });
});
