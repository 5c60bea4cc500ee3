// Minimal discovery documents (/version, /api, /apis, /api/v1, /apis/{group}/{version}), built
// from the resource table, for clients that look before they list.
import { RESOURCE_TYPES, type ResourceType } from './resources.js';

function resourceList(groupVersion: string, types: ResourceType[]): unknown {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: types.map((t) => ({
      name: t.plural,
      singularName: t.kind.toLowerCase(),
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: ['get', 'list', 'watch'],
    })),
  };
}

/** The discovery document for `path`, or undefined if `path` is not a discovery path. */
export function discoveryDocument(path: string, serverAddress: string): unknown {
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '/version') {
    return { major: '1', minor: '33', gitVersion: 'v1.33.0-skein-fake', platform: `${process.platform}/${process.arch}` };
  }
  if (trimmed === '/api') {
    return {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
    };
  }
  const groups = [...new Set(RESOURCE_TYPES.filter((t) => t.group !== '').map((t) => t.group))];
  if (trimmed === '/apis') {
    return {
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: groups.map((name) => {
        const versions = [...new Set(RESOURCE_TYPES.filter((t) => t.group === name).map((t) => t.version))];
        const list = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
        return { name, versions: list, preferredVersion: list[0] };
      }),
    };
  }
  if (trimmed === '/api/v1') return resourceList('v1', RESOURCE_TYPES.filter((t) => t.group === ''));
  const m = /^\/apis\/([^/]+)\/([^/]+)$/.exec(trimmed);
  if (m) {
    const [, group, version] = m as unknown as [string, string, string];
    const types = RESOURCE_TYPES.filter((t) => t.group === group && t.version === version);
    if (types.length > 0) return resourceList(`${group}/${version}`, types);
  }
  return undefined;
}
