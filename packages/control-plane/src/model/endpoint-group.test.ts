// The EndpointGroup as it goes on the wire: proto3 default values are left unset (protobufjs
// writes every field that is set), and every reader (binary decoder, JSON form) still sees them.
import {
  decodeResourceBody, encodeEndpointGroup, endpointGroupToJson, pb, resourceFromJson,
  TYPE_ENDPOINT_GROUP, type EndpointGroup, type EndpointGroupInit,
} from '@skein/protocol';
import { describe, expect, it } from 'vitest';
import { ClusterState } from './cluster-state.js';
import { endpointGroup } from './endpoint-group.js';
import type { KubeKind, KubeObject, ServiceObject } from './kube-objects.js';
import { DEFAULT_MODEL_OPTIONS } from './translate.js';

function groupOf(service: object, ...objects: Array<[KubeKind, object]>): EndpointGroupInit {
  const state = new ClusterState();
  for (const [kind, object] of [['Service', service] as [KubeKind, object], ...objects]) {
    expect(state.apply({ type: 'upsert', kind, object: object as KubeObject, origin: 'test' }).problems).toEqual([]);
  }
  return endpointGroup(state, state.service('default', 'web') as ServiceObject, DEFAULT_MODEL_OPTIONS);
}

const web = { metadata: { name: 'web', namespace: 'default' }, spec: { ports: [{ port: 80, targetPort: 8080 }] } };
const slice = (endpoints: object[], ports: object[] = [{ port: 8080 }]): [KubeKind, object] => ['EndpointSlice', {
  metadata: { name: 'web-1', namespace: 'default', labels: { 'kubernetes.io/service-name': 'web' } },
  addressType: 'IPv4',
  ports,
  endpoints,
}];

/** The same group with every default value written out, as the model built it before. */
function withDefaults(group: EndpointGroupInit): EndpointGroupInit {
  return {
    ...group,
    endpoints: group.endpoints!.map((e) => ({
      ready: false, serving: false, terminating: false, nodeName: '', zone: '', region: '', hostname: '', pod: '', ...e,
      ports: e.ports!.map((p) => ({ name: '', protocol: 0, appProtocol: '', ...p })),
    })),
  };
}

const decode = (bytes: Uint8Array): EndpointGroup => {
  const result = decodeResourceBody(TYPE_ENDPOINT_GROUP, bytes);
  if (!result.ok) throw new Error(result.error);
  return result.value;
};
/** Every field as a reader gets it: an absent one as its default (toJSON() lists only fields set). */
const read = (group: EndpointGroup): Record<string, unknown> => pb.EndpointGroup.toObject(group, { defaults: true });

describe('EndpointGroup wire form', () => {
  // A plain endpoint: ready, not terminating, no hostname, node, zone, region or pod; an unnamed TCP port.
  const group = groupOf(web, slice([{ addresses: ['10.1.0.1'] }, { addresses: ['10.1.0.2'], conditions: { ready: false } }]));

  it('leaves default values unset, so they are not encoded', () => {
    const [ready, notReady] = group.endpoints!;
    expect(ready).toEqual({ address: '10.1.0.1', ports: [{ port: 8080 }], ready: true, serving: true, hintsForZones: [], hintsForNodes: [], weight: 1 });
    expect(notReady).toEqual({ address: '10.1.0.2', ports: [{ port: 8080 }], hintsForZones: [], hintsForNodes: [], weight: 1 });
    // Two bytes (tag + empty value) per default field: 6 fields of the ready endpoint, 8 of the
    // other, 3 of the port (written once, as shared_ports).
    expect(encodeEndpointGroup(withDefaults(group)).length - encodeEndpointGroup(group).length).toBe(2 * (6 + 8 + 3));
  });

  it('sets what differs from the default', () => {
    const headless = { ...web, spec: { ...web.spec, clusterIP: 'None', ports: [{ name: 'grpc', port: 80, targetPort: 8080, protocol: 'UDP', appProtocol: 'grpc' }] } };
    const [endpoint] = groupOf(headless, ['Node', { metadata: { name: 'n1', labels: { 'topology.kubernetes.io/region': 'r1' } } }], slice([{
      addresses: ['10.1.0.1'], conditions: { ready: false, serving: true, terminating: true },
      hostname: 'web-0', nodeName: 'n1', zone: 'z1', targetRef: { kind: 'Pod', name: 'web-0' },
    }], [{ name: 'grpc', port: 8080, protocol: 'UDP' }])).endpoints!;
    expect(endpoint).toEqual({
      address: '10.1.0.1', ports: [{ name: 'grpc', port: 8080, protocol: pb.Protocol.PROTOCOL_UDP, appProtocol: 'grpc' }],
      serving: true, terminating: true, nodeName: 'n1', zone: 'z1', region: 'r1', hintsForZones: [], hintsForNodes: [],
      hostname: 'web-0.web.default.svc.cluster.local', pod: 'default/web-0', weight: 1,
    });
  });

  it('decodes exactly as the group with every default written out', () => {
    expect(read(decode(encodeEndpointGroup(group)))).toEqual(read(decode(encodeEndpointGroup(withDefaults(group)))));
    const [first] = decode(encodeEndpointGroup(group)).endpoints;
    expect(first).toMatchObject({ terminating: false, hostname: '', nodeName: '', pod: '', ports: [{ name: '', protocol: 0, appProtocol: '' }] });
  });

  it('has the same JSON form, byte for byte, which reads back the same', () => {
    const json = endpointGroupToJson(group);
    expect(JSON.stringify(json)).toBe(JSON.stringify(endpointGroupToJson(withDefaults(group))));
    expect((json.endpoints as object[])[0]).toMatchObject({ terminating: false, hostname: '', region: '', ports: [{ name: '', protocol: 'PROTOCOL_TCP', appProtocol: '' }] });
    const back = resourceFromJson(TYPE_ENDPOINT_GROUP, json);
    expect(back.ok && read(back.value as EndpointGroup)).toEqual(read(decode(encodeEndpointGroup(group))));
  });
});
