// Snapshot builder: mesh model -> validated, encoded, content-versioned resources. A snapshot
// is immutable; every stream that needs a resource version writes the same encoded bytes.
//
// Validate, then publish (CONVENTIONS rule 6): a resource that fails validation is left out
// and its previous good version stays in force, as go-control-plane checks a snapshot's
// consistency before it is set.
import {
  combinedVersion, encodeResource, RESOURCE_TYPES, TYPE_ENDPOINT_GROUP, TYPE_SERVICE, validateResource,
  type EncodedResource, type EndpointGroupInit, type ResourceType, type ServiceInit,
} from '@skein/protocol';
import type { MeshModel } from '../model/mesh-model.js';

/** One published state of the mesh. Immutable once built. */
export interface Snapshot {
  /** Content hash over every type version: equal content gives equal versions on every replica. */
  readonly version: string;
  /** Clock time (ms) at which this version was first built. */
  readonly createdAt: number;
  /** Per type: resources by name, in name order. */
  readonly resources: ReadonlyMap<ResourceType, ReadonlyMap<string, EncodedResource>>;
  /** Per type: content hash over the (name, version) pairs of that type. */
  readonly typeVersions: ReadonlyMap<ResourceType, string>;
  /**
   * Per type whose version changed from the previous snapshot: when a source saw the oldest
   * change this build carries (clock ms). Absent when the build had no timed source event
   * (the first build, a forced flush). Push latency is measured from it to each ACK.
   */
  readonly eventTimes?: ReadonlyMap<ResourceType, number>;
}

/** A resource that was not published as built, and why. */
export interface SnapshotProblem {
  readonly name: string;
  readonly typeUrl: ResourceType;
  readonly reason: string;
}

export interface BuildResult {
  /** The new snapshot; `previous` itself when nothing changed. */
  snapshot: Snapshot;
  problems: SnapshotProblem[];
}

type Bodies = ReadonlyMap<string, ServiceInit | EndpointGroupInit>;

/**
 * Builds the snapshot for `model`. Each resource is encoded, hashed and validated; an
 * EncodedResource of `previous` whose bytes are identical is reused, so a version is encoded
 * once for the life of the process. An invalid resource keeps its previous version (if any);
 * an EndpointGroup whose Service is not in the result is dropped.
 *
 * Model bodies are immutable once built: a body object that was encoded and found valid before
 * (by any build) is not validated, encoded or hashed again, its earlier EncodedResource is used.
 * `updateMeshModel` hands back the same objects for every Service it did not translate again,
 * so an incremental build costs as much as what changed. Versions equal a from-scratch build's.
 * `eventAt`, when the build follows source events, becomes `eventTimes` of the changed types.
 */
export function buildSnapshot(model: MeshModel, previous: Snapshot | undefined, now: number, eventAt?: number): BuildResult {
  const problems: SnapshotProblem[] = [];
  const services = publishType(TYPE_SERVICE, model.services, previous, problems);
  const groups = publishType(TYPE_ENDPOINT_GROUP, model.endpointGroups, previous, problems);
  for (const name of [...groups.keys()]) {
    if (services.has(name)) continue;
    groups.delete(name);
    problems.push({ name, typeUrl: TYPE_ENDPOINT_GROUP, reason: `its Service "${name}" is not in the snapshot; EndpointGroup dropped` });
  }

  const built = new Map<ResourceType, Map<string, EncodedResource>>([[TYPE_SERVICE, services], [TYPE_ENDPOINT_GROUP, groups]]);
  const resources = new Map<ResourceType, ReadonlyMap<string, EncodedResource>>();
  const typeVersions = new Map<ResourceType, string>();
  for (const typeUrl of RESOURCE_TYPES) {
    const byName = built.get(typeUrl)!;
    const before = previous?.resources.get(typeUrl);
    // The very same resources (the usual case for a type no change touched): no need to hash.
    const typeVersion = before !== undefined && sameResources(before, byName)
      ? previous!.typeVersions.get(typeUrl)!
      : combinedVersion([...byName.values()].map((r) => [r.name, r.version] as const));
    typeVersions.set(typeUrl, typeVersion);
    // Same content: share the previous map so unchanged types cost no memory.
    const kept = previous?.typeVersions.get(typeUrl) === typeVersion ? before : undefined;
    resources.set(typeUrl, kept ?? byName);
  }
  const version = combinedVersion(typeVersions);
  if (previous?.version === version) return { snapshot: previous, problems };
  if (eventAt === undefined) return { snapshot: { version, createdAt: now, resources, typeVersions }, problems };
  const eventTimes = new Map<ResourceType, number>();
  for (const [typeUrl, typeVersion] of typeVersions) {
    if (previous?.typeVersions.get(typeUrl) !== typeVersion) eventTimes.set(typeUrl, eventAt);
  }
  return { snapshot: { version, createdAt: now, resources, typeVersions, eventTimes }, problems };
}

/**
 * What each valid body, by object, was encoded to. Weak: an entry lives as long as the model
 * that holds its body (and a snapshot holds the EncodedResource itself anyway).
 */
const encodedBodies = new WeakMap<ServiceInit | EndpointGroupInit, EncodedResource>();

function publishType(
  typeUrl: ResourceType, bodies: Bodies, previous: Snapshot | undefined, problems: SnapshotProblem[],
): Map<string, EncodedResource> {
  const before = previous?.resources.get(typeUrl);
  const out = new Map<string, EncodedResource>();
  for (const name of [...bodies.keys()].sort()) {
    const body = bodies.get(name)!;
    const last = before?.get(name);
    const known = encodedBodies.get(body);
    if (known !== undefined && known.typeUrl === typeUrl && known.name === name) {
      out.set(name, last !== undefined && (last === known || sameBytes(last.body, known.body)) ? last : known);
      continue;
    }
    const reasons = validateResource(typeUrl, name, body);
    if (reasons.length > 0) {
      const kept = last ? `; version ${last.version} stays in force` : '; not published';
      problems.push({ name, typeUrl, reason: reasons.join('; ') + kept });
      if (last) out.set(name, last);
      continue;
    }
    const encoded = encodeResource(typeUrl, name, body as never);
    const resource = last && sameBytes(last.body, encoded.body) ? last : encoded;
    encodedBodies.set(body, resource);
    out.set(name, resource);
  }
  return out;
}

function sameResources(a: ReadonlyMap<string, EncodedResource>, b: ReadonlyMap<string, EncodedResource>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, resource] of b) if (a.get(name) !== resource) return false;
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
