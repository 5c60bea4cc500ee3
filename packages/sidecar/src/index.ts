// @skein/sidecar as a library: createMesh() (library mode, in-process endpoint picking).
// Importing this module starts nothing (CONVENTIONS rule 8).
export type { Dataplane, Destination, PickResult, Picker, Target, AppProtocol, DestinationError, AttemptOutcome } from './dataplane.js';
export type { NodeIdentity } from './identity.js';
export type { Logger } from './logger.js';
