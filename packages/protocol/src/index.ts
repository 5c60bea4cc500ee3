// @skein/protocol: the wire protocol's typed messages, codec, validation and content versions.
// Pure: no I/O, no gRPC, no Kubernetes client.
export * from './messages.js';
export * from './codec.js';
export * from './version.js';
export * from './names.js';
export * from './validate.js';
export * from './json.js';
export { isIP, isIPv4, isIPv6 } from './address.js';
export { varintSize } from './varint.js';
