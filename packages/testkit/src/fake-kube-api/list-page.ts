// LIST: one page of a collection, with label/field selectors and limit/continue chunking.
// A continue token remembers the list's resourceVersion and the last key served; once history
// is compacted past that resourceVersion the token expires with 410, as in the API server.
import type { ObjectStore } from './object-store.js';
import { apiVersionOf, type ResourceType } from './resources.js';
import { parseFieldSelector, parseLabelSelector, SelectorError, type StoredObject } from './selectors.js';
import { kubeStatus } from './status.js';

/** An HTTP answer: status code and JSON body. */
export interface JsonReply {
  code: number;
  body: unknown;
}

interface ContinueToken {
  rv: number;
  after: string;
}

function keyOf(object: StoredObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

function encodeToken(token: ContinueToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(text: string): ContinueToken | undefined {
  try {
    const token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<ContinueToken>;
    return typeof token.rv === 'number' && typeof token.after === 'string' ? { rv: token.rv, after: token.after } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Answers a LIST request for `resource` (in `namespace` if given) from the query parameters
 * `labelSelector`, `fieldSelector`, `limit` and `continue`.
 */
export function listPage(
  store: ObjectStore,
  resource: ResourceType,
  namespace: string | undefined,
  query: URLSearchParams,
): JsonReply {
  let labels;
  let fields;
  try {
    labels = parseLabelSelector(query.get('labelSelector') ?? undefined);
    fields = parseFieldSelector(query.get('fieldSelector') ?? undefined);
  } catch (err) {
    if (err instanceof SelectorError) return { code: 400, body: kubeStatus(400, err.message) };
    throw err;
  }
  const limit = Number(query.get('limit') ?? '0');
  if (!Number.isInteger(limit) || limit < 0) return { code: 400, body: kubeStatus(400, `invalid limit "${query.get('limit')}"`) };

  let rv = store.resourceVersion;
  let after: string | undefined;
  const continueText = query.get('continue');
  if (continueText) {
    const token = decodeToken(continueText);
    if (!token) return { code: 400, body: kubeStatus(400, 'continue key is not valid') };
    if (token.rv < store.oldestResumable) {
      const message = 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.';
      return { code: 410, body: kubeStatus(410, message) };
    }
    rv = token.rv;
    after = token.after;
  }

  let items = store.list(resource, namespace).filter((o) => labels(o) && fields(o));
  if (after !== undefined) items = items.filter((o) => keyOf(o) > after);
  const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
  if (limit > 0 && items.length > limit) {
    metadata.continue = encodeToken({ rv, after: keyOf(items[limit - 1]!) });
    metadata.remainingItemCount = items.length - limit;
    items = items.slice(0, limit);
  }
  return { code: 200, body: { kind: resource.listKind, apiVersion: apiVersionOf(resource), metadata, items } };
}
