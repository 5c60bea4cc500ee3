// What a delta subscriber holds of one resource type: name -> version. After every response
// a delta client holds exactly the view it was sent, so the usual state is a reference to that
// view's map, shared with the snapshot and with every subscriber of the same view: thousands
// of subscribers cost no copy of it. A private map appears only when the client's holdings
// are its own (versions it brought on reconnect, names it unsubscribed).
//
// Diffs between two shared views are computed once and reused by every subscriber making the
// same step, so a push costs O(changes) per subscriber, not O(resources).
import type { EncodedResource } from '@skein/protocol';

/** What differs between what a subscriber holds and a view. Shared: callers must not mutate it. */
export interface HeldDiff {
  /** Resources of the view whose version the subscriber does not hold, in the view's order. */
  readonly changed: readonly EncodedResource[];
  /** Names held that the view no longer has, sorted. */
  readonly removed: readonly string[];
}

type View = ReadonlyMap<string, EncodedResource>;

const EMPTY_VIEW: View = new Map();
const NO_DIFF: HeldDiff = Object.freeze({ changed: Object.freeze([]) as readonly EncodedResource[], removed: Object.freeze([]) as readonly string[] });
/**
 * Diffs between shared views, by target view, then by source view. Both keys are weak and a
 * diff holds no view, so a subscriber stuck on an old view keeps that view alive, not every
 * view published since.
 */
const diffs = new WeakMap<View, WeakMap<View, HeldDiff>>();

export class HeldResources {
  /** The view held exactly (shared, never mutated here); undefined while `own` is used. */
  private shared: View | undefined = EMPTY_VIEW;
  private own: Map<string, string> | undefined;

  get size(): number {
    return this.shared?.size ?? this.own!.size;
  }

  /** The version held of `name`, if any. */
  version(name: string): string | undefined {
    return this.shared ? this.shared.get(name)?.version : this.own!.get(name);
  }

  has(name: string): boolean {
    return this.shared ? this.shared.has(name) : this.own!.has(name);
  }

  /** Names held (a snapshot of them: the caller may change this object while iterating). */
  names(): string[] {
    return [...(this.shared ?? this.own!).keys()];
  }

  /** Records that the client holds `version` of `name` (from initial_resource_versions). */
  set(name: string, version: string): void {
    this.materialize().set(name, version);
  }

  /** Forgets `name` (the client unsubscribed it). */
  delete(name: string): boolean {
    return this.has(name) && this.materialize().delete(name);
  }

  /** The client now holds exactly `view` (a response carried every difference). Keeps a reference, no copy. */
  holdExactly(view: View): void {
    this.shared = view;
    this.own = undefined;
  }

  /** Whether the client holds exactly the resources of `view` (by identity of the map). */
  holdsExactly(view: View): boolean {
    return this.shared === view;
  }

  /** What must be sent so that the client holds `view`, computed once per pair of shared views. */
  diff(view: View): HeldDiff {
    const from = this.shared;
    if (from === view) return NO_DIFF;
    if (from === undefined) return compute((name) => this.own!.get(name), this.own!.keys(), view);
    let memo = diffs.get(view);
    if (!memo) diffs.set(view, (memo = new WeakMap()));
    let diff = memo.get(from);
    if (!diff) memo.set(from, (diff = compute((name) => from.get(name)?.version, from.keys(), view)));
    return diff;
  }

  private materialize(): Map<string, string> {
    if (this.shared) {
      const own = new Map<string, string>();
      for (const [name, resource] of this.shared) own.set(name, resource.version);
      this.own = own;
      this.shared = undefined;
    }
    return this.own!;
  }
}

function compute(versionOf: (name: string) => string | undefined, heldNames: Iterable<string>, view: View): HeldDiff {
  const changed: EncodedResource[] = [];
  for (const [name, resource] of view) if (versionOf(name) !== resource.version) changed.push(resource);
  const removed: string[] = [];
  for (const name of heldNames) if (!view.has(name)) removed.push(name);
  removed.sort();
  return changed.length === 0 && removed.length === 0 ? NO_DIFF : { changed, removed };
}
