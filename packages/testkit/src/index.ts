// @skein/testkit: fakes and helpers shared by every test (private).
export * from './process.js';
export * from './fake-kube-api/index.js';
export * from './discovery-client.js';
export * from './backends.js';
export * from './fake-discovery-server.js';
export * from './otlp-receiver.js';
export * from './tcp-service.js';
