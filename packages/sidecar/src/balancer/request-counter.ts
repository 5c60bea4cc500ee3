// The duck-typed check for pickers that count outstanding requests (least request): done once
// per request by the proxy and library mode, never per pick.
import type { Picker, RequestCounter } from '../dataplane.js';

/** `picker` itself when it counts outstanding requests (`started`/`finished`), else undefined. */
export function requestCounterOf(picker: Picker): RequestCounter | undefined {
  const counter = picker as Partial<RequestCounter>;
  return typeof counter.started === 'function' && typeof counter.finished === 'function' ? (picker as Picker & RequestCounter) : undefined;
}
