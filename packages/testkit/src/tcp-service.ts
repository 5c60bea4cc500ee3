// A TCP forwarder that plays a Kubernetes Service in front of several replicas: one address,
// each new connection goes to the next backend in turn (as kube-proxy spreads connections), a
// backend that refuses is skipped, and when a backend's side closes the client's side closes
// too, so the client reconnects through the "Service" and lands on a live replica.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpServiceOptions {
  /** Listen address (default 127.0.0.1); port 0 picks one. */
  host?: string;
  port?: number;
  /** "host:port" of each replica. */
  backends: string[];
}

interface Backend {
  readonly address: string;
  readonly host: string;
  readonly port: number;
}

export class TcpService {
  /** Connections forwarded, by backend address (tests see where clients landed). */
  readonly connections = new Map<string, number>();
  private backends: Backend[];
  private readonly open = new Map<Socket, { upstream: Socket; backend: string }>();
  private next = 0;

  private constructor(private readonly server: Server, backends: string[]) {
    this.backends = backends.map(parseBackend);
  }

  static async start(options: TcpServiceOptions): Promise<TcpService> {
    const server = createServer({ pauseOnConnect: true });
    const service = new TcpService(server, options.backends);
    server.on('connection', (socket) => service.forward(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return service;
  }

  /** "host:port" clients connect to. */
  get address(): string {
    const { address, port } = this.server.address() as AddressInfo;
    return `${address}:${port}`;
  }

  /**
   * Replaces the backend list (an EndpointSlice update). Connections to a backend that left
   * are cut, as they are when its pod goes away.
   */
  setBackends(backends: string[]): void {
    this.backends = backends.map(parseBackend);
    for (const [socket, entry] of this.open) if (!backends.includes(entry.backend)) socket.destroy();
  }

  async close(): Promise<void> {
    for (const [socket, entry] of this.open) {
      socket.destroy();
      entry.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(socket: Socket, tried = 0): void {
    const backends = this.backends;
    if (tried >= backends.length) {
      socket.destroy();
      return;
    }
    const backend = backends[this.next++ % backends.length]!;
    const upstream = connect({ host: backend.host, port: backend.port });
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      this.connections.set(backend.address, (this.connections.get(backend.address) ?? 0) + 1);
      this.open.set(socket, { upstream, backend: backend.address });
      socket.pipe(upstream);
      upstream.pipe(socket);
      socket.resume();
    });
    upstream.on('error', () => {
      // Refused before connecting: the next replica gets the connection.
      if (!connected && !socket.destroyed) this.forward(socket, tried + 1);
    });
    upstream.once('close', () => {
      if (connected) socket.destroy();
    });
    socket.once('close', () => {
      if (this.open.get(socket)?.upstream === upstream) this.open.delete(socket);
      upstream.destroy();
    });
    socket.on('error', () => upstream.destroy());
  }
}

function parseBackend(address: string): Backend {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port)) throw new Error(`tcp service: backend "${address}" is not host:port`);
  return { address, host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'), port };
}
