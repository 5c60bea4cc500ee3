// The HTTPS listener of the webhook (the API server only calls webhooks over TLS). Certificates
// are swapped in place with tls.Server#setSecureContext: open connections keep the old one,
// new handshakes get the new one, nothing restarts.
import { serve } from '@hono/node-server';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { CertificatePair } from './webhook-cert.js';

export interface WebhookServer {
  readonly port: number;
  /** Serves `pair` to every new connection. */
  setCertificate(pair: CertificatePair): void;
  close(): Promise<void>;
}

export function startWebhookServer(
  fetch: (request: Request) => Response | Promise<Response>, hostname: string, port: number, pair: CertificatePair,
): Promise<WebhookServer> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, hostname, port, createServer, serverOptions: { cert: pair.cert, key: pair.key } }, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        setCertificate: (next) => server.setSecureContext({ cert: next.cert, key: next.key }),
        close: () => new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        }),
      });
    }) as Server;
    server.once('error', reject);
  });
}
