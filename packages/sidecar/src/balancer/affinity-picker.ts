// The `SessionAffinity` a ClientIP Service port's Destination carries: the port's long-lived
// ClientIpAffinity table in front of its current picker. Built with the picker (on config
// change), never per request.
import type { PickResult, Picker, SessionAffinity, Target } from '../dataplane.js';
import type { ClientIpAffinity } from './session-affinity.js';

export class AffinityPicker implements SessionAffinity {
  /** The picker's targets by key ("usable"), with a shared pick result each: a hit allocates nothing. */
  readonly results: ReadonlyMap<string, PickResult>;
  /** Whether the last pick was an affinity hit. */
  lastHit = false;
  /** `exclude` of the pick in progress, read by `usable` (one closure per build, not per pick). */
  private exclude: ReadonlySet<string> | undefined;
  private readonly usable = (key: string): boolean => this.results.has(key) && !(this.exclude !== undefined && this.exclude.has(key));

  constructor(readonly table: ClientIpAffinity, readonly picker: Picker) {
    const targets = (picker as { readonly targets?: readonly Target[] }).targets ?? [];
    const results = new Map<string, PickResult>();
    for (const target of targets) results.set(target.key, Object.freeze({ type: 'pick' as const, target }));
    this.results = results;
  }

  pick(clientIp: string, exclude?: ReadonlySet<string>, hash?: number): PickResult {
    if (this.results.size > 0) {
      this.exclude = exclude;
      const hit = this.table.lookup(clientIp, this.usable);
      this.exclude = undefined;
      if (hit !== undefined) {
        this.lastHit = true;
        return this.results.get(hit.key)!;
      }
    }
    this.lastHit = false;
    const picked = this.picker.pick(exclude, hash);
    if (picked.type === 'pick' && this.results.has(picked.target.key) && !(exclude !== undefined && exclude.has(picked.target.key))) {
      this.table.remember(clientIp, picked.target);
    }
    return picked;
  }

  /** The endpoint `clientIp`'s next request would keep (an affinity hit), or undefined; changes nothing. */
  peek(clientIp: string): Target | undefined {
    return this.table.peek(clientIp, (key) => this.results.has(key));
  }

  /** Drops the table's entries on targets of `previous` that this picker no longer offers. */
  forgetLeft(previous: AffinityPicker | undefined): void {
    if (previous === undefined) return;
    for (const key of previous.results.keys()) if (!this.results.has(key)) this.table.forget(key);
  }
}
