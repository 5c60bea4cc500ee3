import { describe, expect, it } from 'vitest';
import { encodeResource, TYPE_ENDPOINT_GROUP, type EncodedResource } from '@skein/protocol';
import { HeldResources } from './held-resources.js';

const resource = (name: string, address: string): EncodedResource => {
  const [namespace, service] = name.split('/') as [string, string];
  return encodeResource(TYPE_ENDPOINT_GROUP, name, { name, namespace, service, endpoints: [{ address }] });
};
const view = (...resources: EncodedResource[]) => new Map(resources.map((r) => [r.name, r]));
const names = (list: readonly EncodedResource[]) => list.map((r) => r.name);

const a1 = resource('ns/a', '10.0.0.1');
const a2 = resource('ns/a', '10.0.0.2');
const b1 = resource('ns/b', '10.0.0.1');
const c1 = resource('ns/c', '10.0.0.1');

describe('HeldResources', () => {
  it('starts empty: everything in a view is to be sent', () => {
    const held = new HeldResources();
    expect(held.size).toBe(0);
    expect(names(held.diff(view(a1, b1)).changed)).toEqual(['ns/a', 'ns/b']);
    expect(held.diff(view(a1, b1)).removed).toEqual([]);
  });

  it('holds a view by reference: nothing is copied, nothing differs', () => {
    const v = view(a1, b1);
    const held = new HeldResources();
    held.holdExactly(v);
    expect(held.holdsExactly(v)).toBe(true);
    expect(held.size).toBe(2);
    expect(held.version('ns/a')).toBe(a1.version);
    expect(held.diff(v)).toEqual({ changed: [], removed: [] });
  });

  it('diffs by version: changed and new resources, removed names', () => {
    const held = new HeldResources();
    held.holdExactly(view(a1, b1));
    const diff = held.diff(view(a2, c1));
    expect(names(diff.changed)).toEqual(['ns/a', 'ns/c']);
    expect(diff.changed[0]).toBe(a2);
    expect(diff.removed).toEqual(['ns/b']);
    // Equal content in another map (another snapshot) is no difference.
    expect(held.diff(view(resource('ns/a', '10.0.0.1'), b1))).toEqual({ changed: [], removed: [] });
  });

  it('computes the step between two shared views once for every subscriber making it', () => {
    const from = view(a1, b1);
    const to = view(a2, b1);
    const x = new HeldResources();
    const y = new HeldResources();
    x.holdExactly(from);
    y.holdExactly(from);
    expect(x.diff(to)).toBe(y.diff(to));
    expect(new HeldResources().diff(to)).toBe(new HeldResources().diff(to));
  });

  it('copies the shared view into its own map before a change of its own, leaving the view intact', () => {
    const v = view(a1, b1);
    const held = new HeldResources();
    held.holdExactly(v);
    expect(held.delete('ns/b')).toBe(true);
    expect(held.delete('ns/zzz')).toBe(false);
    held.set('ns/c', 'v-client');
    expect(held.holdsExactly(v)).toBe(false);
    expect(v.size).toBe(2);
    expect(held.names()).toEqual(['ns/a', 'ns/c']);
    const diff = held.diff(view(a1, c1));
    expect(names(diff.changed)).toEqual(['ns/c']);
    expect(diff.removed).toEqual([]);
    expect(held.diff(view(a1)).removed).toEqual(['ns/c']);
  });

  it('seeds versions the client brought, then shares again once sent a view', () => {
    const held = new HeldResources();
    held.set('ns/a', a1.version);
    held.set('ns/gone', 'old');
    const v = view(a1, b1);
    expect(held.diff(v)).toEqual({ changed: [b1], removed: ['ns/gone'] });
    held.holdExactly(v);
    expect(held.holdsExactly(v)).toBe(true);
    expect(held.has('ns/gone')).toBe(false);
  });
});
