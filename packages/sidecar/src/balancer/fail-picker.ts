// The picker of a Service port with no eligible endpoint: every pick fails with one error,
// so a request that already holds it fails fast and the next request sees a new picker.
import type { DestinationError, Picker, PickResult } from '../dataplane.js';

/** Fails every pick with `error` (SKEIN_ERR_NO_ENDPOINT, SKEIN_ERR_LOCAL_NO_ENDPOINT). Allocation-free. */
export class FailPicker implements Picker {
  readonly size = 0;
  private readonly result: PickResult;

  constructor(readonly error: DestinationError) {
    this.result = Object.freeze({ type: 'fail' as const, error });
  }

  pick(_exclude?: ReadonlySet<string>): PickResult {
    return this.result;
  }
}
