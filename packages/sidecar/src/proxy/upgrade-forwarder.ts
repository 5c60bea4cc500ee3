// Forwards an HTTP/1.1 Upgrade handshake (WebSocket, h2c upgrade, anything else) to an endpoint
// over a fresh connection (an upgraded connection can never return to a pool), relays the
// endpoint's 101 and then splices the two sockets. An endpoint that declines answers with an
// ordinary response, which is relayed and the connection closed.
import { request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { forwardHeaders, KEEP_UPGRADE } from './hop-headers.js';
import type { ForwardRequest } from './http-forwarder.js';
import { causeOf, upstreamFailed } from './proxy-errors.js';
import { connectWithRetry, splice, writeRawError, type TunnelContext } from './tunnel.js';

/**
 * Forwards the upgrade request `req` (whose socket the HTTP server handed over with `head`, the
 * bytes read past the request head) as `forward` describes.
 */
export function forwardUpgrade(context: TunnelContext, req: IncomingMessage, socket: Socket, head: Buffer, forward: ForwardRequest): void {
  connectWithRetry(context, forward.destination, forward.what, () => socket.destroyed, (error, opened) => {
    if (error !== undefined || opened === undefined) {
      writeRawError(socket, error!);
      return;
    }
    const { socket: upstream, counters, target } = opened;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      counters.active--;
    };
    let answered = false; // the client has the endpoint's answer (101 or a refusal)
    const headers = forwardHeaders(req.rawHeaders, KEEP_UPGRADE);
    if (forward.addHost !== undefined) headers.push('Host', forward.addHost);
    const up = request({ method: req.method, path: forward.path, headers, createConnection: () => upstream });
    const onClientClose = (): void => {
      up.destroy();
      upstream.destroy();
      finish();
    };
    socket.once('close', onClientClose);
    up.on('error', (cause: Error) => {
      upstream.destroy();
      if (answered) {
        socket.destroy();
        return;
      }
      counters.errors++;
      writeRawError(socket, upstreamFailed(forward.what, target.key, causeOf(cause)));
      finish();
    });
    up.once('upgrade', (response: IncomingMessage, upgraded: Socket, upgradedHead: Buffer) => {
      answered = true;
      socket.removeListener('close', onClientClose);
      if (socket.destroyed) {
        upgraded.destroy();
        finish();
        return;
      }
      // The 101 goes back verbatim: Upgrade, Connection and Sec-WebSocket-* are the handshake.
      socket.write(responseHead(response, response.rawHeaders));
      if (upgradedHead.length > 0) socket.write(upgradedHead);
      if (head.length > 0) upgraded.write(head);
      splice(socket, upgraded, finish);
    });
    up.once('response', (response: IncomingMessage) => {
      answered = true;
      if (response.statusCode !== undefined && response.statusCode >= 500) counters.errors++;
      // Declined: relay the answer, delimited by closing (the client's parser has let go too).
      const raw = forwardHeaders(response.rawHeaders, 0);
      raw.push('Connection', 'close');
      socket.write(responseHead(response, raw));
      response.pipe(socket);
      response.once('close', () => {
        socket.destroySoon();
        upstream.destroy();
        finish();
      });
    });
    up.end();
  }, socket.remoteAddress);
}

function responseHead(response: IncomingMessage, raw: readonly string[]): string {
  let head = `HTTP/1.1 ${response.statusCode ?? 502} ${response.statusMessage ?? ''}\r\n`;
  for (let i = 0; i < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
  return `${head}\r\n`;
}
