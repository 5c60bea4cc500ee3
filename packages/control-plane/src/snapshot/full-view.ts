// A view sent whole (every SotW push, a delta subscriber's first sync) is listed and encoded
// once for all the subscribers it goes to: at thousands of subscribers, the 1 MiB-class
// EndpointGroup view of a large cluster is encoded once per version, not once per stream.
import { encodeResourceField, type EncodedResource } from '@skein/protocol';

export interface FullView {
  /** Every resource of the view, in its order. Shared: callers must not mutate it. */
  readonly resources: readonly EncodedResource[];
  /** `resources` as DiscoveryResponse field 3 (`encodeResourceField`). */
  readonly encoded: Uint8Array;
}

/** Keyed weakly by the view's map: an entry lives as long as the snapshot (or a holder) keeps the view. */
const views = new WeakMap<ReadonlyMap<string, EncodedResource>, FullView>();

/** The whole of `view`, listed and encoded on first use. */
export function fullView(view: ReadonlyMap<string, EncodedResource>): FullView {
  let full = views.get(view);
  if (!full) {
    const resources = [...view.values()];
    full = { resources, encoded: encodeResourceField(resources) };
    views.set(view, full);
  }
  return full;
}
