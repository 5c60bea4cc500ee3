// Turns the text of one manifest file into the Kubernetes objects Skein reads, plus the
// problems found on the way. Used by FilesSource; does no I/O so tests feed it strings.
// Follows what `kubectl apply -f` accepts: multi-document YAML, `kind: List`, typed lists
// (`ServiceList`) whose items omit kind/apiVersion, and the "default" namespace.
import { LineCounter, parseAllDocuments } from 'yaml';
import { type KubeKind, type KubeObject, type ObjectRef, describeRef, refKey } from '../model/kube-objects.js';

/** One recognised object from a manifest file. */
export interface ManifestEntry {
  readonly ref: ObjectRef;
  /** `refKey(ref)`, the identity used to detect duplicates and changes. */
  readonly key: string;
  readonly object: KubeObject;
  /** `files: <path> doc <n>` (plus ` item <i>` inside a List), for error messages. */
  readonly origin: string;
  /** Canonical JSON of `object` (sorted keys): equal strings mean an unchanged object. */
  readonly canonical: string;
}

/** Input that could not become an object; shaped like the `invalid` SourceEvent. */
export interface ManifestProblem {
  readonly origin: string;
  readonly ref?: ObjectRef;
  readonly reason: string;
}

/** Everything one file contributed. */
export interface ParsedManifest {
  /** Recognised objects in document order; duplicates are kept here and resolved across files. */
  readonly entries: readonly ManifestEntry[];
  readonly problems: readonly ManifestProblem[];
  /** Documents (or List items) of kinds Skein does not read, such as Deployment or ConfigMap. */
  readonly skipped: number;
  /**
   * False when some document could not be read (syntax error, not an object, no name): the
   * file may still define objects we cannot see, so the caller must not treat their absence
   * as a deletion.
   */
  readonly complete: boolean;
}

/** The apiVersion Skein reads for each kind (`kubectl explain` versions as of Kubernetes 1.33). */
export const MANIFEST_API_VERSIONS: Readonly<Record<KubeKind, string>> = {
  Service: 'v1',
  Endpoints: 'v1',
  Node: 'v1',
  Pod: 'v1',
  EndpointSlice: 'discovery.k8s.io/v1',
};

const CLUSTER_SCOPED: ReadonlySet<KubeKind> = new Set<KubeKind>(['Node']);

type Json = Record<string, unknown>;

/**
 * Parses one manifest file. `display` is the path shown in origins; `format` is 'json' for
 * `*.json` files (parsed strictly, as one document) and 'yaml' otherwise. Never throws.
 */
export function parseManifest(text: string, display: string, format: 'yaml' | 'json'): ParsedManifest {
  const out = new Collector();
  // A UTF-8 byte-order mark is legal at the start of a file but not inside JSON.
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (format === 'json') {
    const origin = `files: ${display} doc 1`;
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (err) {
      out.problem(origin, undefined, `JSON syntax error: ${err instanceof Error ? err.message : String(err)}`);
      return out.result();
    }
    out.document(value, origin);
    return out.result();
  }
  const lines = new LineCounter();
  const docs = parseAllDocuments(source, { lineCounter: lines, prettyErrors: false });
  docs.forEach((doc, index) => {
    const origin = `files: ${display} doc ${index + 1}`;
    let value: unknown;
    try {
      // toJS throws on alias abuse (billion laughs) or unresolvable tags.
      value = doc.toJS();
    } catch (err) {
      if (doc.errors.length === 0) {
        out.problem(origin, undefined, `YAML error: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
    }
    const first = doc.errors[0];
    if (first !== undefined) {
      const at = lines.linePos(first.pos[0]);
      const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more)` : '';
      // The broken document's kind and name are often still readable: name them if so.
      out.problem(origin, guessRef(value), `YAML syntax error at line ${at.line}, column ${at.col}: ${first.message}${more}`);
      return;
    }
    out.document(value, origin);
  });
  return out.result();
}

/** JSON with object keys sorted, so that equal objects give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    // No prototype: a "__proto__" key from the input stays an ordinary key.
    const sorted: Json = Object.create(null) as Json;
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Json)[k];
    return sorted;
  });
}

class Collector {
  private readonly entries: ManifestEntry[] = [];
  private readonly problems: ManifestProblem[] = [];
  private skipped = 0;
  private complete = true;

  problem(origin: string, ref: ObjectRef | undefined, reason: string): void {
    this.problems.push(ref ? { origin, ref, reason } : { origin, reason });
    this.complete = false;
  }

  result(): ParsedManifest {
    return { entries: this.entries, problems: this.problems, skipped: this.skipped, complete: this.complete };
  }

  /** One document or List item; `defaults` fills kind/apiVersion for typed-list items. */
  document(value: unknown, origin: string, defaults?: { kind: string; apiVersion: string }): void {
    // An empty document (only comments, or a trailing `---`) is no object at all, as in kubectl.
    if (value === null || value === undefined) return;
    if (!isMapping(value)) {
      this.problem(origin, undefined, `document is not a mapping (found ${Array.isArray(value) ? 'a sequence' : typeof value})`);
      return;
    }
    const obj: Json = defaults ? { ...defaults, ...value } : value;
    const kind = obj.kind;
    if (typeof kind !== 'string' || kind === '') {
      this.problem(origin, undefined, kind === undefined ? 'document has no kind' : 'kind must be a non-empty string');
      return;
    }
    const apiVersion = obj.apiVersion;
    if (apiVersion !== undefined && typeof apiVersion !== 'string') {
      this.problem(origin, undefined, `${kind} has an apiVersion that is not a string`);
      return;
    }
    if (kind === 'List' || kind.endsWith('List')) {
      this.list(obj, kind, apiVersion, origin);
      return;
    }
    if (!isKubeKind(kind) || (apiVersion !== undefined && groupOf(apiVersion) !== groupOf(MANIFEST_API_VERSIONS[kind]))) {
      // Another kind, or a same-named kind of another API group (a Knative Service): not ours.
      this.skipped++;
      return;
    }
    this.object(obj, kind, apiVersion, origin);
  }

  private list(obj: Json, kind: string, apiVersion: string | undefined, origin: string): void {
    const itemKind = kind === 'List' ? undefined : kind.slice(0, -'List'.length);
    if (itemKind !== undefined) {
      // A typed list is ours only if its items are (same rule as for single objects).
      if (!isKubeKind(itemKind)) {
        this.skipped++;
        return;
      }
      const expected = MANIFEST_API_VERSIONS[itemKind];
      if (apiVersion !== undefined && groupOf(apiVersion) !== groupOf(expected)) {
        this.skipped++;
        return;
      }
      if (apiVersion !== expected) {
        this.problem(origin, undefined, `${kind} has ${apiVersion === undefined ? 'no apiVersion' : `apiVersion "${apiVersion}"`}, expected "${expected}"`);
        return;
      }
    }
    const items = obj.items ?? [];
    if (!Array.isArray(items)) {
      this.problem(origin, undefined, `${kind} has items that are not a sequence`);
      return;
    }
    // API list responses omit kind/apiVersion on items; `kind: List` items must carry their own.
    const defaults = itemKind !== undefined && apiVersion !== undefined ? { kind: itemKind, apiVersion } : undefined;
    items.forEach((item: unknown, i) => this.document(item, `${origin} item ${i + 1}`, defaults));
  }

  private object(obj: Json, kind: KubeKind, apiVersion: string | undefined, origin: string): void {
    const expected = MANIFEST_API_VERSIONS[kind];
    const metadata = obj.metadata;
    const name = isMapping(metadata) && typeof metadata.name === 'string' && metadata.name !== '' ? metadata.name : undefined;
    const namespaced = !CLUSTER_SCOPED.has(kind);
    const rawNamespace = isMapping(metadata) ? metadata.namespace : undefined;
    const namespace = namespaced ? (typeof rawNamespace === 'string' && rawNamespace !== '' ? rawNamespace : 'default') : '';
    const ref: ObjectRef | undefined = name === undefined ? undefined : { kind, namespace, name };
    if (apiVersion === undefined) {
      this.problem(origin, ref, `${ref ? describeRef(ref) : kind} has no apiVersion (expected "${expected}")`);
      return;
    }
    if (apiVersion !== expected) {
      this.problem(origin, ref, `${ref ? describeRef(ref) : kind} has apiVersion "${apiVersion}", expected "${expected}"`);
      return;
    }
    if (!isMapping(metadata) || ref === undefined) {
      const generated = isMapping(metadata) && metadata.generateName !== undefined;
      this.problem(origin, undefined, `${kind} has no metadata.name${generated ? ' (generateName needs an API server)' : ''}`);
      return;
    }
    if (namespaced && rawNamespace !== undefined && typeof rawNamespace !== 'string') {
      this.problem(origin, undefined, `${kind} "${ref.name}" has a metadata.namespace that is not a string`);
      return;
    }
    // kubectl fills the namespace of namespaced kinds; the API server drops it on cluster-scoped ones.
    const meta: Json = { ...metadata };
    if (namespaced) meta.namespace = namespace;
    else delete meta.namespace;
    const object = { ...obj, metadata: meta } as KubeObject;
    this.entries.push({ ref, key: refKey(ref), object, origin, canonical: canonicalJson(object) });
  }
}

function isMapping(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isKubeKind(kind: string): kind is KubeKind {
  return Object.hasOwn(MANIFEST_API_VERSIONS, kind);
}

/** "" for the core group ("v1"), else the part before the slash. */
function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** Best-effort identity of a document that failed to parse, for the `invalid` event's ref. */
function guessRef(value: unknown): ObjectRef | undefined {
  if (!isMapping(value) || typeof value.kind !== 'string' || !isKubeKind(value.kind)) return undefined;
  const metadata = value.metadata;
  if (!isMapping(metadata) || typeof metadata.name !== 'string' || metadata.name === '') return undefined;
  const namespace = CLUSTER_SCOPED.has(value.kind) ? '' : typeof metadata.namespace === 'string' && metadata.namespace ? metadata.namespace : 'default';
  return { kind: value.kind, namespace, name: metadata.name };
}
