// Per-stream protocol state of one subscriber: what it asked for, what it holds, what awaits
// its ACK. Pure: the discovery server feeds it requests and snapshots and writes what it says.
//
// Flow control follows xDS: at most one response per type awaits its ACK/NACK; later changes
// coalesce, so a slow subscriber only ever receives the newest state.
import {
  isResourceType, isValidSubscription, Mode, splitResourceName,
  type DiscoveryRequest, type EncodedResource, type OutgoingResponse, type ResourceType,
} from '@skein/protocol';
import { fullView } from './full-view.js';
import { HeldResources } from './held-resources.js';
import type { Snapshot } from './snapshot.js';
import { Subscription } from './subscription.js';

export type SubscriptionMode = 'sotw' | 'delta';

export interface Locality {
  readonly region: string;
  readonly zone: string;
}

/** Who subscribed, as shown on debug pages. Never carries the node's token. */
export interface NodeIdentity {
  readonly id: string;
  readonly pod: string;
  readonly namespace: string;
  readonly nodeName: string;
  /** As the node claimed it (flags, or learned from an earlier response). */
  readonly locality: Locality;
  readonly agentVersion: string;
  /** host:port of the proxy's admin API, as the proxy reported it; empty when it has none. */
  readonly adminAddress: string;
}

export interface NackRecord {
  readonly nonce: string;
  /** The version that was rejected. */
  readonly version: string;
  readonly message: string;
  readonly resourceErrors: ReadonlyArray<{ readonly name: string; readonly message: string }>;
  readonly at: number;
}

/** What a valid request answered, besides any subscription change it carried. */
export type RequestOutcome =
  | { type: 'subscription' }
  /**
   * `sinceEventMs`: time from the source's sighting of the oldest change this version was the
   * first to carry to this subscriber, to this ACK (push latency); undefined when it carried
   * no change timed after the subscription began (first response, reconnect, scope change).
   */
  | { type: 'ack'; nonce: string; version: string; sinceEventMs: number | undefined }
  | { type: 'nack'; nack: NackRecord }
  /** Answers a response that is not the one awaited (xDS: ignored as an ACK). */
  | { type: 'stale'; nonce: string };

export type RequestResult =
  | { ok: true; typeUrl: ResourceType; outcome: RequestOutcome }
  | { ok: false; error: string };

export interface SubscriberStateOptions {
  /** Replica id written into every response. */
  controlPlaneId: string;
  /** Clock for connectedAt and NACK times. */
  now: () => number;
  /** Stream id and peer address, for debug pages. */
  id?: string;
  peer?: string;
}

interface TypeState {
  readonly mode: SubscriptionMode;
  subscription: Subscription;
  /** Delta: name -> version the client holds, as sent (a NACK does not roll it back). */
  readonly held: HeldResources;
  /** Delta: explicitly subscribed names the client has been told do not exist. */
  readonly toldAbsent: Set<string>;
  /** View version of the last response sent (SotW: or reported by the client on reconnect). */
  sentVersion: string | undefined;
  /** A response is due even if nothing differs (first subscription, changed scope). */
  owed: boolean;
  /** Delta: seeded from initial_resource_versions and not yet compared. */
  seeded: boolean;
  /** `eventAt`: the oldest timed change this response is the first to carry. */
  pending: { nonce: string; version: string; eventAt: number | undefined } | undefined;
  ackedVersion: string | undefined;
  lastNack: NackRecord | undefined;
  /** The last answer for this type was a NACK. */
  nacking: boolean;
  /** When the type was first requested on this stream: changes seen before are not push latency. */
  readonly subscribedAt: number;
  /** The oldest timed change published since the last response and not yet sent. */
  unsentEventAt: number | undefined;
}

export class SubscriberState {
  readonly connectedAt: number;
  private identity: NodeIdentity | undefined;
  private readonly types = new Map<ResourceType, TypeState>();
  private nonces = 0;
  private lastSnapshot: Snapshot | undefined;
  /** The subscriber's locality from its Node's labels, when known; every response carries it. */
  private nodeLocality: Locality | undefined;
  /** The locality the subscriber holds ("region/zone"): the one it claimed, then the one it was sent. */
  private heldLocality = '';

  constructor(private readonly options: SubscriberStateOptions) {
    this.connectedAt = options.now();
  }

  /** The node from the stream's first request; undefined until a valid one arrived. */
  get node(): NodeIdentity | undefined {
    return this.identity;
  }

  /** Resource types subscribed so far, in first-request order. */
  subscribedTypes(): ResourceType[] {
    return [...this.types.keys()];
  }

  /**
   * Applies one request. Checks it completely before changing anything: the first request of
   * the stream must carry a node with an id, type_url must be known, a type's mode is fixed by
   * its first request, names must be valid patterns and fields must fit the mode. An error
   * means the stream must end (INVALID_ARGUMENT); state is unchanged.
   */
  onRequest(req: DiscoveryRequest): RequestResult {
    const error = this.check(req);
    if (error) return { ok: false, error };
    if (!this.identity) {
      this.identity = identityOf(req.node!);
      this.heldLocality = localityKey(this.identity.locality);
    }
    const typeUrl = req.typeUrl as ResourceType;
    const mode: SubscriptionMode = req.mode === Mode.MODE_DELTA ? 'delta' : 'sotw';
    let state = this.types.get(typeUrl);
    const first = state === undefined;
    state ??= newTypeState(mode, this.options.now());
    this.types.set(typeUrl, state);

    const outcome = this.answer(state, req);
    if (mode === 'sotw') applySotw(state, req, first);
    else applyDelta(state, req, first);
    return { ok: true, typeUrl, outcome };
  }

  /**
   * Called with every snapshot published while the stream is identified, before responses are
   * computed from it (even when backpressure holds them): remembers the oldest change time per
   * subscribed type, so the ACK of the response that first carries it measures push latency.
   */
  noteSnapshot(snapshot: Snapshot): void {
    const times = snapshot.eventTimes;
    if (times === undefined) return;
    for (const [typeUrl, state] of this.types) {
      const at = times.get(typeUrl);
      if (at !== undefined && at >= state.subscribedAt && !(at >= state.unsentEventAt!)) state.unsentEventAt = at;
    }
  }

  /**
   * The subscriber's locality as its Node's labels give it (undefined: Node unknown or
   * unlabelled). When it differs from what the subscriber holds, a response is due even if no
   * resource changed (delta: an empty one), so the subscriber learns it.
   */
  setNodeLocality(locality: Locality | undefined): void {
    this.nodeLocality = locality;
  }

  /**
   * When a source saw the oldest change (published since the type was subscribed) that this
   * subscriber has not ACKed yet, sent or not; undefined when it holds every change.
   */
  oldestUnackedChange(typeUrl: ResourceType): number | undefined {
    const state = this.types.get(typeUrl);
    const sent = state?.pending?.eventAt;
    const unsent = state?.unsentEventAt;
    return sent === undefined ? unsent : unsent === undefined ? sent : Math.min(sent, unsent);
  }

  /** Whether the subscriber's last answer for `typeUrl` was a NACK. */
  isNacking(typeUrl: ResourceType): boolean {
    return this.types.get(typeUrl)?.nacking === true;
  }

  /**
   * The response to write for `typeUrl` given `snapshot`, or undefined when none is due: a
   * response of that type awaits its ACK/NACK, the client already holds what it subscribes to
   * (or NACKed exactly this state), or the type is not subscribed. Records the response as
   * sent and awaiting its ACK.
   */
  nextResponse(typeUrl: ResourceType, snapshot: Snapshot): OutgoingResponse | undefined {
    this.lastSnapshot = snapshot;
    const state = this.types.get(typeUrl);
    if (!state || state.pending) return undefined;
    const view = state.subscription.view(snapshot, typeUrl);
    let resources: readonly EncodedResource[];
    let removed: readonly string[];
    /** Set when the response carries the whole view: its encoding is shared by every stream. */
    let encodedResources: Uint8Array | undefined;
    if (state.mode === 'sotw') {
      if (!state.owed && view.version === state.sentVersion && !this.localityOwed()) {
        state.unsentEventAt = undefined; // the change did not touch what this subscriber sees
        return undefined;
      }
      ({ resources, encoded: encodedResources } = fullView(view.resources));
      removed = [];
    } else {
      // Computed once per step between two views, for every subscriber making it.
      const diff = state.held.diff(view.resources);
      let absent: string[] | undefined;
      for (const name of state.subscription.explicitNames()) {
        if (!view.resources.has(name) && !state.held.has(name) && !state.toldAbsent.has(name)) (absent ??= []).push(name);
      }
      resources = diff.changed;
      // Held names and names never held are disjoint: no duplicates.
      removed = absent ? [...diff.removed, ...absent].sort() : diff.removed;
      const seeded = state.seeded;
      state.seeded = false;
      if (!state.owed && resources.length === 0 && removed.length === 0 && !this.localityOwed()) {
        // A reconnecting client that already holds everything has applied this version.
        if (seeded) state.ackedVersion = state.sentVersion = view.version;
        state.unsentEventAt = undefined;
        // It holds exactly this view's content: hold this map, so the older one can go.
        state.held.holdExactly(view.resources);
        return undefined;
      }
      if (resources.length > 0 && resources.length === view.resources.size) {
        ({ resources, encoded: encodedResources } = fullView(view.resources));
      }
      if (state.toldAbsent.size > 0) for (const r of resources) state.toldAbsent.delete(r.name);
      // The response carries every difference: the client will hold exactly the view.
      state.held.holdExactly(view.resources);
      for (const name of removed) if (state.subscription.explicitNames().has(name)) state.toldAbsent.add(name);
    }
    const nonce = String(++this.nonces);
    state.owed = false;
    state.sentVersion = view.version;
    state.pending = { nonce, version: view.version, eventAt: state.unsentEventAt };
    state.unsentEventAt = undefined;
    const nodeLocality = this.nodeLocality;
    if (nodeLocality) this.heldLocality = localityKey(nodeLocality);
    return {
      typeUrl, versionInfo: view.version, resources, removedResources: removed, nonce,
      mode: state.mode === 'delta' ? Mode.MODE_DELTA : Mode.MODE_STATE_OF_THE_WORLD,
      controlPlane: this.options.controlPlaneId,
      ...(nodeLocality ? { nodeLocality } : {}),
      ...(encodedResources ? { encodedResources } : {}),
    };
  }

  private localityOwed(): boolean {
    return this.nodeLocality !== undefined && localityKey(this.nodeLocality) !== this.heldLocality;
  }

  /** A JSON view for debug pages; `synced` compares with the last snapshot seen. */
  toJSON(): SubscriberJson {
    const types: Record<string, TypeJson> = {};
    for (const [typeUrl, s] of this.types) {
      const current = this.lastSnapshot ? s.subscription.view(this.lastSnapshot, typeUrl).version : undefined;
      types[typeUrl] = {
        mode: s.mode,
        subscriptions: s.subscription.patterns(),
        ackedVersion: s.ackedVersion ?? null,
        sentVersion: s.sentVersion ?? null,
        pendingNonce: s.pending?.nonce ?? null,
        lastNack: s.lastNack ?? null,
        synced: current !== undefined && s.ackedVersion === current,
      };
    }
    return {
      id: this.options.id ?? null, peer: this.options.peer ?? null, node: this.identity ?? null,
      connectedAt: this.connectedAt, types,
    };
  }

  private check(req: DiscoveryRequest): string | undefined {
    if (!this.identity && !req.node?.id) return 'the first request of a stream must carry node with a non-empty id';
    if (!isResourceType(req.typeUrl)) return `unknown type_url "${req.typeUrl}"`;
    if (req.mode !== Mode.MODE_DELTA && req.mode !== Mode.MODE_STATE_OF_THE_WORLD) return `unknown mode ${String(req.mode)}`;
    const mode: SubscriptionMode = req.mode === Mode.MODE_DELTA ? 'delta' : 'sotw';
    const existing = this.types.get(req.typeUrl);
    if (existing && existing.mode !== mode) {
      return `${req.typeUrl} is subscribed in ${modeName(existing.mode)} mode on this stream; a ${modeName(mode)} request cannot switch it`;
    }
    const initial = Object.keys(req.initialResourceVersions ?? {});
    if (mode === 'sotw' && (req.resourceNamesSubscribe.length > 0 || req.resourceNamesUnsubscribe.length > 0 || initial.length > 0)) {
      return 'a state-of-the-world request carries resource_names only, not the delta fields';
    }
    if (mode === 'delta' && req.resourceNames.length > 0) {
      return 'a delta request carries resource_names_subscribe/_unsubscribe, not resource_names';
    }
    for (const pattern of [...req.resourceNames, ...req.resourceNamesSubscribe, ...req.resourceNamesUnsubscribe]) {
      if (!isValidSubscription(pattern)) return `bad subscription "${pattern}": expected "*", "<namespace>/*" or "<namespace>/<name>"`;
    }
    for (const name of initial) {
      if (!splitResourceName(name) || name.endsWith('/*')) return `bad initial_resource_versions name "${name}": expected "<namespace>/<name>"`;
    }
    return undefined;
  }

  private answer(state: TypeState, req: DiscoveryRequest): RequestOutcome {
    const nonce = req.responseNonce;
    if (!nonce) return { type: 'subscription' };
    const pending = state.pending;
    if (!pending || pending.nonce !== nonce) return { type: 'stale', nonce };
    state.pending = undefined;
    if (!req.errorDetail) {
      state.ackedVersion = pending.version;
      state.nacking = false;
      const sinceEventMs = pending.eventAt === undefined ? undefined : Math.max(0, this.options.now() - pending.eventAt);
      return { type: 'ack', nonce, version: pending.version, sinceEventMs };
    }
    // A NACKed change is not measured: the NACK counters say it did not converge.
    state.nacking = true;
    state.lastNack = {
      nonce, version: pending.version, message: req.errorDetail.message ?? '',
      resourceErrors: (req.errorDetail.resourceErrors ?? []).map((e) => ({ name: e.name ?? '', message: e.message ?? '' })),
      at: this.options.now(),
    };
    return { type: 'nack', nack: state.lastNack };
  }
}

export interface TypeJson {
  mode: SubscriptionMode;
  subscriptions: string[];
  ackedVersion: string | null;
  sentVersion: string | null;
  pendingNonce: string | null;
  lastNack: NackRecord | null;
  /** The client ACKed the current version of what it subscribes to. */
  synced: boolean;
}

export interface SubscriberJson {
  id: string | null;
  peer: string | null;
  node: NodeIdentity | null;
  connectedAt: number;
  types: Record<string, TypeJson>;
}

function newTypeState(mode: SubscriptionMode, now: number): TypeState {
  return {
    mode, subscription: new Subscription(), held: new HeldResources(), toldAbsent: new Set(), sentVersion: undefined,
    owed: false, seeded: false, pending: undefined, ackedVersion: undefined, lastNack: undefined,
    nacking: false, subscribedAt: now, unsentEventAt: undefined,
  };
}

/** SotW: resource_names is the whole wanted set each time; empty means "*". */
function applySotw(state: TypeState, req: DiscoveryRequest, first: boolean): void {
  const wanted = new Subscription(req.resourceNames.length > 0 ? req.resourceNames : ['*']);
  if (first) {
    state.subscription = wanted;
    // Reconnect: the client's version_info is what it has applied; nothing is sent if current.
    if (req.versionInfo) state.ackedVersion = state.sentVersion = req.versionInfo;
    else state.owed = true;
  } else if (!wanted.equals(state.subscription)) {
    state.subscription = wanted;
    state.owed = true;
  }
}

/** Delta: subscribe/unsubscribe change the set; the first request may seed what the client holds. */
function applyDelta(state: TypeState, req: DiscoveryRequest, first: boolean): void {
  const sub = state.subscription;
  for (const pattern of req.resourceNamesSubscribe) if (sub.add(pattern)) state.owed = true;
  let dropped = false;
  for (const pattern of req.resourceNamesUnsubscribe) if (sub.delete(pattern)) dropped = true;
  if (dropped) {
    // The client forgets unsubscribed resources by itself: no removal is sent for them.
    for (const name of state.held.names()) if (!sub.covers(name)) state.held.delete(name);
    for (const name of [...state.toldAbsent]) if (!sub.explicitNames().has(name)) state.toldAbsent.delete(name);
  }
  if (!first) return;
  const initial = Object.entries(req.initialResourceVersions ?? {});
  if (initial.length === 0) {
    state.owed = true;
    return;
  }
  for (const [name, version] of initial) if (sub.covers(name)) state.held.set(name, version);
  state.owed = false;
  state.seeded = true;
}

function identityOf(node: NonNullable<DiscoveryRequest['node']>): NodeIdentity {
  return {
    id: node.id ?? '', pod: node.podName ?? '', namespace: node.namespace ?? '', nodeName: node.nodeName ?? '',
    locality: { region: node.locality?.region ?? '', zone: node.locality?.zone ?? '' },
    agentVersion: node.agentVersion ?? '', adminAddress: node.adminAddress ?? '',
  };
}

function localityKey(locality: Locality): string {
  return `${locality.region}/${locality.zone}`;
}

function modeName(mode: SubscriptionMode): string {
  return mode === 'delta' ? 'DELTA' : 'STATE_OF_THE_WORLD';
}
