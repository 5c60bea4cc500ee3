// Resource names and subscription patterns.
//
// A resource is named "<namespace>/<name>". A subscription is "*" (everything),
// "<namespace>/*" (one namespace) or an exact resource name (on demand).

export const WILDCARD = '*';

export function resourceName(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function splitResourceName(name: string): { namespace: string; name: string } | undefined {
  const slash = name.indexOf('/');
  if (slash <= 0 || slash === name.length - 1 || name.indexOf('/', slash + 1) !== -1) return undefined;
  return { namespace: name.slice(0, slash), name: name.slice(slash + 1) };
}

/** Whether a subscription pattern is well formed. */
export function isValidSubscription(pattern: string): boolean {
  return pattern === WILDCARD || splitResourceName(pattern) !== undefined;
}

/** Whether `name` is covered by `pattern`. */
export function subscriptionMatches(pattern: string, name: string): boolean {
  if (pattern === WILDCARD) return true;
  if (pattern.endsWith('/*')) return name.startsWith(pattern.slice(0, -1));
  return pattern === name;
}
