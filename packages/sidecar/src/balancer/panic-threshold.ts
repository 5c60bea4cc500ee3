// The panic threshold of the "health" step (ARCHITECTURE 5): when too few endpoints of a set are
// healthy, routing only to them would overload them, so health is ignored for that set.
//
// Envoy's rule (docs: intro/arch_overview/upstream/load_balancing/panic_threshold.rst,
// `common_lb_config.healthy_panic_threshold`): a set is in panic when
// 100 * healthy / total < threshold; in panic the balancer uses every endpoint, healthy or not.
// The default threshold is 50%; 0 disables panic (all ejected means no endpoint). Envoy applies
// it per priority level; the locality step calls this once per tier the same way.

/** Envoy's default `healthy_panic_threshold`, in percent. */
export const DEFAULT_PANIC_THRESHOLD_PERCENT = 50;

/** The endpoints to balance over, and why (for /explain and span attributes). */
export type HealthySet<T> =
  /** Enough are healthy: only those. `excluded` unhealthy ones were left out. */
  | { readonly type: 'healthy'; readonly endpoints: readonly T[]; readonly excluded: number }
  /** Too few healthy (`healthy` of `endpoints.length`): every endpoint, health ignored. */
  | { readonly type: 'panic'; readonly endpoints: readonly T[]; readonly healthy: number };

/**
 * Filters `endpoints` to the healthy ones unless fewer than `thresholdPercent` are healthy, in
 * which case all are returned. Returns `endpoints` itself when none is excluded. An empty input
 * is 'healthy' and empty.
 */
export function applyPanicThreshold<T>(
  endpoints: readonly T[],
  isHealthy: (endpoint: T) => boolean,
  thresholdPercent: number = DEFAULT_PANIC_THRESHOLD_PERCENT,
): HealthySet<T> {
  const healthy = endpoints.filter(isHealthy);
  if (healthy.length === endpoints.length) return { type: 'healthy', endpoints, excluded: 0 };
  if ((100 * healthy.length) / endpoints.length < thresholdPercent) return { type: 'panic', endpoints, healthy: healthy.length };
  return { type: 'healthy', endpoints: healthy, excluded: endpoints.length - healthy.length };
}
