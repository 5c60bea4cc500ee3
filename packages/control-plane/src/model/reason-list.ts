// Reads untrusted JSON field by field for the validators. Each accessor returns the value
// only when it has the expected type; otherwise it records a human reason and returns
// undefined, so a validator never throws on garbage (strings for numbers, maps for lists...).
// Kubernetes treats an explicit null like an absent field, and so do the accessors.

/** Short description of a value for a reason: `"80"`, `0`, `a list`, `an object`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 64 ? `${value.slice(0, 61)}...` : value);
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'object':
      return value instanceof Date ? 'a date' : 'an object';
    default:
      return `a ${typeof value}`;
  }
}

/** A plain JSON object (not a list, not a Date). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/**
 * Collects reasons. `within(prefix)` gives a view that prefixes its reasons ("port 80: ")
 * and shares the same list.
 */
export class ReasonList {
  constructor(
    readonly reasons: string[] = [],
    private readonly prefix = '',
  ) {}

  /** Records a reason, prefixed. */
  add(reason: string): void {
    this.reasons.push(this.prefix + reason);
  }

  /** A view whose reasons get `prefix` too, sharing this list. */
  within(prefix: string): ReasonList {
    return new ReasonList(this.reasons, this.prefix + prefix);
  }

  /** An optional object. */
  record(value: unknown, path: string): Record<string, unknown> | undefined {
    if (value == null) return undefined;
    if (isRecord(value)) return value;
    this.add(`${path} is not an object (got ${describeValue(value)})`);
    return undefined;
  }

  /** A list entry that must be an object: null is not "absent" inside a list. */
  item(value: unknown, path: string): Record<string, unknown> | undefined {
    if (isRecord(value)) return value;
    this.add(`${path} is not an object (got ${describeValue(value)})`);
    return undefined;
  }

  /** A list entry that must be a string. */
  stringItem(value: unknown, path: string): string | undefined {
    if (typeof value === 'string') return value;
    this.add(`${path} is not a string (got ${describeValue(value)})`);
    return undefined;
  }

  /** A list; absent means undefined, not an empty list. */
  list(value: unknown, path: string): unknown[] | undefined {
    if (value == null) return undefined;
    if (Array.isArray(value)) return value;
    this.add(`${path} is not a list (got ${describeValue(value)})`);
    return undefined;
  }

  /** An optional string. */
  string(value: unknown, path: string): string | undefined {
    if (value == null) return undefined;
    if (typeof value === 'string') return value;
    this.add(`${path} is not a string (got ${describeValue(value)})`);
    return undefined;
  }

  /** A string that must be present and non-empty. */
  requiredString(value: unknown, path: string): string | undefined {
    const text = this.string(value, path);
    if (value == null || text === '') this.add(`${path} is missing`);
    return text || undefined;
  }

  /** An optional boolean (a quoted "true" is a reason). */
  boolean(value: unknown, path: string): boolean | undefined {
    if (value == null) return undefined;
    if (typeof value === 'boolean') return value;
    this.add(`${path} is not true or false (got ${describeValue(value)})`);
    return undefined;
  }

  /** An integer in [min, max]; a quoted number is a reason, as the Kubernetes API says. */
  integer(value: unknown, path: string, min: number, max: number): number | undefined {
    if (value == null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.add(`${path} ${describeValue(value)} is not an integer`);
      return undefined;
    }
    if (value < min || value > max) {
      this.add(`${path} ${value} is out of range ${min}-${max}`);
      return undefined;
    }
    return value;
  }

  /** An integer in [min, max] that must be present. */
  requiredInteger(value: unknown, path: string, min: number, max: number): number | undefined {
    if (value == null) {
      this.add(`${path} is missing`);
      return undefined;
    }
    return this.integer(value, path, min, max);
  }

  /** A string from a fixed set (case-sensitive, as the Kubernetes API's enums are). */
  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T | undefined {
    const text = this.string(value, path);
    if (text === undefined) return undefined;
    if ((allowed as readonly string[]).includes(text)) return text as T;
    this.add(`${path} ${describeValue(text)} is not one of ${allowed.join(', ')}`);
    return undefined;
  }

  /** A map of string to string (labels, annotations, selectors). */
  stringMap(value: unknown, path: string): Record<string, string> | undefined {
    const map = this.record(value, path);
    if (!map) return undefined;
    let ok = true;
    for (const [key, entry] of Object.entries(map)) {
      if (typeof entry !== 'string') {
        this.add(`${path}[${JSON.stringify(key)}] is not a string (got ${describeValue(entry)}; quote it)`);
        ok = false;
      }
    }
    return ok ? (map as Record<string, string>) : undefined;
  }
}
