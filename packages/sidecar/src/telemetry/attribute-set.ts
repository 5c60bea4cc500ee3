// Span attributes that many spans share. The proxy's spans repeat the same facts request after
// request: those of the destination (method, host, port, service, namespace, rule) and those of
// the endpoint (address, port, zone, tier). A LightSpan refers to such a set instead of copying
// it attribute by attribute, and the OTLP encoder writes the set's bytes, encoded once for all
// the spans that share it. Measured in the sidecar, setting and encoding those attributes one
// by one was about half of a traced request's extra cost.
import type { Attributes, AttributeValue } from '@opentelemetry/api';

export class AttributeSet {
  /** The keys with a value, in insertion order. */
  readonly keys: readonly string[];
  readonly values: readonly AttributeValue[];
  /** The longest string value (or array element), to honour a span's value length limit. */
  readonly longestString: number;
  /**
   * The set as encoded OTLP `Span.attributes` fields (KeyValue, field 9), filled in by the
   * encoder the first time it writes the set. Deterministic bytes, so any encoder may fill it.
   */
  encodedSpanAttributes: Uint8Array | undefined;

  constructor(readonly attributes: Readonly<Attributes>) {
    const keys: string[] = [];
    const values: AttributeValue[] = [];
    let longest = 0;
    for (const key in attributes) {
      const value = attributes[key];
      if (value === undefined || value === null || key.length === 0) continue;
      keys.push(key);
      values.push(value);
      longest = Math.max(longest, longestString(value));
    }
    this.keys = keys;
    this.values = values;
    this.longestString = longest;
  }

  has(key: string): boolean {
    return this.keys.includes(key);
  }
}

function longestString(value: AttributeValue): number {
  if (typeof value === 'string') return value.length;
  if (!Array.isArray(value)) return 0;
  let longest = 0;
  for (const item of value) if (typeof item === 'string') longest = Math.max(longest, item.length);
  return longest;
}
