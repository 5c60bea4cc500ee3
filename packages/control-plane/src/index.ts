// @skein/control-plane as a library: start a control plane in-process (tests, embedding).
export { startControlPlane, type RunningControlPlane } from './main.js';
export { parseConfig, type ControlPlaneConfig, type SourceConfig } from './config.js';
export { createLogger, type Logger } from './log.js';
export { snapshotApi } from './http/snapshot-api.js';
export { MemorySnapshotStore, type SnapshotStore, type StoredSnapshot } from './http/snapshot-store.js';
