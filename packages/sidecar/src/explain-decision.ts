// The per-request part of /explain: where one request — its headers and client address —
// would go now: the hash key read from it, a ClientIP affinity hit, and the endpoint when those
// decide it. Changes nothing: the affinity table is peeked, not looked up, and the picker is only
// asked when the answer is a pure function of the hash (ring hash and maglev).
import type { AffinityPicker } from './balancer/affinity-picker.js';
import { policyName } from './balancer/picker-factory.js';
import { balanceDetails, type PortBalance } from './balancer/port-balancer.js';
import { cookieValue, requestHash } from './balancer/request-hash.js';

/** The request to explain, beyond its URL. */
export interface ExplainRequest {
  /** Request headers by lower-cased name. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The client's address (for ClientIP affinity and `source-ip` hashing). */
  readonly client?: string;
}

/** The decision for `request` on one Service port, as JSON. */
export function describeDecision(balance: PortBalance, affinity: AffinityPicker | undefined, request: ExplainRequest): Record<string, unknown> {
  const client = request.client || undefined;
  const decision: Record<string, unknown> = { client: client ?? null };
  const policy = policyName(balance.loadBalancer);
  const source = balance.hashKey;
  let hash: number | undefined;
  if (source !== undefined) {
    const headers = request.headers ?? {};
    hash = requestHash(source, headers, client);
    const value = source.type === 'source-ip' ? client : source.type === 'header' ? headers[source.name] : (headers.cookie === undefined ? undefined : cookieValue(headers.cookie, source.name));
    decision.hashKey = {
      source: source.type === 'source-ip' ? 'source-ip' : `${source.type}:${source.name}`,
      value: value || null,
      hash: hash ?? null,
      ...(hash === undefined && source.type === 'cookie'
        ? { note: `the sidecar sets a new random ${source.name} cookie on the response; the endpoint it hashes to is then kept` }
        : {}),
    };
  }
  if (affinity !== undefined) {
    const hit = client === undefined ? undefined : affinity.peek(client);
    decision.affinity = client === undefined
      ? { hit: false, note: 'no client address: give ?client=<ip>' }
      : { hit: hit !== undefined, endpoint: hit?.key ?? null };
    if (hit !== undefined) return { ...decision, endpoint: hit.key, by: 'affinity' };
  }
  if (balance.picker.size === 0) return { ...decision, endpoint: null, by: 'no endpoint' };
  // A spill-over between locality priorities is a random draw per request.
  const drawn = (balanceDetails(balance).selection?.tiers.filter((t) => t.load > 0).length ?? 0) > 1;
  if (hash !== undefined && !drawn) {
    const picked = balance.picker.pick(undefined, hash);
    if (picked.type === 'pick') return { ...decision, endpoint: picked.target.key, by: 'hash' };
  }
  const by = source !== undefined && hash === undefined ? `${policy} chooses at random without a hash`
    : drawn ? `${policy} within a locality priority drawn per request by load` : `${policy} chooses per request`;
  return { ...decision, endpoint: null, by };
}
