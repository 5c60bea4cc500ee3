// A tiny gRPC service for process-level tests: grpc-js Greeter servers on 127.0.0.x (JSON
// messages, no protobuf) that answer with their own name, and the manifest of a `greeter`
// Service whose pods they are.
import * as grpc from '@grpc/grpc-js';
import { podYaml } from './sidecar.js';

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): unknown => JSON.parse(bytes.toString()),
};

export const greeterService = {
  hello: {
    path: '/demo.Greeter/Hello', requestStream: false, responseStream: false,
    requestSerialize: json.serialize, requestDeserialize: json.deserialize,
    responseSerialize: json.serialize, responseDeserialize: json.deserialize,
  },
} as const;

export type GreeterClient = grpc.Client & {
  hello(req: { name: string }, cb: (err: grpc.ServiceError | null, res?: { from: string }) => void): void;
};

export const Greeter = grpc.makeGenericClientConstructor(greeterService, 'Greeter') as unknown as
  new (target: string, creds: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => GreeterClient;

export interface GreeterServer {
  readonly name: string;
  readonly address: string;
  readonly server: grpc.Server;
  readonly port: number;
}

/** A Greeter answering `{ from: name }`, or FAILED_PRECONDITION "told to fail" when asked for "fail". */
export async function startGreeter(name: string, address: string): Promise<GreeterServer> {
  const server = new grpc.Server();
  server.addService(greeterService, {
    hello: (call: grpc.ServerUnaryCall<{ name: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      if (call.request.name === 'fail') callback({ code: grpc.status.FAILED_PRECONDITION, details: 'told to fail' });
      else callback(null, { from: name });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${address}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { name, address, server, port };
}

/** Three Greeters, greeter-1..3 on 127.0.0.31-33. */
export function startGreeters(): Promise<GreeterServer[]> {
  return Promise.all([1, 2, 3].map((i) => startGreeter(`greeter-${i}`, `127.0.0.3${i}`)));
}

/** Service greeter.demo:50051 (h2c, ClusterIP 10.96.0.50) with `greeters` as its pods. */
export function greeterYaml(greeters: readonly GreeterServer[]): string {
  return `
apiVersion: v1
kind: Service
metadata: { name: greeter, namespace: demo }
spec:
  clusterIP: 10.96.0.50
  selector: { app: greeter }
  ports: [{ name: grpc, port: 50051, targetPort: http, appProtocol: kubernetes.io/h2c }]
${greeters.map((g) => `---${podYaml(g.name, g.address, g.port, 'node-a', 'app: greeter')}`).join('')}`;
}

export function hello(client: GreeterClient, name = 'skein'): Promise<{ from: string }> {
  return new Promise((resolve, reject) => client.hello({ name }, (err, res) => (err ? reject(err) : resolve(res!))));
}
