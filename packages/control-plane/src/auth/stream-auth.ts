// Who may open a discovery stream: the contract between the discovery server and the ways of
// proving an identity (--auth none | token-file:<path> | kubernetes). Pure types and helpers.

/** What the subscriber claims to be, from the Node of its first request. */
export interface AuthClaim {
  readonly pod: string;
  readonly namespace: string;
  /** May be empty (library mode outside a pod). */
  readonly nodeName: string;
}

/** Why a stream was refused; the label of `skein_xds_auth_failures_total{reason}`. */
export type AuthFailureReason =
  /** No token in the call metadata nor in the Node. */
  | 'no-token'
  /** The token is not valid (unknown, expired, revoked, or not the static token). */
  | 'invalid-token'
  /** The token is valid for other audiences than --token-audience. */
  | 'wrong-audience'
  /** A valid token that proves no pod (not a ServiceAccount, or not bound to a pod). */
  | 'not-a-pod-token'
  | 'namespace-mismatch'
  | 'pod-mismatch'
  | 'node-mismatch'
  /** The token could not be checked (TokenReview failed, token file unreadable): retry later. */
  | 'review-failed';

/** How a refusal ends the stream; the discovery server maps these to gRPC codes. */
export type RefusalStatus = 'unauthenticated' | 'permission-denied' | 'unavailable';

export type AuthDecision =
  /** `subject`: who the token proved, for the log ("system:serviceaccount:ns:sa"). */
  | { readonly type: 'allow'; readonly subject: string }
  | { readonly type: 'refuse'; readonly status: RefusalStatus; readonly reason: AuthFailureReason; readonly message: string };

/** Checks a stream's token against the identity its Node claims. */
export interface StreamAuthenticator {
  /** The mode, for logs: "none", "token-file", "kubernetes". */
  readonly mode: string;
  /**
   * Called once per stream, after its first request and before anything is sent on it.
   * Never rejects: every failure is a refusal (`unavailable` when the check itself failed).
   * Never logs or returns the token.
   */
  authenticate(token: string | undefined, claim: AuthClaim): Promise<AuthDecision>;
}

/** --auth none: every stream is admitted. */
export const noAuth: StreamAuthenticator = {
  mode: 'none',
  authenticate: () => Promise.resolve({ type: 'allow', subject: 'anonymous' }),
};

/** The token of an `authorization: Bearer <token>` value; undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

export function refuse(status: RefusalStatus, reason: AuthFailureReason, message: string): AuthDecision {
  return { type: 'refuse', status, reason, message };
}
