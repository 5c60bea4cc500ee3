// A light discovery-protocol client for tests and benchmarks: one stream, a queue of received
// responses, explicit ACK/NACK. It applies nothing and retries nothing: the test drives it.
import {
  credentials, makeGenericClientConstructor, Metadata, type ChannelOptions, type Client, type ClientDuplexStream, type StatusObject,
} from '@grpc/grpc-js';
import {
  decodeResourceBody, discoveryService, Mode, type DiscoveryRequestInit, type DiscoveryResponse, type Node,
  type ResourceBodies, type ResourceType, type Result,
} from '@skein/protocol';

export type TestSubscriptionMode = 'sotw' | 'delta';

export interface SubscribeOptions {
  mode: TestSubscriptionMode;
  /** SotW: the whole wanted set (empty or absent means "*"). Delta: names to add (absent means ["*"]). */
  names?: string[];
  /** Delta only: what the client holds, sent on the first request of the type. */
  initialVersions?: Record<string, string>;
  /** SotW only: the version the client has applied (reconnect). */
  versionInfo?: string;
}

export interface ConnectOptions {
  /** grpc-js channel options; the receive limit is lifted by default. */
  channelOptions?: ChannelOptions;
  /** Sent as call metadata `authorization: Bearer <token>`. */
  token?: string;
}

/** A decoded resource of a response. */
export interface DecodedResource<T extends ResourceType> {
  name: string;
  version: string;
  body: ResourceBodies[T];
}

const DiscoveryClientConstructor = makeGenericClientConstructor(discoveryService, 'skein.v1.Discovery');

interface Waiter {
  typeUrl: string | undefined;
  resolve: (response: DiscoveryResponse) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class DiscoveryTestClient {
  /** Resolves with the stream's final status (also after close()). */
  readonly status: Promise<StatusObject>;
  /** Resolves with the server's initial metadata (headers), if it sends any. */
  readonly headers: Promise<Metadata>;
  private readonly queue: DiscoveryResponse[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly modes = new Map<string, TestSubscriptionMode>();
  private readonly sotwNames = new Map<string, string[]>();
  private readonly applied = new Map<string, string>();
  private nodeSent = false;
  private ended: StatusObject | undefined;

  private constructor(
    private readonly client: Client,
    private readonly call: ClientDuplexStream<DiscoveryRequestInit, DiscoveryResponse>,
    private readonly node: Node | undefined,
  ) {
    // 'error' carries the same status as 'status'; listen so it is never unhandled.
    call.on('error', () => {});
    call.on('data', (response: DiscoveryResponse) => this.onResponse(response));
    this.headers = new Promise((resolve) => call.once('metadata', resolve));
    this.status = new Promise((resolve) => {
      call.on('status', (status: StatusObject) => {
        this.ended = status;
        for (const waiter of this.waiters.splice(0)) {
          clearTimeout(waiter.timer);
          waiter.reject(new Error(`stream ended: ${status.code} ${status.details}`));
        }
        resolve(status);
      });
    });
  }

  /** Opens a stream to `address` ("host:port"). `node` goes on the first request; omit it to test refusal. */
  static connect(address: string, node: Node | undefined, options: ConnectOptions = {}): DiscoveryTestClient {
    const client = new DiscoveryClientConstructor(address, credentials.createInsecure(), {
      'grpc.max_receive_message_length': -1,
      ...options.channelOptions,
    });
    const metadata = new Metadata();
    if (options.token !== undefined) metadata.set('authorization', `Bearer ${options.token}`);
    const call = (client as unknown as { stream(m: Metadata): ClientDuplexStream<DiscoveryRequestInit, DiscoveryResponse> }).stream(metadata);
    return new DiscoveryTestClient(client, call, node);
  }

  /** Sends a request as is, adding the node to the stream's first request when it has none. */
  send(request: DiscoveryRequestInit): void {
    const withNode = !this.nodeSent && this.node && !request.node ? { ...request, node: this.node } : request;
    this.nodeSent = true;
    if (!this.ended) this.call.write(withNode);
  }

  /** Subscribes to `typeUrl` (SotW: replaces the wanted set; delta: adds names). */
  subscribe(typeUrl: string, opts: SubscribeOptions): void {
    this.modes.set(typeUrl, opts.mode);
    if (opts.mode === 'sotw') {
      const names = opts.names ?? [];
      this.sotwNames.set(typeUrl, names);
      this.send({
        typeUrl, mode: Mode.MODE_STATE_OF_THE_WORLD, resourceNames: names,
        versionInfo: opts.versionInfo ?? this.applied.get(typeUrl) ?? '',
      });
    } else {
      this.send({
        typeUrl, mode: Mode.MODE_DELTA, resourceNamesSubscribe: opts.names ?? ['*'],
        ...(opts.initialVersions ? { initialResourceVersions: opts.initialVersions } : {}),
      });
    }
  }

  /** Delta only: removes names from the subscription. */
  unsubscribe(typeUrl: string, names: string[]): void {
    this.send({ typeUrl, mode: Mode.MODE_DELTA, resourceNamesUnsubscribe: names });
  }

  /**
   * The next received response (of `typeUrl`, if given; responses of other types stay queued).
   * Rejects after `timeoutMs` or when the stream ends.
   */
  next(typeUrl?: string, timeoutMs = 5000): Promise<DiscoveryResponse> {
    const index = this.queue.findIndex((r) => typeUrl === undefined || r.typeUrl === typeUrl);
    if (index >= 0) return Promise.resolve(this.queue.splice(index, 1)[0]!);
    if (this.ended) return Promise.reject(new Error(`stream ended: ${this.ended.code} ${this.ended.details}`));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        typeUrl, resolve, reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new Error(`no ${typeUrl ?? 'discovery'} response within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Responses received and not yet taken by next(). */
  get pending(): readonly DiscoveryResponse[] {
    return this.queue;
  }

  /** ACKs `response`: the client applied it. */
  ack(response: DiscoveryResponse): void {
    this.applied.set(response.typeUrl, response.versionInfo);
    this.send(this.answer(response));
  }

  /** NACKs `response`: the previous state stays in force on the client. */
  nack(response: DiscoveryResponse, message: string, resourceErrors: Array<{ name: string; message: string }> = []): void {
    this.send({ ...this.answer(response), errorDetail: { message, resourceErrors } });
  }

  /** Cancels the stream and closes the channel. */
  close(): void {
    this.call.cancel();
    this.client.close();
  }

  private answer(response: DiscoveryResponse): DiscoveryRequestInit {
    const mode = this.modes.get(response.typeUrl) ?? (response.mode === Mode.MODE_DELTA ? 'delta' : 'sotw');
    if (mode === 'delta') return { typeUrl: response.typeUrl, mode: Mode.MODE_DELTA, responseNonce: response.nonce };
    return {
      typeUrl: response.typeUrl, mode: Mode.MODE_STATE_OF_THE_WORLD, responseNonce: response.nonce,
      resourceNames: this.sotwNames.get(response.typeUrl) ?? [], versionInfo: this.applied.get(response.typeUrl) ?? '',
    };
  }

  private onResponse(response: DiscoveryResponse): void {
    const index = this.waiters.findIndex((w) => w.typeUrl === undefined || w.typeUrl === response.typeUrl);
    if (index < 0) {
      this.queue.push(response);
      return;
    }
    const [waiter] = this.waiters.splice(index, 1);
    clearTimeout(waiter!.timer);
    waiter!.resolve(response);
  }
}

/** Decodes one resource body of `typeUrl`. */
export function decodeBody<T extends ResourceType>(typeUrl: T, body: Uint8Array): Result<ResourceBodies[T]> {
  return decodeResourceBody(typeUrl, body);
}

/** Decodes every resource of a response, by name; throws if one does not decode (a test failure). */
export function decodeResources<T extends ResourceType>(typeUrl: T, response: DiscoveryResponse): Map<string, DecodedResource<T>> {
  const out = new Map<string, DecodedResource<T>>();
  for (const resource of response.resources) {
    const name = resource.name ?? '';
    const body = decodeResourceBody(typeUrl, resource.body ?? new Uint8Array());
    if (!body.ok) throw new Error(`${name}: ${body.error}`);
    out.set(name, { name, version: resource.version ?? '', body: body.value });
  }
  return out;
}
