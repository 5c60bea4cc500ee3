import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Server, ServerCredentials, status as Status, type ServerDuplexStream } from '@grpc/grpc-js';
import {
  discoveryService, encodeResource, Mode, TYPE_ENDPOINT_GROUP, TYPE_SERVICE, type DiscoveryRequest, type OutgoingResponse,
} from '@skein/protocol';
import { DiscoveryTestClient, decodeResources } from './discovery-client.js';

const web = encodeResource(TYPE_SERVICE, 'default/web', { name: 'default/web', namespace: 'default', clusterIps: ['10.0.0.1'] });

describe('DiscoveryTestClient', () => {
  let server: Server;
  let address: string;
  let received: DiscoveryRequest[];
  let calls: Array<ServerDuplexStream<DiscoveryRequest, OutgoingResponse>>;
  let client: DiscoveryTestClient | undefined;
  let nonce: number;

  // A scripted server: records requests and answers each non-ACK with one response of its type.
  beforeEach(async () => {
    received = [];
    calls = [];
    nonce = 0;
    server = new Server();
    server.addService(discoveryService, {
      stream: (call: ServerDuplexStream<DiscoveryRequest, OutgoingResponse>) => {
        calls.push(call);
        call.on('data', (request: DiscoveryRequest) => {
          received.push(request);
          if (request.responseNonce) return;
          call.write({
            typeUrl: request.typeUrl as typeof TYPE_SERVICE, versionInfo: 'v1', resources: request.typeUrl === TYPE_SERVICE ? [web] : [],
            removedResources: [], nonce: String(++nonce), mode: request.mode, controlPlane: 'scripted',
          });
        });
        call.on('end', () => call.end());
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    address = `127.0.0.1:${port}`;
  });

  afterEach(() => {
    client?.close();
    server.forceShutdown();
  });

  it('puts the node on the first request only, and queues responses by type', async () => {
    client = DiscoveryTestClient.connect(address, { id: 'n1', namespace: 'default' });
    client.subscribe(TYPE_SERVICE, { mode: 'sotw', names: ['default/*'] });
    client.subscribe(TYPE_ENDPOINT_GROUP, { mode: 'delta' });
    const groups = await client.next(TYPE_ENDPOINT_GROUP);
    expect(groups.mode).toBe(Mode.MODE_DELTA);
    const services = await client.next(TYPE_SERVICE);
    expect(decodeResources(TYPE_SERVICE, services).get('default/web')!.body.clusterIps).toEqual(['10.0.0.1']);
    expect(received[0]!.node!.id).toBe('n1');
    expect(received[1]!.node).toBeFalsy();
    expect(received[0]!.resourceNames).toEqual(['default/*']);
    expect(received[1]!.resourceNamesSubscribe).toEqual(['*']);
  });

  it('ACKs SotW with the names and the applied version; NACKs with the previous version and the error detail', async () => {
    client = DiscoveryTestClient.connect(address, { id: 'n1' });
    client.subscribe(TYPE_SERVICE, { mode: 'sotw', names: ['default/web'] });
    const response = await client.next(TYPE_SERVICE);
    client.nack(response, 'nope', [{ name: 'default/web', message: 'bad' }]);
    client.ack(response);
    await expect.poll(() => received.length).toBe(3);
    expect(received[1]).toMatchObject({ responseNonce: '1', versionInfo: '', resourceNames: ['default/web'], errorDetail: { message: 'nope', resourceErrors: [{ name: 'default/web', message: 'bad' }] } });
    expect(received[2]).toMatchObject({ responseNonce: '1', versionInfo: 'v1', resourceNames: ['default/web'] });
    expect(received[2]!.errorDetail).toBeFalsy();
  });

  it('rejects next() on timeout, and on the end of the stream with its status', async () => {
    client = DiscoveryTestClient.connect(address, { id: 'n1' });
    await expect(client.next(TYPE_SERVICE, 20)).rejects.toThrow('no skein.v1.Service response within 20 ms');
    client.subscribe(TYPE_SERVICE, { mode: 'sotw' });
    await client.next(TYPE_SERVICE);
    const waiting = client.next(TYPE_SERVICE);
    await expect.poll(() => calls.length).toBe(1);
    calls[0]!.emit('error', { code: Status.FAILED_PRECONDITION, details: 'go away' });
    await expect(waiting).rejects.toThrow('stream ended: 9 go away');
    expect(await client.status).toMatchObject({ code: Status.FAILED_PRECONDITION, details: 'go away' });
  });
});
