// Per-service mesh settings: the Service's `skein.io/*` annotations parsed into a protocol
// MeshPolicy (ARCHITECTURE section 5). Every problem is reported, not just the first, and an
// unknown `skein.io/` key is a problem too, so a typo does not silently do nothing.
import { LoadBalancer, type MeshPolicy } from '@skein/protocol';

export const ANNOTATION_PREFIX = 'skein.io/';
export const ANNOTATION_LOAD_BALANCER = 'skein.io/load-balancer';
export const ANNOTATION_HASH_KEY = 'skein.io/hash-key';
export const ANNOTATION_LOCALITY_FAILOVER = 'skein.io/locality-failover';
export const ANNOTATION_RETRIES = 'skein.io/retries';
export const ANNOTATION_TIMEOUT = 'skein.io/timeout';
export const ANNOTATION_OUTLIER_DETECTION = 'skein.io/outlier-detection';

const KNOWN = new Set([
  ANNOTATION_LOAD_BALANCER, ANNOTATION_HASH_KEY, ANNOTATION_LOCALITY_FAILOVER,
  ANNOTATION_RETRIES, ANNOTATION_TIMEOUT, ANNOTATION_OUTLIER_DETECTION,
]);

type LoadBalancerValue = NonNullable<MeshPolicy['loadBalancer']>;
const LOAD_BALANCERS: ReadonlyMap<string, LoadBalancerValue> = new Map([
  ['round-robin', LoadBalancer.LOAD_BALANCER_ROUND_ROBIN],
  ['random', LoadBalancer.LOAD_BALANCER_RANDOM],
  ['least-request', LoadBalancer.LOAD_BALANCER_LEAST_REQUEST],
  ['ring-hash', LoadBalancer.LOAD_BALANCER_RING_HASH],
  ['maglev', LoadBalancer.LOAD_BALANCER_MAGLEV],
]);

/** Outlier detection when the annotation is absent: on (other meshes leave it off). */
export const DEFAULT_OUTLIER_DETECTION = {
  enabled: true, consecutiveErrors: 5, baseEjectionMs: 30_000, maxEjectionPercent: 50,
} as const;

const HOUR_MS = 3_600_000;
const UINT32_MAX = 4_294_967_295;
// RFC 9110 token: header and cookie names.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export type MeshPolicyResult = { ok: true; policy: MeshPolicy } | { ok: false; reasons: string[] };

/** What of the Service, besides its annotations, changes a default. */
export interface MeshPolicyContext {
  /** The Service sets a recognised trafficDistribution: locality failover defaults to on. */
  readonly trafficDistribution: boolean;
}

/**
 * Parses the `skein.io/*` annotations of a Service. Other annotations are ignored. Returns the
 * complete policy with defaults filled in, or every reason the annotations are wrong.
 */
export function parseMeshPolicy(
  annotations: Readonly<Record<string, string>> | undefined, context: MeshPolicyContext,
): MeshPolicyResult {
  const reasons: string[] = [];
  const a = annotations ?? {};
  const fail = (key: string, message: string): void => {
    reasons.push(`annotation ${key}: ${JSON.stringify(a[key])} ${message}`);
  };
  for (const key of Object.keys(a).sort()) {
    if (key.startsWith(ANNOTATION_PREFIX) && !KNOWN.has(key)) {
      reasons.push(`annotation ${key} is not a Skein annotation (known: ${[...KNOWN].join(', ')})`);
    }
  }

  const policy: MeshPolicy = {
    loadBalancer: LoadBalancer.LOAD_BALANCER_ROUND_ROBIN,
    hashKey: { sourceIp: true },
    localityFailover: context.trafficDistribution,
    outlierDetection: { ...DEFAULT_OUTLIER_DETECTION },
  };

  const lb = a[ANNOTATION_LOAD_BALANCER];
  if (lb !== undefined) {
    const value = LOAD_BALANCERS.get(lb);
    if (value === undefined) fail(ANNOTATION_LOAD_BALANCER, `is not one of ${[...LOAD_BALANCERS.keys()].join(', ')}`);
    else policy.loadBalancer = value;
  }

  const hashKey = a[ANNOTATION_HASH_KEY];
  if (hashKey !== undefined) {
    // Accepted with any balancer: harmless where no hash is used.
    const parsed = parseHashKey(hashKey);
    if (typeof parsed === 'string') fail(ANNOTATION_HASH_KEY, parsed);
    else policy.hashKey = parsed;
  }

  const failover = a[ANNOTATION_LOCALITY_FAILOVER];
  if (failover !== undefined) {
    if (failover === 'true' || failover === 'false') policy.localityFailover = failover === 'true';
    else fail(ANNOTATION_LOCALITY_FAILOVER, 'is not "true" or "false"');
  }

  const retries = a[ANNOTATION_RETRIES];
  if (retries !== undefined) {
    if (/^\d{1,2}$/.test(retries) && Number(retries) <= 10) policy.retries = Number(retries);
    else fail(ANNOTATION_RETRIES, 'is not an integer 0-10');
  }

  const timeout = a[ANNOTATION_TIMEOUT];
  if (timeout !== undefined) {
    const parsed = parseDuration(timeout);
    if (typeof parsed === 'string') fail(ANNOTATION_TIMEOUT, parsed);
    else policy.timeoutMs = parsed;
  }

  const outlier = a[ANNOTATION_OUTLIER_DETECTION];
  if (outlier !== undefined) {
    const parsed = parseOutlierDetection(outlier);
    if (Array.isArray(parsed)) for (const reason of parsed) fail(ANNOTATION_OUTLIER_DETECTION, reason);
    else policy.outlierDetection = parsed;
  }

  return reasons.length > 0 ? { ok: false, reasons } : { ok: true, policy };
}

/** `source-ip`, `header:<name>` (lower-cased, as HTTP header names are case-insensitive) or `cookie:<name>`. */
function parseHashKey(text: string): NonNullable<MeshPolicy['hashKey']> | string {
  if (text === 'source-ip') return { sourceIp: true };
  const colon = text.indexOf(':');
  const kind = colon < 0 ? text : text.slice(0, colon);
  const name = colon < 0 ? '' : text.slice(colon + 1);
  if ((kind === 'header' || kind === 'cookie') && colon >= 0) {
    if (!TOKEN.test(name)) return `names no valid ${kind} (token characters only)`;
    return kind === 'header' ? { header: name.toLowerCase() } : { cookie: name };
  }
  return 'is not header:<name>, cookie:<name> or source-ip';
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: HOUR_MS };
const DURATION = /^(?:\d+(?:\.\d{1,9})?(?:ms|s|m|h))+$/;
const DURATION_PART = /(\d+)(?:\.(\d{1,9}))?(ms|s|m|h)/g;

/**
 * A duration in whole milliseconds, more than 0 and at most 1h: `250ms`, `2s`, `1.5s`, `1m`,
 * or a sum like Go's `1m30s`. Returns a reason when it is not one.
 */
export function parseDuration(text: string): number | string {
  if (!DURATION.test(text)) return 'is not a duration like 250ms, 2s, 1.5s or 1m';
  let ms = 0;
  for (const [, whole, fraction = '', unit] of text.matchAll(DURATION_PART)) {
    const scale = UNIT_MS[unit!]!;
    // Exact decimal arithmetic: 1.001s is 1001 ms, not 1000.9999999999999.
    const denominator = 10 ** fraction.length;
    const fractional = Number(fraction || '0') * scale;
    if (fractional % denominator !== 0) return 'is finer than a millisecond';
    ms += Number(whole) * scale + fractional / denominator;
  }
  if (ms <= 0 || ms > HOUR_MS) return 'is out of range: more than 0 and at most 1h';
  return ms;
}

/** `off`, or a comma list of `consecutive=<n>`, `ejection=<duration>`, `max-percent=<0-100>`. */
function parseOutlierDetection(text: string): NonNullable<MeshPolicy['outlierDetection']> | string[] {
  if (text.trim() === 'off') return { enabled: false, consecutiveErrors: 0, baseEjectionMs: 0, maxEjectionPercent: 0 };
  const result = { ...DEFAULT_OUTLIER_DETECTION } as { enabled: boolean; consecutiveErrors: number; baseEjectionMs: number; maxEjectionPercent: number };
  const reasons: string[] = [];
  const seen = new Set<string>();
  for (const item of text.split(',')) {
    const [rawKey = '', value = '', extra] = item.trim().split('=');
    const key = rawKey.trim();
    if (extra !== undefined || !value) {
      reasons.push(`item ${JSON.stringify(item.trim())} is not key=value (expected off or consecutive=<n>,ejection=<duration>,max-percent=<0-100>)`);
      continue;
    }
    if (seen.has(key)) reasons.push(`sets ${key} twice`);
    seen.add(key);
    const v = value.trim();
    if (key === 'consecutive') {
      if (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= UINT32_MAX) result.consecutiveErrors = Number(v);
      else reasons.push(`consecutive=${v} is not an integer of at least 1`);
    } else if (key === 'ejection') {
      const ms = parseDuration(v);
      if (typeof ms === 'string') reasons.push(`ejection=${v} ${ms}`);
      else result.baseEjectionMs = ms;
    } else if (key === 'max-percent') {
      if (/^\d{1,3}$/.test(v) && Number(v) <= 100) result.maxEjectionPercent = Number(v);
      else reasons.push(`max-percent=${v} is not an integer 0-100`);
    } else {
      reasons.push(`${JSON.stringify(key)} is not one of consecutive, ejection, max-percent`);
    }
  }
  return reasons.length > 0 ? reasons : result;
}
