// Equality-based label selectors, as Service.spec.selector uses them.

/**
 * Whether `labels` satisfy every entry of `selector`. An empty or absent selector selects
 * nothing: a Service without a selector gets no endpoints from Pods (core/v1 ServiceSpec).
 */
export function matchesSelector(
  selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>> | undefined,
): boolean {
  const entries = Object.entries(selector ?? {});
  if (entries.length === 0) return false;
  return entries.every(([key, value]) => labels !== undefined && Object.hasOwn(labels, key) && labels[key] === value);
}
