// deploy/ as the API server would take it (issue 7). Every document of every YAML file under
// deploy/ is validated against the Kubernetes OpenAPI schemas of kubernetes-models, and checked
// for fields those schemas do not define: the API server's strict field validation (kubectl's
// default) refuses them, while kubernetes-models lets them through, so the field names come from
// @kubernetes/client-node's models, generated from the same OpenAPI document. Then the
// properties the control plane, its injection webhook and docs/install.md rely on.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as kubeClient from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { MutatingWebhookConfiguration, type IMutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { Deployment, type IDeployment } from 'kubernetes-models/apps/v1';
import { EndpointSlice } from 'kubernetes-models/discovery.k8s.io/v1';
import { PodDisruptionBudget, type IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import {
  ClusterRole, ClusterRoleBinding, Role, RoleBinding, type IClusterRole, type IPolicyRule, type IRole, type IRoleBinding,
} from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import {
  Endpoints, Namespace, Node, Pod, Service, ServiceAccount, type IContainer, type INamespace, type IService,
} from 'kubernetes-models/v1';
import { parseMeshPolicy } from '../packages/control-plane/src/model/annotations.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEPLOY = join(ROOT, 'deploy');
const IMAGE = 'ghcr.io/skein-mesh/skein:0.1.0';

type AttributeTypeMap = Array<{ baseName: string; type: string }>;
const clientModels = kubeClient as unknown as Record<string, { getAttributeTypeMap?: () => AttributeTypeMap } | undefined>;

type Json = Record<string, unknown>;
type Validatable = { validate(): void };

/** Every kind deploy/ may hold, by apiVersion/kind. A kind not here fails: nothing escapes validation. */
const MODELS: Readonly<Record<string, new (data: never) => Validatable>> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'v1/Endpoints': Endpoints,
  'v1/Node': Node,
  'v1/Pod': Pod,
  'apps/v1/Deployment': Deployment,
  'discovery.k8s.io/v1/EndpointSlice': EndpointSlice,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
};

/** Paths under `object` (typed `type`, a client-node model name or type expression) of fields the schema does not define. */
function unknownFields(object: unknown, type: string, path: string): string[] {
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return Array.isArray(object) ? object.flatMap((item, i) => unknownFields(item, array[1]!, `${path}[${i}]`)) : [];
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  const attributes = clientModels[type]?.getAttributeTypeMap?.();
  if (object === null || typeof object !== 'object' || Array.isArray(object) || (!map && !attributes)) return [];
  const fields = new Map(attributes?.map((a) => [a.baseName, a.type]));
  return Object.entries(object).flatMap(([key, value]) => {
    const fieldType = map ? map[1]! : fields.get(key);
    return fieldType === undefined ? [`${path}.${key}`] : unknownFields(value, fieldType, `${path}.${key}`);
  });
}

/** Validates one object against its schema; throws with every problem found. */
function validateObject(object: Json): void {
  const key = `${String(object.apiVersion)}/${String(object.kind)}`;
  const Model = MODELS[key] as (new (data: unknown) => Validatable) | undefined;
  if (!Model) throw new Error(`${key} has no schema here: add it to MODELS`);
  new Model(object).validate();
  const version = String(object.apiVersion).split('/').pop()!;
  const clientType = `${version[0]!.toUpperCase()}${version.slice(1)}${String(object.kind)}`;
  if (!clientModels[clientType]?.getAttributeTypeMap) throw new Error(`${key}: @kubernetes/client-node has no model ${clientType}`);
  const unknown = unknownFields(object, clientType, String(object.kind));
  if (unknown.length > 0) throw new Error(`${key}: unknown field(s) ${unknown.join(', ')}`);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name)).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry.name) ? [path] : [];
  });
}

interface Doc { file: string; name: string; object: Json }

function load(file: string): Doc[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).flatMap((document, i) => {
    const where = `${relative(DEPLOY, file)} doc ${i + 1}`;
    if (document.errors.length > 0) throw new Error(`${where}: ${document.errors.map((e) => e.message).join('; ')}`);
    const object = document.toJS();
    if (object === null) return []; // an empty document, e.g. after a trailing ---
    if (typeof object !== 'object' || Array.isArray(object)) throw new Error(`${where}: not an object`);
    const o = object as Json & { metadata?: { name?: string; namespace?: string } };
    const name = `${where}: ${String(o.kind)} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? ''}`;
    return [{ file, name, object: o }];
  });
}

const FILES = yamlFiles(DEPLOY);
const KUSTOMIZATIONS = FILES.filter((f) => basename(f) === 'kustomization.yaml');
const MANIFESTS = FILES.filter((f) => basename(f) !== 'kustomization.yaml');
const DOCS = MANIFESTS.flatMap(load);
/** The control plane's own manifests: the files beside deploy/kustomization.yaml. */
const BASE = DOCS.filter((d) => dirname(d.file) === DEPLOY);
const CLUSTER_EXAMPLES = DOCS.filter((d) => dirname(d.file) === join(DEPLOY, 'cluster-examples'));

function find<T>(docs: readonly Doc[], kind: string, name: string): T {
  const found = docs.filter((d) => d.object.kind === kind && (d.object.metadata as { name?: string } | undefined)?.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind} ${name}, found ${found.length}`);
  return found[0]!.object as T;
}

describe('deploy/ manifests validate against the Kubernetes API schemas', () => {
  it('finds the base manifests, the cluster examples and the files-mode examples', () => {
    expect(BASE.length).toBeGreaterThanOrEqual(10);
    expect(CLUSTER_EXAMPLES.length).toBeGreaterThanOrEqual(4);
    expect(DOCS.some((d) => d.file.startsWith(join(DEPLOY, 'examples')))).toBe(true);
  });

  for (const doc of DOCS) {
    it(doc.name, () => {
      validateObject(doc.object);
    });
  }

  it('fails a broken manifest: a wrong type, an unknown field, a missing field, an unknown kind', () => {
    const deployment = structuredClone(find<Json>(BASE, 'Deployment', 'skein-control-plane'));
    expect(() => validateObject(deployment)).not.toThrow();
    expect(() => validateObject({ ...deployment, spec: { ...(deployment.spec as Json), replicas: 'two' } })).toThrow(/replicas must be integer/);

    const typo = structuredClone(deployment) as unknown as IDeployment;
    const container = typo.spec!.template.spec!.containers[0]! as IContainer & Json;
    container.readinesProbe = container.readinessProbe;
    delete container.readinessProbe;
    expect(() => validateObject(typo as unknown as Json)).toThrow(/Deployment\.spec\.template\.spec\.containers\[0\]\.readinesProbe/);

    const noContainers = structuredClone(deployment) as { spec: { template: { spec: Json } } };
    noContainers.spec.template.spec = {};
    expect(() => validateObject(noContainers)).toThrow(/must have required property containers/);

    expect(() => validateObject({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toThrow(/no schema/);
  });
});

describe('kustomizations', () => {
  it('list files that exist, and every manifest beside them; only files-mode examples/ is left out', () => {
    expect(KUSTOMIZATIONS.map((f) => relative(DEPLOY, f))).toEqual(['cluster-examples/kustomization.yaml', 'kustomization.yaml']);
    const listed = new Set<string>();
    for (const file of KUSTOMIZATIONS) {
      const [k] = load(file).map((d) => d.object as { apiVersion?: string; kind?: string; resources?: unknown });
      expect(k, file).toMatchObject({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization' });
      expect(Array.isArray(k!.resources) && k!.resources.every((r) => typeof r === 'string'), file).toBe(true);
      for (const resource of k!.resources as string[]) {
        const path = join(dirname(file), resource);
        expect(existsSync(path) && statSync(path).isFile(), `${relative(DEPLOY, file)} lists ${resource}`).toBe(true);
        listed.add(path);
      }
    }
    const unlisted = MANIFESTS.filter((f) => !listed.has(f) && !f.startsWith(join(DEPLOY, 'examples/')));
    expect(unlisted.map((f) => relative(DEPLOY, f))).toEqual([]);
  });
});

describe('the control plane Deployment, Service and PodDisruptionBudget', () => {
  const deployment = find<IDeployment>(BASE, 'Deployment', 'skein-control-plane');
  const spec = deployment.spec!;
  const pod = spec.template.spec!;
  const container = pod.containers[0]!;
  const podLabels = { 'app.kubernetes.io/name': 'skein-control-plane' };
  const containerPort = (port: number | string | undefined): number | undefined =>
    typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;

  it('runs 2 replicas of the one image as skein-control-plane --source kubernetes', () => {
    expect(deployment.metadata?.namespace).toBe('skein-system');
    expect(spec.replicas).toBe(2);
    expect(spec.selector.matchLabels).toEqual(podLabels);
    expect(spec.template.metadata?.labels).toMatchObject(podLabels);
    expect(pod.serviceAccountName).toBe('skein-control-plane');
    expect(pod.containers).toHaveLength(1);
    expect(container.image).toBe(IMAGE);
    expect([...container.command ?? [], ...container.args ?? []]).toEqual(['skein-control-plane', '--source', 'kubernetes']);
  });

  it('sets the environment the control plane reads', () => {
    const env = new Map(container.env?.map((e) => [e.name, e]));
    expect(env.get('POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(env.get('POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
    expect(env.get('SKEIN_SIDECAR_IMAGE')?.value).toBe(IMAGE);
    expect(env.get('SKEIN_WEBHOOK_PORT')?.value).toBe('15017');
    expect(env.get('SKEIN_AUTH')?.value).toBe('kubernetes');
    expect(env.has('SKEIN_WEBHOOK_CERT_DIR')).toBe(false); // the control plane makes its certificate
  });

  it('exposes 15010 grpc, 15014 http, 15017 webhook; ready on /readyz, live on /healthz', () => {
    expect(Object.fromEntries(container.ports!.map((p) => [p.name, p.containerPort]))).toEqual({ grpc: 15010, http: 15014, webhook: 15017 });
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(containerPort(container.readinessProbe?.httpGet?.port)).toBe(15014);
    expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(containerPort(container.livenessProbe?.httpGet?.port)).toBe(15014);
    expect(container.resources?.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
  });

  it('runs non-root with a read-only root filesystem, no capabilities and an emptyDir at /tmp', () => {
    const c = container.securityContext!;
    expect(c.runAsNonRoot ?? pod.securityContext?.runAsNonRoot).toBe(true);
    expect(c.runAsUser ?? pod.securityContext?.runAsUser).toBe(65532);
    expect(c.readOnlyRootFilesystem).toBe(true);
    expect(c.allowPrivilegeEscalation).toBe(false);
    expect(c.capabilities?.drop).toEqual(['ALL']);
    expect((c.seccompProfile ?? pod.securityContext?.seccompProfile)?.type).toBe('RuntimeDefault');
    const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
    expect(pod.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
  });

  it('spreads replicas over zones and nodes without refusing to schedule', () => {
    const constraints = pod.topologySpreadConstraints ?? [];
    expect(constraints.map((t) => t.topologyKey).sort()).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const t of constraints) {
      expect(t.whenUnsatisfiable).toBe('ScheduleAnyway');
      expect(t.labelSelector?.matchLabels).toEqual(podLabels);
    }
  });

  it('has a Service with grpc 15010, http 15014 and webhook 443 -> 15017, and a PDB keeping one replica', () => {
    const service = find<IService>(BASE, 'Service', 'skein-control-plane');
    expect(service.metadata?.namespace).toBe('skein-system');
    expect(service.spec?.selector).toEqual(podLabels);
    const ports = Object.fromEntries(service.spec!.ports!.map((p) => [p.name, [p.port, containerPort(p.targetPort)]]));
    expect(ports).toEqual({ grpc: [15010, 15010], http: [15014, 15014], webhook: [443, 15017] });
    const pdb = find<IPodDisruptionBudget>(BASE, 'PodDisruptionBudget', 'skein-control-plane');
    expect(pdb.metadata?.namespace).toBe('skein-system');
    expect(pdb.spec?.minAvailable).toBe(1);
    expect(pdb.spec?.selector?.matchLabels).toEqual(podLabels);
  });

  it('uses the one image everywhere in the base', () => {
    const images = BASE.flatMap((d) => d.object.kind === 'Deployment'
      ? (d.object as unknown as IDeployment).spec!.template.spec!.containers.map((c) => c.image) : []);
    expect(new Set(images)).toEqual(new Set([IMAGE]));
  });
});

/** Whether a label selector (matchLabels and matchExpressions) selects `labels`. */
function selects(selector: { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> }, labels: Record<string, string>): boolean {
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v)
    && (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
      if (operator === 'In') return key in labels && values.includes(labels[key]!);
      if (operator === 'NotIn') return !(key in labels) || !values.includes(labels[key]!);
      if (operator === 'Exists') return key in labels;
      if (operator === 'DoesNotExist') return !(key in labels);
      throw new Error(`operator ${operator}`);
    });
}

describe('the injection webhook', () => {
  const config = find<IMutatingWebhookConfiguration>(BASE, 'MutatingWebhookConfiguration', 'skein-sidecar-injector');
  const webhook = config.webhooks![0]!;

  it('calls the control plane Service for Pod CREATE, ignoring its failures', () => {
    expect(config.webhooks).toHaveLength(1);
    expect(webhook).toMatchObject({
      name: 'sidecar-injector.skein.io',
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy: 'Ignore',
      reinvocationPolicy: 'Never',
      timeoutSeconds: 10,
      clientConfig: { service: { name: 'skein-control-plane', namespace: 'skein-system', path: '/inject', port: 443 } },
    });
    expect(webhook.rules).toEqual([{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
    expect(webhook.clientConfig.caBundle).toBeUndefined(); // written at run time
    expect(webhook.objectSelector).toBeUndefined(); // the opt-out is an annotation, read by the webhook
  });

  it('selects namespaces labelled skein.io/inject=enabled, never skein-system or kube-system', () => {
    const selector = webhook.namespaceSelector!;
    const namespace = (name: string, labels: Record<string, string> = {}) => ({ ...labels, 'kubernetes.io/metadata.name': name });
    expect(selects(selector, namespace('shop', { 'skein.io/inject': 'enabled' }))).toBe(true);
    expect(selects(selector, namespace('shop'))).toBe(false);
    expect(selects(selector, namespace('shop', { 'skein.io/inject': 'disabled' }))).toBe(false);
    expect(selects(selector, namespace('skein-system', { 'skein.io/inject': 'enabled' }))).toBe(false);
    expect(selects(selector, namespace('kube-system', { 'skein.io/inject': 'enabled' }))).toBe(false);
    const skeinSystem = find<INamespace>(BASE, 'Namespace', 'skein-system');
    expect(selects(selector, namespace('skein-system', skeinSystem.metadata?.labels))).toBe(false);
    const demo = find<INamespace>(CLUSTER_EXAMPLES, 'Namespace', 'skein-demo');
    expect(selects(selector, namespace('skein-demo', demo.metadata?.labels))).toBe(true);
  });
});

describe('RBAC', () => {
  const rbac = BASE.filter((d) => d.object.kind === 'ClusterRole' || d.object.kind === 'Role');
  const clusterRules = find<IClusterRole>(BASE, 'ClusterRole', 'skein-control-plane').rules ?? [];
  const roleRules = find<IRole>(BASE, 'Role', 'skein-control-plane').rules ?? [];
  /** Whether some rule grants `verb` on `group`/`resource` (named `name`, when the request names one). */
  const grants = (rules: IPolicyRule[], group: string, resource: string, verb: string, name?: string): boolean =>
    rules.some((r) => r.apiGroups?.includes(group) && r.resources?.includes(resource) && r.verbs.includes(verb)
      && (r.resourceNames === undefined || (name !== undefined && r.resourceNames.includes(name))));

  it('has no wildcards, and resourceNames only with verbs Kubernetes can restrict by name', () => {
    for (const { name, object } of rbac) {
      for (const rule of (object as unknown as IRole).rules ?? []) {
        expect([...rule.verbs, ...rule.resources ?? [], ...rule.apiGroups ?? []], name).not.toContain('*');
        if (rule.resourceNames) expect(rule.verbs.filter((v) => !['get', 'update', 'patch', 'delete'].includes(v)), name).toEqual([]);
      }
    }
  });

  it('cluster-wide: reads Services, EndpointSlices, Endpoints, Nodes and Pods; creates TokenReviews; patches only its webhook', () => {
    for (const resource of ['services', 'endpoints', 'nodes', 'pods']) {
      for (const verb of ['get', 'list', 'watch']) expect(grants(clusterRules, '', resource, verb), `${verb} ${resource}`).toBe(true);
    }
    for (const verb of ['get', 'list', 'watch']) expect(grants(clusterRules, 'discovery.k8s.io', 'endpointslices', verb)).toBe(true);
    expect(grants(clusterRules, 'authentication.k8s.io', 'tokenreviews', 'create')).toBe(true);
    const webhooks = 'mutatingwebhookconfigurations';
    expect(grants(clusterRules, 'admissionregistration.k8s.io', webhooks, 'patch', 'skein-sidecar-injector')).toBe(true);
    expect(grants(clusterRules, 'admissionregistration.k8s.io', webhooks, 'patch', 'someone-elses')).toBe(false);
    expect(grants(clusterRules, '', 'secrets', 'get', 'skein-webhook-tls')).toBe(false);
    expect(grants(clusterRules, '', 'pods', 'create')).toBe(false);
  });

  it('in skein-system: the webhook-certificate Lease and Secret, and no other Secret', () => {
    expect(find<IRole>(BASE, 'Role', 'skein-control-plane').metadata?.namespace).toBe('skein-system');
    for (const [group, resource, name] of [['coordination.k8s.io', 'leases', 'skein-webhook-cert'], ['', 'secrets', 'skein-webhook-tls']] as const) {
      expect(grants(roleRules, group, resource, 'create'), `create ${resource}`).toBe(true);
      for (const verb of ['get', 'update']) expect(grants(roleRules, group, resource, verb, name), `${verb} ${resource}/${name}`).toBe(true);
    }
    expect(grants(roleRules, '', 'secrets', 'get', 'another-secret')).toBe(false);
    expect(grants(roleRules, '', 'secrets', 'list')).toBe(false);
  });

  it('binds both roles to the skein-control-plane ServiceAccount', () => {
    find<Json>(BASE, 'ServiceAccount', 'skein-control-plane');
    const subject = { kind: 'ServiceAccount', name: 'skein-control-plane', namespace: 'skein-system' };
    for (const [kind, roleKind] of [['ClusterRoleBinding', 'ClusterRole'], ['RoleBinding', 'Role']] as const) {
      const binding = find<IRoleBinding>(BASE, kind, 'skein-control-plane');
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: 'skein-control-plane' });
      expect(binding.subjects).toEqual([subject]);
    }
  });
});

describe('examples', () => {
  it('annotate Services only with skein.io/ annotations the control plane accepts', () => {
    const services = DOCS.filter((d) => d.object.kind === 'Service');
    const annotated = services.filter((d) => Object.keys((d.object as unknown as IService).metadata?.annotations ?? {}).some((k) => k.startsWith('skein.io/')));
    expect(annotated.filter((d) => CLUSTER_EXAMPLES.includes(d)).length).toBeGreaterThan(0);
    for (const { name, object } of annotated) {
      const service = object as unknown as IService;
      const result = parseMeshPolicy(service.metadata?.annotations, { trafficDistribution: service.spec?.trafficDistribution !== undefined });
      expect(result, name).toMatchObject({ ok: true });
    }
  });

  it('put the cluster demo in the injected namespace skein-demo', () => {
    const namespaced = CLUSTER_EXAMPLES.filter((d) => d.object.kind !== 'Namespace');
    expect(new Set(namespaced.map((d) => (d.object.metadata as { namespace?: string }).namespace))).toEqual(new Set(['skein-demo']));
    expect(find<INamespace>(CLUSTER_EXAMPLES, 'Namespace', 'skein-demo').metadata?.labels).toMatchObject({ 'skein.io/inject': 'enabled' });
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile.split('\n').filter((l) => /^[A-Z]+\s/.test(l));

  it('is multi-stage on node:22-bookworm-slim and ends as a non-root user', () => {
    const froms = instructions.filter((l) => l.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms[0]).toMatch(/^FROM node:22-bookworm-slim AS build$/i);
    expect(froms.at(-1)).toMatch(/^FROM node:22-bookworm-slim\b/);
    const finalStage = instructions.slice(instructions.lastIndexOf(froms.at(-1)!));
    const user = finalStage.filter((l) => l.startsWith('USER ')).at(-1);
    expect(user).toBe('USER 65532:65532');
  });

  it('puts the three commands on PATH, pointing at the packages\' bins', () => {
    for (const [pkg, dir] of [['control-plane', 'control-plane'], ['sidecar', 'sidecar']]) {
      const { bin } = JSON.parse(readFileSync(join(ROOT, 'packages', pkg!, 'package.json'), 'utf8')) as { bin: Record<string, string> };
      for (const [command, script] of Object.entries(bin)) {
        expect(dockerfile).toContain(`exec node /opt/skein/${dir}/${script.replace(/^\.\//, '')} "$@"\\n' > /usr/local/bin/${command}`);
      }
    }
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['.git', '**/node_modules', '**/dist']));
  });
});
