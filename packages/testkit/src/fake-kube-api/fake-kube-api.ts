// A fake Kubernetes API server on node:http that speaks the real list/watch protocol, so real
// clients (client-node informers) run against it unmodified. Tests drive it through create /
// update / delete and its fault switches: compactHistory, failNext, dropWatches, stop/restart.
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { discoveryDocument } from './api-discovery.js';
import { renderKubeconfig } from './kubeconfig.js';
import { listPage } from './list-page.js';
import { ObjectStore } from './object-store.js';
import { parseResourcePath, resourceByKind, type FakeKind, type ResourcePath, type ResourceType } from './resources.js';
import { parseFieldSelector, parseLabelSelector, SelectorError, type StoredObject } from './selectors.js';
import { kubeStatus } from './status.js';
import { FakeTokenReviews, TOKEN_REVIEWS_PATH } from './token-reviews.js';
import { WatchStream } from './watch-stream.js';
import { handleWrite } from './write-requests.js';

/** Options of {@link FakeKubeApi.start}. */
export interface FakeKubeApiOptions {
  /** Port to listen on; 0 (default) picks one. */
  port?: number;
  /** Bearer token every request must carry (default "skein-fake-token"). */
  token?: string;
  /** Change events kept for resuming watches (default 1000); older resumes get 410. */
  historyLimit?: number;
  /** Interval of BOOKMARK events on watches that allow them (default 1000 ms). */
  bookmarkIntervalMs?: number;
  /** Objects to create before the server answers. */
  objects?: StoredObject[];
}

/** An HTTP failure to inject, see {@link FakeKubeApi.failNext}. */
export interface FailureRule {
  /** Only requests with this method (default: any). */
  method?: string;
  /** Only requests whose path starts with this (default: any). */
  pathPrefix?: string;
  /** Only watch requests (true) or only non-watch requests (false) (default: both). */
  watch?: boolean;
  /** HTTP status to answer with; the body is a meta/v1 Status. */
  status: number;
  /** How many matching requests fail (default 1). */
  count?: number;
}

/** One request as the server saw it. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  watch: boolean;
}

const HOST = '127.0.0.1';
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export class FakeKubeApi {
  /** Every request received, oldest first (tests look here for relists and retries). */
  readonly requests: RecordedRequest[] = [];
  /** Bearer token the server expects. */
  readonly token: string;
  /** Tokens the server's TokenReviews accept: `tokenReviews.set(token, { namespace, serviceAccount, podName })`. */
  readonly tokenReviews = new FakeTokenReviews();
  private readonly store: ObjectStore;
  private readonly bookmarkIntervalMs: number;
  private readonly failures: Array<FailureRule & { count: number }> = [];
  private readonly watches = new Set<WatchStream>();
  private readonly sockets = new Set<Socket>();
  private server?: Server;
  private boundPort: number;

  private constructor(options: FakeKubeApiOptions) {
    this.token = options.token ?? 'skein-fake-token';
    this.store = new ObjectStore(options.historyLimit ?? 1000);
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    this.boundPort = options.port ?? 0;
    for (const object of options.objects ?? []) this.store.create(object);
  }

  /** Starts a server on 127.0.0.1. */
  static async start(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
    const api = new FakeKubeApi(options);
    await api.listen();
    return api;
  }

  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  get url(): string {
    return `http://${HOST}:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  /** The newest resourceVersion (a global counter, as etcd's revision). */
  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  /** Number of watch streams open now. */
  get openWatches(): number {
    return this.watches.size;
  }

  /** Number of client connections open now (watches, keep-alive...): 0 once clients let go. */
  get openConnections(): number {
    return this.sockets.size;
  }

  /** Creates an object (kind and metadata.name required); returns the stored copy. Throws if it exists. */
  create<T extends object>(object: T): T {
    return this.store.create(object as StoredObject) as T;
  }

  /** Replaces an existing object and bumps its resourceVersion; returns the stored copy. */
  update<T extends object>(object: T): T {
    return this.store.update(object as StoredObject) as T;
  }

  /** Creates or updates. */
  apply<T extends object>(object: T): T {
    return this.store.apply(object as StoredObject) as T;
  }

  /** Deletes an object (namespace ignored for cluster-scoped kinds); returns its last state. */
  delete(kind: FakeKind, namespace: string | undefined, name: string): StoredObject | undefined {
    return this.store.delete(kind, namespace, name);
  }

  /** The stored object, or undefined. */
  get(kind: FakeKind, namespace: string | undefined, name: string): StoredObject | undefined {
    const object = this.store.get(this.resource(kind), namespace, name);
    return object && structuredClone(object);
  }

  /** Forgets the change history: a watch resuming from an older resourceVersion gets 410 Expired. */
  compactHistory(): void {
    this.store.compact();
  }

  /** Makes the next `count` requests matching the rule fail with `status`. */
  failNext(rule: FailureRule): void {
    this.failures.push({ ...rule, count: rule.count ?? 1 });
  }

  /** Removes every pending injected failure. */
  clearFailures(): void {
    this.failures.length = 0;
  }

  /**
   * Ends every open watch. By default the connection is cut (as a network failure would);
   * with `graceful` the stream ends cleanly, as when the server's watch timeout expires.
   */
  dropWatches(options: { graceful?: boolean } = {}): void {
    for (const watch of [...this.watches]) {
      if (options.graceful) watch.end();
      else watch.drop();
    }
  }

  /** A kubeconfig (YAML) for this server: skip-TLS cluster, static token user. */
  kubeconfig(namespace?: string): string {
    return renderKubeconfig({ server: this.url, token: this.token, namespace });
  }

  /** Writes {@link kubeconfig} to `dir/kubeconfig.yaml` and returns the path. */
  async writeKubeconfig(dir: string, namespace?: string): Promise<string> {
    const path = join(dir, 'kubeconfig.yaml');
    await writeFile(path, this.kubeconfig(namespace));
    return path;
  }

  /** Closes the server and every connection. Objects are kept for {@link restart}. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.dropWatches();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** Listens again on the same port with the same objects and history (an API server restart). */
  async restart(): Promise<void> {
    await this.stop();
    await this.listen();
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => {
      try {
        this.handle(req, res);
      } catch (err) {
        if (!res.headersSent) reply(res, 500, kubeStatus(500, `fake-kube-api: ${String(err)}`));
        else res.destroy();
      }
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (server.address() as AddressInfo).port;
    this.server = server;
  }

  private resource(kind: string): ResourceType {
    const resource = resourceByKind(kind);
    if (!resource) throw new Error(`fake-kube-api: kind "${kind}" is not served`);
    return resource;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    const watchParam = url.searchParams.get('watch');
    const watch = watchParam === 'true' || watchParam === '1';
    this.requests.push({ method, path: url.pathname, query: Object.fromEntries(url.searchParams), watch });

    const failure = this.failures.find(
      (f) =>
        (f.method === undefined || f.method.toUpperCase() === method) &&
        (f.pathPrefix === undefined || url.pathname.startsWith(f.pathPrefix)) &&
        (f.watch === undefined || f.watch === watch),
    );
    if (failure) {
      if (--failure.count <= 0) this.failures.splice(this.failures.indexOf(failure), 1);
      return reply(res, failure.status, kubeStatus(failure.status, `injected failure for ${method} ${url.pathname}`));
    }
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return reply(res, 401, kubeStatus(401, 'Unauthorized'));
    }
    if (method === 'POST' && url.pathname === TOKEN_REVIEWS_PATH) return this.reviewToken(req, res);
    if (method !== 'GET') {
      const writeTarget = WRITE_METHODS.has(method) ? parseResourcePath(url.pathname) : undefined;
      if (!writeTarget) return reply(res, 405, kubeStatus(405, `${method} is not supported by the fake API`));
      return this.write(req, res, method, writeTarget);
    }

    const discovery = discoveryDocument(url.pathname, `${HOST}:${this.boundPort}`);
    if (discovery) return reply(res, 200, discovery);
    const target = parseResourcePath(url.pathname);
    if (!target) return reply(res, 404, kubeStatus(404, `the server could not find the requested resource`));
    if (target.type === 'object') {
      const object = this.store.get(target.resource, target.namespace, target.name);
      if (!object) {
        return reply(res, 404, kubeStatus(404, `${target.resource.plural} "${target.name}" not found`));
      }
      return reply(res, 200, object);
    }
    if (!watch) {
      const page = listPage(this.store, target.resource, target.namespace, url.searchParams);
      return reply(res, page.code, page.body);
    }
    this.startWatch(res, target.resource, target.namespace, url.searchParams);
  }

  private write(req: IncomingMessage, res: ServerResponse, method: string, target: ResourcePath): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        const result = handleWrite(this.store, method, target, Buffer.concat(chunks).toString('utf8'), req.headers['content-type'] ?? '');
        reply(res, result.code, result.body);
      } catch (err) {
        reply(res, 500, kubeStatus(500, `fake-kube-api: ${String(err)}`));
      }
    });
  }

  private reviewToken(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reply(res, 400, kubeStatus(400, 'the TokenReview body is not JSON'));
      }
      const answer = this.tokenReviews.review(body);
      reply(res, answer.code, answer.body);
    });
  }

  private startWatch(res: ServerResponse, resource: ResourceType, namespace: string | undefined, query: URLSearchParams): void {
    let labels;
    let fields;
    try {
      labels = parseLabelSelector(query.get('labelSelector') ?? undefined);
      fields = parseFieldSelector(query.get('fieldSelector') ?? undefined);
    } catch (err) {
      if (err instanceof SelectorError) return reply(res, 400, kubeStatus(400, err.message));
      throw err;
    }
    const rvText = query.get('resourceVersion') ?? '';
    const from = rvText === '' || rvText === '0' ? undefined : Number(rvText);
    if (from !== undefined && !Number.isInteger(from)) {
      return reply(res, 400, kubeStatus(400, `invalid resource version "${rvText}"`));
    }
    const bookmarks = ['true', '1'].includes(query.get('allowWatchBookmarks') ?? '');
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? '0');
    const stream = new WatchStream(
      this.store,
      res,
      {
        resource,
        namespace,
        labels,
        fields,
        from,
        bookmarks,
        bookmarkIntervalMs: this.bookmarkIntervalMs,
        timeoutMs: timeoutSeconds > 0 ? timeoutSeconds * 1000 : undefined,
      },
      (closed) => this.watches.delete(closed),
    );
    this.watches.add(stream);
    stream.start();
  }
}

function reply(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
