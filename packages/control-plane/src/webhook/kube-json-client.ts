// A small JSON client for the API server, for the webhook's Lease, Secret, webhook
// configuration and /version. Why not client-node's generated API classes: they turn objects into
// model classes and drop fields they do not know, so a read-modify-write (a Lease renewal, a
// Secret replace) could lose fields; plain JSON keeps objects as the server sent them.
// Authentication and TLS come from the KubeConfig, as for the informers.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** An answer: the parsed body on 2xx, the status and message otherwise. 0: no answer (network). */
export type KubeResponse<T = Record<string, unknown>> =
  | { ok: true; status: number; body: T }
  | { ok: false; status: number; message: string };

export type PatchType = 'json' | 'merge';

/** The calls the webhook makes; tests may substitute it. */
export interface KubeJsonClient {
  get<T = Record<string, unknown>>(path: string): Promise<KubeResponse<T>>;
  create<T = Record<string, unknown>>(path: string, body: unknown): Promise<KubeResponse<T>>;
  replace<T = Record<string, unknown>>(path: string, body: unknown): Promise<KubeResponse<T>>;
  patch<T = Record<string, unknown>>(path: string, type: PatchType, body: unknown): Promise<KubeResponse<T>>;
}

const CONTENT_TYPES: Record<PatchType, string> = { json: 'application/json-patch+json', merge: 'application/merge-patch+json' };

/** The `message` of a meta/v1 Status body, else the start of the body. */
function messageOf(text: string): string {
  try {
    const body = JSON.parse(text) as { kind?: unknown; message?: unknown };
    if (body.kind === 'Status' && typeof body.message === 'string') return body.message;
  } catch { /* not JSON */ }
  return text.slice(0, 200);
}

export function kubeJsonClient(config: KubeConfig, timeoutMs = 10_000): KubeJsonClient {
  const send = async <T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<KubeResponse<T>> => {
    const cluster = config.getCurrentCluster();
    if (!cluster) return { ok: false, status: 0, message: 'the kubeconfig has no current cluster' };
    const url = new URL(cluster.server.replace(/\/$/, '') + path);
    const options: RequestOptions = {};
    await config.applyToHTTPSOptions(options);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { ...(options.headers as Record<string, string>), accept: 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = contentType;
      headers['content-length'] = Buffer.byteLength(payload);
    }
    return new Promise((resolve) => {
      const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, { ...options, method, headers, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => resolve({ ok: false, status: 0, message: `${method} ${url.pathname}: ${err.message}` }));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status > 299) {
            resolve({ ok: false, status, message: `${method} ${url.pathname}: ${status} ${messageOf(text)}` });
            return;
          }
          try {
            resolve({ ok: true, status, body: JSON.parse(text) as T });
          } catch {
            resolve({ ok: false, status, message: `${method} ${url.pathname}: the answer is not JSON` });
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
      req.on('error', (err) => resolve({ ok: false, status: 0, message: `${method} ${url.pathname}: ${err.message}` }));
      req.end(payload);
    });
  };
  return {
    get: (path) => send('GET', path),
    create: (path, body) => send('POST', path, body),
    replace: (path, body) => send('PUT', path, body),
    patch: (path, type, body) => send('PATCH', path, body, CONTENT_TYPES[type]),
  };
}
