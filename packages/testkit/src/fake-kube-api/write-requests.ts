// Writes through the fake API: POST (create), PUT (update, with optimistic concurrency on
// metadata.resourceVersion), PATCH (JSON, merge, strategic-merge as merge) and DELETE, answered
// with the status codes and Status reasons of the real API server (201, 404, 409, 422).
import type { ObjectStore } from './object-store.js';
import { applyJsonPatch, applyMergePatch, PatchError } from './object-patch.js';
import type { ResourcePath } from './resources.js';
import type { StoredObject } from './selectors.js';
import { kubeStatus } from './status.js';

/** The answer to a write: HTTP status and JSON body. */
export interface WriteResult {
  code: number;
  body: unknown;
}

const JSON_PATCH = 'application/json-patch+json';
const MERGE_PATCHES = ['application/merge-patch+json', 'application/strategic-merge-patch+json'];

function metaOf(object: StoredObject): { name?: unknown; namespace?: unknown; resourceVersion?: unknown } {
  return (object.metadata ?? {}) as { name?: unknown; namespace?: unknown; resourceVersion?: unknown };
}

function parseBody(text: string): StoredObject | WriteResult {
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body === 'object' && body !== null) return body as StoredObject;
  } catch { /* answered below */ }
  return { code: 400, body: kubeStatus(400, 'the request body is not a JSON object') };
}

const isResult = (value: StoredObject | WriteResult): value is WriteResult => 'code' in value && typeof value.code === 'number' && 'body' in value;

/** Applies one write request to `store`; `method` is POST, PUT, PATCH or DELETE. */
export function handleWrite(store: ObjectStore, method: string, target: ResourcePath, text: string, contentType: string): WriteResult {
  const { resource } = target;
  if (target.type === 'collection') {
    if (method !== 'POST') return { code: 405, body: kubeStatus(405, `${method} on a collection is not supported`) };
    // As the real server: a namespaced kind is created under /namespaces/{ns}/ only.
    if (resource.namespaced && target.namespace === undefined) {
      return { code: 405, body: kubeStatus(405, `create ${resource.plural}: the path names no namespace`) };
    }
    const parsed = parseBody(text);
    if (isResult(parsed)) return parsed;
    const meta = metaOf(parsed);
    if (parsed.kind !== undefined && parsed.kind !== resource.kind) {
      return { code: 400, body: kubeStatus(400, `the body is a ${String(parsed.kind)}, the path names ${resource.plural}`) };
    }
    if (typeof meta.name !== 'string' || meta.name === '') return { code: 422, body: kubeStatus(422, `${resource.kind}: metadata.name is required`, 'Invalid') };
    if (meta.namespace !== undefined && meta.namespace !== target.namespace) {
      return { code: 400, body: kubeStatus(400, 'the namespace of the provided object does not match the namespace sent on the request') };
    }
    if (store.get(resource, target.namespace, meta.name)) {
      return { code: 409, body: kubeStatus(409, `${resource.plural} "${meta.name}" already exists`, 'AlreadyExists') };
    }
    const object = { ...parsed, kind: resource.kind, metadata: { ...parsed.metadata, namespace: target.namespace } };
    delete (object.metadata as { resourceVersion?: unknown }).resourceVersion;
    return { code: 201, body: store.create(object) };
  }

  const existing = store.get(resource, target.namespace, target.name);
  if (!existing) return { code: 404, body: kubeStatus(404, `${resource.plural} "${target.name}" not found`) };
  const withIdentity = (object: StoredObject): StoredObject => ({
    ...object, kind: resource.kind, metadata: { ...object.metadata, name: target.name, namespace: target.namespace },
  });
  switch (method) {
    case 'PUT': {
      const parsed = parseBody(text);
      if (isResult(parsed)) return parsed;
      const meta = metaOf(parsed);
      if (meta.name !== undefined && meta.name !== target.name) {
        return { code: 400, body: kubeStatus(400, 'the name of the object does not match the name on the URL') };
      }
      // Optimistic concurrency, as etcd does it: an update based on an old read is refused.
      if (meta.resourceVersion !== undefined && meta.resourceVersion !== metaOf(existing).resourceVersion) {
        return {
          code: 409,
          body: kubeStatus(409, `Operation cannot be fulfilled on ${resource.plural} "${target.name}": the object has been modified; please apply your changes to the latest version and try again`),
        };
      }
      return { code: 200, body: store.update(withIdentity(parsed)) };
    }
    case 'PATCH': {
      let patch: unknown;
      try {
        patch = JSON.parse(text);
      } catch {
        return { code: 400, body: kubeStatus(400, 'the patch is not JSON') };
      }
      const type = contentType.split(';')[0]!.trim().toLowerCase();
      let patched: unknown;
      try {
        if (type === JSON_PATCH) patched = applyJsonPatch(existing, patch);
        else if (MERGE_PATCHES.includes(type)) patched = applyMergePatch(existing, patch);
        else return { code: 415, body: kubeStatus(415, `the patch content type "${contentType}" is not supported`, 'UnsupportedMediaType') };
      } catch (err) {
        if (err instanceof PatchError) return { code: 422, body: kubeStatus(422, `${resource.plural} "${target.name}": ${err.message}`, 'Invalid') };
        throw err;
      }
      if (typeof patched !== 'object' || patched === null) return { code: 422, body: kubeStatus(422, 'the patch does not leave an object', 'Invalid') };
      return { code: 200, body: store.update(withIdentity(patched as StoredObject)) };
    }
    case 'DELETE':
      return { code: 200, body: store.delete(resource.kind, target.namespace, target.name) };
    default:
      return { code: 405, body: kubeStatus(405, `${method} is not supported by the fake API`) };
  }
}
