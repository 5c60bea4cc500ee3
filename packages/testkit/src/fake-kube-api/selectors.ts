// Label and field selectors, as the API server parses them from `labelSelector=` and
// `fieldSelector=` query parameters (k8s.io/apimachinery/pkg/labels and pkg/fields).

/** A parsed selector: true when the object matches. */
export type Selector = (object: StoredObject) => boolean;

/** The shape selectors read: metadata.labels and any dotted field path. */
export interface StoredObject {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** Thrown for a selector the API server would reject with 400 BadRequest. */
export class SelectorError extends Error {
  override readonly name = 'SelectorError';
}

const MATCH_ALL: Selector = () => true;

/** Splits on commas that are not inside a `(...)` value set. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

function parseLabelTerm(term: string): Selector {
  const set = /^([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (set) {
    const [, key, op, list] = set as unknown as [string, string, string, string];
    const values = new Set(list.split(',').map((v) => v.trim()));
    return op === 'in'
      ? (o) => values.has(o.metadata?.labels?.[key] ?? '\u0000')
      : (o) => !values.has(o.metadata?.labels?.[key] ?? '\u0000');
  }
  const cmp = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(term);
  if (cmp) {
    const [, key, op, value] = cmp as unknown as [string, string, string, string];
    return op === '!=' ? (o) => o.metadata?.labels?.[key] !== value : (o) => o.metadata?.labels?.[key] === value;
  }
  const exists = /^(!?)([^\s!=(),]+)$/.exec(term);
  if (exists) {
    const [, not, key] = exists as unknown as [string, string, string];
    return not ? (o) => o.metadata?.labels?.[key] === undefined : (o) => o.metadata?.labels?.[key] !== undefined;
  }
  throw new SelectorError(`unable to parse requirement: "${term}"`);
}

/**
 * Parses a label selector: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, joined
 * by commas (AND). Empty or absent selects everything.
 */
export function parseLabelSelector(text: string | undefined): Selector {
  if (!text) return MATCH_ALL;
  const terms = splitTerms(text).map(parseLabelTerm);
  return (o) => terms.every((t) => t(o));
}

function fieldValue(object: StoredObject, path: string): string {
  let value: unknown = object;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return '';
    value = (value as Record<string, unknown>)[part];
  }
  return value === undefined || value === null ? '' : String(value);
}

/**
 * Parses a field selector: `path=value`, `path==value`, `path!=value` joined by commas, where
 * path is any dotted field (`metadata.name`, `metadata.namespace`, `spec.nodeName`...). A missing
 * field compares as "" like the API server's field sets.
 */
export function parseFieldSelector(text: string | undefined): Selector {
  if (!text) return MATCH_ALL;
  const terms = splitTerms(text).map((term): Selector => {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new SelectorError(`invalid field selector: "${term}"`);
    const [, path, op, value] = m as unknown as [string, string, string, string];
    return op === '!=' ? (o) => fieldValue(o, path) !== value : (o) => fieldValue(o, path) === value;
  });
  return (o) => terms.every((t) => t(o));
}
