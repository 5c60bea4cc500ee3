// The benchmark world: N Services with one EndpointSlice each, M endpoints per slice, spread
// over a few Nodes in two zones of one region. Deterministic, so every run measures the same
// objects. Also renders them as ordinary block-style YAML for `--source files:<dir>`.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const WORLD = Object.freeze({ services: 1000, endpointsPerService: 10, namespaces: 10, nodes: 6, zones: ['zone-a', 'zone-b'] });

const pad = (n) => String(n).padStart(4, '0');

export function nodeObjects(world = WORLD) {
  return Array.from({ length: world.nodes }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: `node-${i}`,
      labels: { 'topology.kubernetes.io/region': 'region-1', 'topology.kubernetes.io/zone': world.zones[i % world.zones.length] },
    },
  }));
}

export function serviceRef(i, world = WORLD) {
  return { namespace: `ns-${i % world.namespaces}`, name: `svc-${pad(i)}` };
}

export function serviceObject(i, world = WORLD) {
  const { namespace, name } = serviceRef(i, world);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      type: 'ClusterIP',
      clusterIP: `10.96.${i >> 8}.${i & 255}`,
      selector: { app: name },
      ports: [
        { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', appProtocol: 'http' },
        { name: 'grpc', port: 9090, targetPort: 9090, protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
      ],
    },
  };
}

/** What an edit to `revision` writes into the last octet of endpoint 0's address (100..249): its tag. */
const EDIT_HOSTS = 150;
const editTag = (revision) => revision % EDIT_HOSTS;

/**
 * Which edit an EndpointGroup (decoded, named "<ns>/svc-NNNN") carries: {service, tag} with the
 * tag of its revision (`editOf.tag(revision)`), or undefined for a group never edited.
 */
export function editOf(name, group) {
  const service = Number(name.slice(name.lastIndexOf('-') + 1));
  for (const endpoint of group.endpoints) {
    const host = Number(endpoint.address.slice(endpoint.address.lastIndexOf('.') + 1));
    if (host >= 100) return { service, tag: host - 100 };
  }
  return undefined;
}
editOf.tag = editTag;

/** The EndpointSlice of Service `i`; `revision` > 0 moves endpoint 0 to another address (one edit). */
export function sliceObject(i, revision = 0, world = WORLD) {
  const { namespace, name } = serviceRef(i, world);
  const endpoints = Array.from({ length: world.endpointsPerService }, (_, j) => {
    const node = (i + j) % world.nodes;
    const host = j === 0 && revision > 0 ? 100 + editTag(revision) : j + 1;
    return {
      addresses: [`10.${64 + (i >> 8)}.${i & 255}.${host}`],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: `node-${node}`,
      zone: world.zones[node % world.zones.length],
      hints: { forZones: [{ name: world.zones[node % world.zones.length] }] },
      targetRef: { kind: 'Pod', namespace, name: `${name}-pod-${j}` },
    };
  });
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-abcde`, namespace, labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
    addressType: 'IPv4',
    endpoints,
    ports: [
      { name: 'http', port: 8080, protocol: 'TCP', appProtocol: 'http' },
      { name: 'grpc', port: 9090, protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' },
    ],
  };
}

/** Every object of the world as [kind, object], Nodes first. */
export function worldObjects(world = WORLD) {
  const out = nodeObjects(world).map((o) => ['Node', o]);
  for (let i = 0; i < world.services; i++) out.push(['Service', serviceObject(i, world)], ['EndpointSlice', sliceObject(i, 0, world)]);
  return out;
}

// --- YAML -------------------------------------------------------------------------------

const PLAIN = /^[A-Za-z_][A-Za-z0-9_./-]*$/;
const scalar = (v) => (typeof v === 'string' ? (PLAIN.test(v) && !/^(true|false|null|yes|no|on|off|y|n|~)$/i.test(v) ? v : JSON.stringify(v)) : String(v));

/** Block-style YAML for plain data (objects, arrays, strings, numbers, booleans), as kubectl writes it. */
export function toYaml(value, indent = '') {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return value.map((item) => {
      const body = typeof item === 'object' && item !== null ? toYaml(item, `${indent}  `).trimStart() : scalar(item);
      return `${indent}- ${body}`;
    }).join('\n');
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    return entries.map(([k, v]) => {
      if (typeof v === 'object' && v !== null && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0)) {
        return `${indent}${scalar(k)}:\n${toYaml(v, Array.isArray(v) ? indent : `${indent}  `)}`;
      }
      return `${indent}${scalar(k)}: ${typeof v === 'object' && v !== null ? toYaml(v) : scalar(v)}`;
    }).join('\n');
  }
  return scalar(value);
}

const serviceFile = (dir, i, world, format) => join(dir, `${serviceRef(i, world).namespace}-svc-${pad(i)}.${format}`);

/**
 * Service `i`'s file: YAML (two documents), or JSON (a List), which the files source parses
 * with JSON.parse, about as cheaply as the control plane reads the API server's watch events.
 */
function serviceText(i, revision, world, format) {
  const [service, slice] = [serviceObject(i, world), sliceObject(i, revision, world)];
  if (format === 'json') return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [service, slice] }, null, 1)}\n`;
  return `${toYaml(service)}\n---\n${toYaml(slice)}\n`;
}

/** Writes the world into `dir`: nodes.yaml plus one file (Service + EndpointSlice) per Service, `format` 'yaml' or 'json'. */
export function writeWorld(dir, world = WORLD, format = 'yaml') {
  writeFileSync(join(dir, 'nodes.yaml'), nodeObjects(world).map((n) => toYaml(n)).join('\n---\n') + '\n');
  for (let i = 0; i < world.services; i++) writeFileSync(serviceFile(dir, i, world, format), serviceText(i, 0, world, format));
}

/**
 * Edits ONE EndpointSlice on disk (Service `i`'s, to `revision`) the way an editor saves:
 * write a temporary file, then rename over the manifest (atomic, so no half-written read).
 */
export function editSliceFile(dir, i, revision, world = WORLD, format = 'yaml') {
  const file = serviceFile(dir, i, world, format);
  const tmp = `${file}.${revision}.tmp`;
  writeFileSync(tmp, serviceText(i, revision, world, format));
  renameSync(tmp, file);
}
