// The live subscribers of this replica, for /debug/proxies, `skeinctl status` and metrics.
import type { ResourceType } from '@skein/protocol';
import type { SubscriberJson, SubscriberState } from './subscriber.js';

export class SubscriberRegistry {
  private readonly subscribers = new Set<SubscriberState>();

  /** Registers a subscriber once its stream is identified. Adding twice is a no-op. */
  add(subscriber: SubscriberState): void {
    this.subscribers.add(subscriber);
  }

  /** Forgets a subscriber whose stream ended. Removing an unknown one is a no-op. */
  remove(subscriber: SubscriberState): void {
    this.subscribers.delete(subscriber);
  }

  /** Live subscribers in connection order (a copy). */
  list(): SubscriberState[] {
    return [...this.subscribers];
  }

  get size(): number {
    return this.subscribers.size;
  }

  /** Live subscribers whose last answer for `typeUrl` was a NACK (for a gauge; allocates nothing). */
  countNacking(typeUrl: ResourceType): number {
    let n = 0;
    for (const s of this.subscribers) if (s.isNacking(typeUrl)) n++;
    return n;
  }

  /** The oldest change some live subscriber has not ACKed for `typeUrl` (clock ms); undefined when all hold every change. */
  oldestUnackedChange(typeUrl: ResourceType): number | undefined {
    let oldest: number | undefined;
    for (const s of this.subscribers) {
      const at = s.oldestUnackedChange(typeUrl);
      if (at !== undefined && !(at >= oldest!)) oldest = at;
    }
    return oldest;
  }

  /** Live subscribers whose node id is `nodeId` (a reconnect may briefly overlap its old stream). */
  byNodeId(nodeId: string): SubscriberState[] {
    return this.list().filter((s) => s.node?.id === nodeId);
  }

  toJSON(): SubscriberJson[] {
    return this.list().map((s) => s.toJSON());
  }
}
