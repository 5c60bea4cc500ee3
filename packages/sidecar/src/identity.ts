// Who this data plane is: sent to the control plane and used for locality decisions.
export interface NodeIdentity {
  /** Unique per proxy: "<pod>.<namespace>" for sidecars, chosen by the app in library mode. */
  readonly id: string;
  readonly podName: string;
  readonly namespace: string;
  readonly podIp: string;
  readonly nodeName: string;
  readonly zone: string;
  readonly region: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** Projected ServiceAccount token or static token; never logged. */
  readonly token?: string;
  /**
   * host:port where this proxy's admin API answers (/config_dump, /explain), reported to the
   * control plane so skeinctl can find a proxy by pod name; unset in library mode (no admin API).
   */
  readonly adminAddress?: string;
}

export const AGENT_VERSION = '0.1.0';

/**
 * The admin address to report for an admin API bound to `host`:`port`. A wildcard bind is
 * reachable from outside the pod at the pod IP (or only locally when the IP is unknown); a
 * specific bind address is reported as is.
 */
export function advertisedAdminAddress(host: string, port: number, podIp: string): string {
  const wildcard = host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
  const reported = wildcard ? podIp || '127.0.0.1' : host.replace(/^\[(.*)\]$/, '$1');
  return reported.includes(':') ? `[${reported}]:${port}` : `${reported}:${port}`;
}
