// Fake pods: HTTP servers on 127.0.0.x that say who they are, count what they serve,
// echo and generate large bodies, so tests can see where the mesh sent each request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeBackend {
  readonly name: string;
  readonly address: string;
  readonly port: number;
  /** Requests served, by path. */
  readonly hits: Map<string, number>;
  /** Total requests served. */
  total(): number;
  /** Host headers seen, newest last. */
  readonly hosts: string[];
  /** TCP connections accepted (keep-alive reuse shows as fewer connections than requests). */
  connections(): number;
  close(): Promise<void>;
}

/**
 * Routes:
 *   GET  /            -> 200 "<name>\n"
 *   POST /echo        -> streams the request body back
 *   POST /count       -> "<bytes received>\n" (consumes a large upload without buffering)
 *   GET  /bytes?n=N   -> N bytes of 'x', streamed in 64 KiB chunks with backpressure
 *   GET  /status/NNN  -> that status code
 *   GET  /headers     -> the request headers as JSON (what the proxy sent: trace context…)
 */
export async function startBackend(name: string, address = '127.0.0.1', port = 0): Promise<FakeBackend> {
  const hits = new Map<string, number>();
  const hosts: string[] = [];
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://backend');
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    hosts.push(req.headers.host ?? '');
    res.setHeader('x-backend', name);
    if (url.pathname === '/headers') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.headers));
      return;
    }
    if (url.pathname === '/echo') {
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' });
      req.pipe(res);
      return;
    }
    if (url.pathname === '/count') {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => { bytes += chunk.length; });
      req.on('end', () => res.end(`${bytes}\n`));
      return;
    }
    if (url.pathname === '/bytes') {
      let remaining = Number(url.searchParams.get('n') ?? '0');
      const chunk = Buffer.alloc(64 * 1024, 'x');
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(remaining) });
      const write = (): void => {
        while (remaining > 0) {
          const part = remaining >= chunk.length ? chunk : chunk.subarray(0, remaining);
          remaining -= part.length;
          if (!res.write(part)) {
            res.once('drain', write);
            return;
          }
        }
        res.end();
      };
      write();
      return;
    }
    const status = /^\/status\/(\d{3})$/.exec(url.pathname);
    req.resume();
    if (status) {
      res.writeHead(Number(status[1])).end(`${name} ${status[1]}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${name}\n`);
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    name, address, port: bound.port, hits, hosts,
    total: () => [...hits.values()].reduce((a, b) => a + b, 0),
    connections: () => connections,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    }),
  };
}
