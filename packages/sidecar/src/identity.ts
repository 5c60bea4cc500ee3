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
}

export const AGENT_VERSION = '0.1.0';
