// Pure: labelled blocks of text for skeinctl's readable output, and a generic one-line
// rendering of any JSON value, so fields a newer proxy adds print instead of failing.

/** "LABEL   value" lines with the values aligned; a multi-line value is indented under its label. */
export function formatFields(rows: ReadonlyArray<readonly [label: string, value: string]>): string {
  const width = Math.max(0, ...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => {
    const [first = '', ...rest] = value.split('\n');
    return [`${label.padEnd(width)}   ${first}`.trimEnd(), ...rest.map((line) => `${' '.repeat(width + 3)}${line}`.trimEnd())].join('\n');
  }).join('\n') + '\n';
}

/** Any JSON value on one line: scalars as they are, arrays comma-separated, objects as key=value. */
export function inline(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value === '' ? '""' : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map((v) => (isRecord(v) ? `{${inline(v)}}` : inline(v))).join(', ');
  if (isRecord(value)) {
    return Object.entries(value).map(([k, v]) => (isRecord(v) ? `${k}={${inline(v)}}` : `${k}=${inline(v)}`)).join(' ');
  }
  return JSON.stringify(value) ?? '-';
}

/** One line per field of an object (in its own order), each value rendered by `inline`. */
export function fieldRows(value: Record<string, unknown>): Array<[string, string]> {
  return Object.entries(value).map(([k, v]) => [k, inline(v)]);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A content version shortened as kubectl shortens hashes; '-' when absent. */
export function shortVersion(version: unknown): string {
  return typeof version === 'string' && version !== '' ? version.slice(0, 8) : '-';
}

/** Strips a protobuf enum prefix: "SERVICE_TYPE_CLUSTER_IP" -> "CLUSTER_IP". */
export function enumName(value: unknown, prefix: string): string {
  return typeof value === 'string' && value !== '' ? value.replace(prefix, '') : '-';
}
