// LIST for the informers, as plain JSON and in chunks (limit/continue); and the one JSON
// request helper the control plane's other API calls (TokenReviews) share.
// Why not the generated CoreV1Api: it deserializes into model classes (timestamps become Dates,
// fields the client's models do not know are dropped), while watch events arrive as plain JSON.
// Listing raw keeps both paths identical and keeps fields newer than client-node's models.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';

/** A non-2xx answer from the API server. `statusCode` is what client-node's ListWatch reads. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** How a list is fetched. */
export interface ListOptions {
  /** Objects per request (the `limit` parameter); 0 lists in one request. */
  pageSize: number;
  /** Per-request timeout. */
  timeoutMs: number;
  /** Aborts the list (the source is stopping). */
  signal: AbortSignal;
}

/**
 * Lists `path` (e.g. `/api/v1/services`) completely, following continue tokens. The result's
 * resourceVersion is the first page's: the API server serves every page from that snapshot.
 */
export async function listAll(
  config: KubeConfig,
  path: string,
  options: ListOptions,
): Promise<KubernetesListObject<KubernetesObject>> {
  const items: KubernetesObject[] = [];
  let resourceVersion: string | undefined;
  let continueToken: string | undefined;
  do {
    const query = new URLSearchParams();
    if (options.pageSize > 0) query.set('limit', String(options.pageSize));
    if (continueToken) query.set('continue', continueToken);
    const page = (await requestJson(config, 'GET', `${path}?${query}`, options)) as ListPage | null;
    if (page === null || typeof page !== 'object') throw new Error(`${path}: list answer is not an object`);
    resourceVersion ??= page.metadata?.resourceVersion;
    if (Array.isArray(page.items)) items.push(...page.items);
    continueToken = page.metadata?.continue || undefined;
  } while (continueToken);
  return { metadata: { resourceVersion }, items };
}

/** A list answer as JSON (client-node's V1ListMeta names `continue` `_continue`). */
interface ListPage {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubernetesObject[];
}

/** One request's timeout, cancellation and JSON body. */
export interface JsonRequestOptions {
  /** Socket idle timeout of the request. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Sent as JSON. */
  body?: unknown;
}

/**
 * Sends `method path` with the kubeconfig's credentials and returns the parsed JSON answer.
 * Rejects with a {@link KubeApiError} for a non-2xx answer, with an Error on timeout or I/O.
 */
export async function requestJson(config: KubeConfig, method: string, path: string, options: JsonRequestOptions): Promise<unknown> {
  const cluster = config.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server + path);
  const requestOptions: HttpsRequestOptions = {};
  // Same authentication, TLS and agent as client-node's Watch (token files, exec plugins...).
  await config.applyToHTTPSOptions(requestOptions);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        ...requestOptions,
        method,
        headers: {
          ...requestOptions.headers, accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
        },
        signal: options.signal,
        timeout: options.timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            reject(new KubeApiError(status, `${method} ${url.pathname}: ${status} ${statusMessage(text) ?? res.statusMessage ?? ''}`.trim()));
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new Error(`${method} ${url.pathname}: answer is not JSON`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: no answer in ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The `message` of a meta/v1 Status body, if the body is one. */
function statusMessage(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { kind?: unknown; message?: unknown };
    return body.kind === 'Status' && typeof body.message === 'string' ? body.message : undefined;
  } catch {
    return undefined;
  }
}
