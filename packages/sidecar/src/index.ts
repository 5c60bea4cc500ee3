// @skein/sidecar as a library: createMesh() (library mode, in-process endpoint picking).
// Importing this module starts nothing (CONVENTIONS rule 8): no discovery, timer, socket,
// signal handler or resolver registration until the app calls createMesh() / mesh.grpc.
export type { Dataplane, Destination, PickResult, Picker, Target, AppProtocol, DestinationError, AttemptOutcome } from './dataplane.js';
export type { NodeIdentity } from './identity.js';
export type { Logger } from './logger.js';
export { createMesh, type Mesh, type MeshOptions, type MeshFetch } from './library/create-mesh.js';
export { MeshDispatcher, type MeshDispatcherOptions } from './library/mesh-dispatcher.js';
export { MeshError, ERR_NOT_READY, ERR_CLOSED, ERR_BAD_TARGET, ERR_TIMEOUT } from './library/mesh-error.js';
export { DEFAULT_GRPC_SCHEME, type MeshGrpc } from './library/grpc-resolver.js';
export { StaticDataplane, type StaticEntry, type StaticDataplaneOptions } from './library/static-dataplane.js';
export type { DiscoveryScope } from './discovery/xds-client.js';
export type { OutboundPolicy } from './routing/router.js';
