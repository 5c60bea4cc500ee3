// Untrusted input becomes plain, JSON-shaped data before it is stored: a private copy the
// caller can no longer mutate, with Dates as RFC 3339 strings and keys sorted, so two
// deliveries of the same object compare equal as canonical JSON text.

export type PlainDataResult = { ok: true; value: unknown } | { ok: false; reason: string };

/**
 * A deep copy of `value` as JSON data with sorted object keys. `undefined`, functions and
 * symbols are dropped (as JSON.stringify does), and so are fields set to null: in the
 * Kubernetes API an explicit null means unset. Non-finite numbers become null, bigints
 * decimal strings. A reference cycle (possible with YAML anchors) is a reason, not a throw.
 */
export function toPlainData(value: unknown): PlainDataResult {
  const ancestors = new Set<object>();
  let cycle = false;
  const walk = (v: unknown): unknown => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        return Number.isFinite(v) ? v : null;
      case 'bigint':
        return v.toString();
      case 'object': {
        if (v === null) return null;
        if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
        if (ancestors.has(v)) {
          cycle = true;
          return null;
        }
        ancestors.add(v);
        let out: unknown;
        if (Array.isArray(v)) {
          out = v.map((item) => walk(item) ?? null);
        } else {
          const record: Record<string, unknown> = {};
          for (const key of Object.keys(v).sort()) {
            const item = walk((v as Record<string, unknown>)[key]);
            if (item !== undefined && item !== null) record[key] = item;
          }
          out = record;
        }
        ancestors.delete(v);
        return out;
      }
      default:
        return undefined;
    }
  };
  const result = walk(value);
  return cycle ? { ok: false, reason: 'the object refers to itself (a YAML anchor cycle?)' } : { ok: true, value: result };
}

/**
 * Canonical JSON of plain data from `toPlainData`, without the metadata that changes on
 * every write but not the object's meaning (resourceVersion, managedFields).
 */
export function canonicalJson(plain: unknown): string {
  if (typeof plain !== 'object' || plain === null || Array.isArray(plain)) return JSON.stringify(plain);
  const object = plain as Record<string, unknown>;
  const metadata = object.metadata;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return JSON.stringify(object);
  const { resourceVersion: _rv, managedFields: _mf, ...kept } = metadata as Record<string, unknown>;
  return JSON.stringify({ ...object, metadata: kept });
}
