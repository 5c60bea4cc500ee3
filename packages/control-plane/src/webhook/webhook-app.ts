// The injection webhook's hono app (served over HTTPS on --webhook-port): POST /inject takes an
// AdmissionReview v1 for a Pod and answers with the JSON patch that adds the sidecar. Handlers
// use the fetch API only. A malformed request gets a 400 naming what is wrong; anything that
// goes wrong inside is answered "allowed, unchanged" with a warning, as failurePolicy Ignore
// would, so a bug in the injector never blocks pod creation.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from '../log.js';
import { admissionResponse, parseAdmissionReview } from './admission-review.js';
import { injectSidecar, type InjectionSettings } from './injector.js';

export type InjectionOutcome = 'injected' | 'skipped' | 'error';

export interface WebhookAppDeps {
  settings: InjectionSettings;
  log: Logger;
  /** Called once per well-formed review (metrics). */
  onOutcome?(outcome: InjectionOutcome): void;
}

/** The API server sends objects up to ~3 MiB; more than this is not a Pod. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** `namespace/name`, or `namespace/generateName*` for pods of a controller (no name yet). */
function describePod(namespace: string, object: Record<string, unknown>): string {
  const metadata = (object.metadata ?? {}) as { name?: unknown; generateName?: unknown };
  if (typeof metadata.name === 'string' && metadata.name !== '') return `${namespace}/${metadata.name}`;
  return `${namespace}/${typeof metadata.generateName === 'string' ? metadata.generateName : ''}*`;
}

export function webhookApp(deps: WebhookAppDeps): Hono {
  const app = new Hono();
  app.post(
    '/inject',
    bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json({ error: `malformed AdmissionReview: the body is larger than ${MAX_BODY_BYTES} bytes` }, 413) }),
    async (c) => {
      const parsed = parseAdmissionReview(await c.req.text());
      if (!parsed.ok) {
        deps.log.warn({ reason: parsed.error }, `webhook: rejected a request: ${parsed.error}`);
        return c.json({ error: parsed.error }, 400);
      }
      const { uid, namespace, operation, object } = parsed.request;
      const pod = describePod(namespace, object);
      if (operation !== 'CREATE') {
        // Containers of an existing pod cannot change: only creation is ever patched.
        deps.onOutcome?.('skipped');
        return c.json(admissionResponse(uid));
      }
      try {
        const result = injectSidecar(object, namespace, deps.settings);
        if (result.type === 'skip') {
          deps.onOutcome?.('skipped');
          deps.log.debug({ pod, reason: result.reason }, `webhook: ${pod} not injected: ${result.reason}`);
          return c.json(admissionResponse(uid));
        }
        deps.onOutcome?.('injected');
        deps.log.info({ pod, mode: result.mode, warnings: result.warnings }, `webhook: injected the sidecar into ${pod} (${result.mode})`);
        return c.json(admissionResponse(uid, result.patch, result.warnings));
      } catch (err) {
        deps.onOutcome?.('error');
        deps.log.error({ err, pod }, `webhook: injecting ${pod} failed; the pod is admitted unchanged`);
        return c.json(admissionResponse(uid, [], [`skein: sidecar injection failed (${(err as Error).message}); the pod runs without the mesh`]));
      }
    },
  );
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path} (the webhook answers POST /inject)` }, 404));
  app.onError((err, c) => {
    deps.log.error({ err }, 'webhook: request failed');
    return c.json({ error: err.message }, 500);
  });
  return app;
}
