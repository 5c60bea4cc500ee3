// What one subscriber asked for, per resource type, and the part of a snapshot it covers.
// Patterns (protocol names.ts): "*" (everything), "<ns>/*" (a namespace), "<ns>/<name>".
import {
  combinedVersion, WILDCARD, type EncodedResource, type ResourceType,
} from '@skein/protocol';
import type { Snapshot } from './snapshot.js';

/** A set of subscription patterns with O(1) matching. Patterns must be valid (names.ts). */
export class Subscription {
  private wildcard = false;
  private readonly namespaces = new Set<string>();
  private readonly names = new Set<string>();

  constructor(patterns: Iterable<string> = []) {
    for (const pattern of patterns) this.add(pattern);
  }

  /** Adds a pattern; returns whether it was new. */
  add(pattern: string): boolean {
    if (pattern === WILDCARD) {
      const added = !this.wildcard;
      this.wildcard = true;
      return added;
    }
    const set = pattern.endsWith('/*') ? this.namespaces : this.names;
    const key = set === this.namespaces ? pattern.slice(0, -2) : pattern;
    if (set.has(key)) return false;
    set.add(key);
    return true;
  }

  /** Removes a pattern; returns whether it was present. */
  delete(pattern: string): boolean {
    if (pattern === WILDCARD) {
      const had = this.wildcard;
      this.wildcard = false;
      return had;
    }
    return pattern.endsWith('/*') ? this.namespaces.delete(pattern.slice(0, -2)) : this.names.delete(pattern);
  }

  /** Whether resource `name` is covered by some pattern. */
  covers(name: string): boolean {
    if (this.wildcard || this.names.has(name)) return true;
    const slash = name.indexOf('/');
    return slash > 0 && this.namespaces.has(name.slice(0, slash));
  }

  /** Exact names subscribed one by one (on demand). */
  explicitNames(): ReadonlySet<string> {
    return this.names;
  }

  /** Every pattern, sorted. */
  patterns(): string[] {
    const out = [...this.namespaces].map((ns) => `${ns}/*`).concat([...this.names]);
    if (this.wildcard) out.push(WILDCARD);
    return out.sort();
  }

  equals(other: Subscription): boolean {
    return this.wildcard === other.wildcard && sameSet(this.namespaces, other.namespaces) && sameSet(this.names, other.names);
  }

  /** The covered part of one type of `snapshot`. Shared across subscribers with the same scope. */
  view(snapshot: Snapshot, typeUrl: ResourceType): SubscriptionView {
    const all = snapshot.resources.get(typeUrl) ?? EMPTY;
    if (this.wildcard) return { version: snapshot.typeVersions.get(typeUrl) ?? combinedVersion([]), resources: all };
    // Namespace-scoped views are common (every sidecar of a namespace), so memoize them per
    // snapshot; on-demand name sets are per subscriber and cheap to compute.
    const key = this.names.size === 0 ? `${typeUrl}\n${[...this.namespaces].sort().join('\n')}` : undefined;
    const memo = key === undefined ? undefined : memoFor(snapshot);
    const cached = key === undefined ? undefined : memo!.get(key);
    if (cached) return cached;
    const resources = new Map<string, EncodedResource>();
    if (this.namespaces.size > 0) {
      for (const [name, resource] of all) if (this.covers(name)) resources.set(name, resource);
    } else {
      for (const name of [...this.names].sort()) {
        const resource = all.get(name);
        if (resource) resources.set(name, resource);
      }
    }
    const view = { version: combinedVersion([...resources.values()].map((r) => [r.name, r.version] as const)), resources };
    if (key !== undefined) memo!.set(key, view);
    return view;
  }
}

/** The resources of one type a subscription covers in one snapshot. */
export interface SubscriptionView {
  /** Content hash over exactly these resources: equal to the type version for "*". */
  readonly version: string;
  /** By name, in name order. */
  readonly resources: ReadonlyMap<string, EncodedResource>;
}

const EMPTY: ReadonlyMap<string, EncodedResource> = new Map();
const memos = new WeakMap<Snapshot, Map<string, SubscriptionView>>();

function memoFor(snapshot: Snapshot): Map<string, SubscriptionView> {
  let memo = memos.get(snapshot);
  if (!memo) memos.set(snapshot, (memo = new Map()));
  return memo;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
