// A scripted discovery server for data-plane tests: it records requests and sends exactly
// what a test tells it, including what a real control plane never would (invalid resources).
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { discoveryService, Mode, type DiscoveryRequest, type EncodedResource, type OutgoingResponse } from '@skein/protocol';
import { eventually } from './process.js';

type Call = ServerDuplexStream<DiscoveryRequest, OutgoingResponse>;

/** A discovery server the test scripts: it records requests and sends what it is told. */
export class FakeDiscoveryServer {
  readonly calls: Call[] = [];
  readonly requests: Array<{ call: number; request: DiscoveryRequest }> = [];
  private readonly server = new Server();
  private nonce = 0;
  port = 0;

  async start(): Promise<void> {
    this.server.addService(discoveryService, {
      stream: (call: Call) => {
        const index = this.calls.push(call) - 1;
        call.on('data', (request: DiscoveryRequest) => this.requests.push({ call: index, request }));
        call.on('error', () => undefined);
      },
    });
    this.port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
    });
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Sends a delta response on call `index` (`extra` overrides fields, e.g. nodeLocality); returns its nonce. */
  send(index: number, typeUrl: string, resources: EncodedResource[], removed: string[] = [], extra: Partial<OutgoingResponse> = {}): string {
    const nonce = String(++this.nonce);
    this.calls[index]!.write({
      typeUrl: typeUrl as OutgoingResponse['typeUrl'], versionInfo: `snap-${nonce}`, resources, removedResources: removed,
      nonce, mode: Mode.MODE_DELTA, controlPlane: 'fake-1', ...extra,
    });
    return nonce;
  }

  /** Requests of call `index`, in order. */
  of(index: number): DiscoveryRequest[] {
    return this.requests.filter((r) => r.call === index).map((r) => r.request);
  }

  answerTo(nonce: string): Promise<DiscoveryRequest> {
    return eventually(() => this.requests.find((r) => r.request.responseNonce === nonce)?.request);
  }

  stop(): void {
    this.server.forceShutdown();
  }
}
