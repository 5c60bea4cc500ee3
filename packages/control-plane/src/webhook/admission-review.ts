// Pure: the admission.k8s.io/v1 AdmissionReview as the webhook reads and answers it. Parsing
// names the first thing wrong with a request, for the 400 the API server logs and shows.
import type { PatchOperation } from './injector.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

/** The parts of request the webhook uses. */
export interface AdmissionRequest {
  uid: string;
  /** The namespace the pod is created in (a Deployment's pods have none in metadata yet). */
  namespace: string;
  /** CREATE, UPDATE, DELETE or CONNECT. */
  operation: string;
  object: Record<string, unknown>;
}

export type ParsedReview = { ok: true; request: AdmissionRequest } | { ok: false; error: string };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const fail = (error: string): ParsedReview => ({ ok: false, error: `malformed AdmissionReview: ${error}` });

/** Parses a request body; `ok: false` says what is wrong with it. */
export function parseAdmissionReview(body: string): ParsedReview {
  let review: unknown;
  try {
    review = JSON.parse(body);
  } catch (err) {
    return fail(`the body is not JSON (${(err as Error).message})`);
  }
  if (!isRecord(review)) return fail('the body is not a JSON object');
  if (review.kind !== 'AdmissionReview') return fail(`kind is ${JSON.stringify(review.kind)}, expected "AdmissionReview"`);
  if (review.apiVersion !== ADMISSION_API_VERSION) {
    return fail(`apiVersion is ${JSON.stringify(review.apiVersion)}, expected "${ADMISSION_API_VERSION}" (set admissionReviewVersions: ["v1"])`);
  }
  const request = review.request;
  if (!isRecord(request)) return fail('request is missing');
  if (typeof request.uid !== 'string' || request.uid === '') return fail('request.uid is missing');
  const kind = isRecord(request.kind) ? request.kind : {};
  if (kind.kind !== 'Pod' || (kind.group ?? '') !== '') {
    return fail(`request.kind is ${JSON.stringify(request.kind ?? null)}, the injector only handles core/v1 Pods`);
  }
  const object = request.object;
  if (!isRecord(object)) return fail('request.object is missing');
  if (object.kind !== undefined && object.kind !== 'Pod') return fail(`request.object is a ${JSON.stringify(object.kind)}, not a Pod`);
  if (!isRecord(object.spec) || !Array.isArray(object.spec.containers)) return fail('request.object is not a Pod: spec.containers is missing');
  const metadata = isRecord(object.metadata) ? object.metadata : {};
  const namespace = typeof request.namespace === 'string' && request.namespace !== '' ? request.namespace : metadata.namespace;
  if (typeof namespace !== 'string' || namespace === '') return fail('request.namespace is missing');
  return { ok: true, request: { uid: request.uid, namespace, operation: String(request.operation ?? ''), object } };
}

/** The AdmissionReview answer: always allowed; the patch (base64 JSON) only when non-empty. */
export function admissionResponse(uid: string, patch: readonly PatchOperation[] = [], warnings: readonly string[] = []): Record<string, unknown> {
  const response: Record<string, unknown> = { uid, allowed: true };
  if (patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
  }
  if (warnings.length > 0) response.warnings = warnings;
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}
