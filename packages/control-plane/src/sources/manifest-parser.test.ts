import { describe, expect, it } from 'vitest';
import { canonicalJson, parseManifest } from './manifest-parser.js';

const names = (text: string, format: 'yaml' | 'json' = 'yaml'): string[] =>
  parseManifest(text, 'm.yaml', format).entries.map((e) => e.key);
const reasons = (text: string, format: 'yaml' | 'json' = 'yaml'): string[] =>
  parseManifest(text, 'm.yaml', format).problems.map((p) => `${p.origin}: ${p.reason}`);

describe('parseManifest', () => {
  it('fills kind and apiVersion of typed-list items, as API list responses omit them', () => {
    const text = 'apiVersion: v1\nkind: ServiceList\nitems:\n- metadata: { name: a, namespace: demo }\n- metadata: { name: b }\n';
    const parsed = parseManifest(text, 'm.yaml', 'yaml');
    expect(parsed.entries.map((e) => [e.key, e.origin])).toEqual([
      ['Service/demo/a', 'files: m.yaml doc 1 item 1'], ['Service/default/b', 'files: m.yaml doc 1 item 2'],
    ]);
    expect(parsed.entries[0]!.object).toMatchObject({ kind: 'Service', apiVersion: 'v1' });
    expect(parsed.complete).toBe(true);
  });

  it('skips other kinds, including same-named kinds of other API groups, and lists of them', () => {
    const text = [
      'apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: { name: k }',
      'apiVersion: apps/v1\nkind: DeploymentList\nitems: []',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }',
      '# only a comment',
      '',
    ].join('\n---\n');
    const parsed = parseManifest(text, 'm.yaml', 'yaml');
    expect(parsed).toMatchObject({ entries: [], problems: [], skipped: 3, complete: true });
  });

  it('rejects a recognised kind with a missing or wrong apiVersion', () => {
    expect(reasons([
      'kind: Service\nmetadata: { name: a }',
      'apiVersion: v2\nkind: Service\nmetadata: { name: b }',
      'apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: { name: c }',
      'apiVersion: v1\nkind: Pod\nmetadata: { generateName: web- }',
      'metadata: { name: d }',
    ].join('\n---\n'))).toEqual([
      'files: m.yaml doc 1: Service "default/a" has no apiVersion (expected "v1")',
      'files: m.yaml doc 2: Service "default/b" has apiVersion "v2", expected "v1"',
      'files: m.yaml doc 3: EndpointSlice "default/c" has apiVersion "discovery.k8s.io/v1beta1", expected "discovery.k8s.io/v1"',
      'files: m.yaml doc 4: Pod has no metadata.name (generateName needs an API server)',
      'files: m.yaml doc 5: document has no kind',
    ]);
  });

  it('gives Nodes no namespace and namespaced kinds "default"', () => {
    const parsed = parseManifest('apiVersion: v1\nkind: Node\nmetadata: { name: n, namespace: x }\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: s }\n', 'm.yaml', 'yaml');
    expect(parsed.entries.map((e) => e.key)).toEqual(['Node//n', 'EndpointSlice/default/s']);
    expect(parsed.entries[0]!.object.metadata).toEqual({ name: 'n' });
    expect(parsed.entries[1]!.object.metadata).toEqual({ name: 's', namespace: 'default' });
  });

  it('reads JSON strictly, with a byte-order mark, and reports its syntax errors', () => {
    expect(names('\ufeff{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}', 'json')).toEqual(['Pod/default/p']);
    expect(reasons('{"kind": "Pod",}', 'json')[0]).toMatch(/^files: m\.yaml doc 1: JSON syntax error: /);
    expect(parseManifest('{', 'm.yaml', 'json').complete).toBe(false);
  });

  it('marks a file with any unreadable document incomplete, keeping the readable ones', () => {
    const parsed = parseManifest('apiVersion: v1\nkind: Pod\nmetadata: { name: p }\n---\na: b: c\n', 'm.yaml', 'yaml');
    expect(parsed.entries.map((e) => e.key)).toEqual(['Pod/default/p']);
    expect(parsed.problems[0]!.reason).toMatch(/^YAML syntax error at line 5, column \d+: /);
    expect(parsed.complete).toBe(false);
  });

  it('survives alias bombs', () => {
    const bomb = 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n';
    expect(reasons(bomb)[0]).toMatch(/^files: m\.yaml doc 1: YAML error: /);
  });
});

describe('canonicalJson', () => {
  it('is independent of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } })).toBe(canonicalJson({ a: { c: null, d: [2, { e: 0, f: 1 }] }, b: 1 }));
  });
});
