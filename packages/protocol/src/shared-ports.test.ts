import { describe, expect, it } from 'vitest';
import {
  decodeResourceBody, encodeEndpointGroup, encodeResource, endpointGroupToJson, pb, resourceFromJson, TYPE_ENDPOINT_GROUP,
  validateEndpointGroup, validateResource, type EndpointGroup, type EndpointGroupInit, type EndpointPort,
} from './index.js';

const TCP = pb.Protocol.PROTOCOL_TCP;
const twoPorts = (): EndpointPort[] => [
  { name: 'grpc', port: 9090, protocol: TCP, appProtocol: 'kubernetes.io/h2c' },
  { name: 'http', port: 8080, protocol: TCP, appProtocol: 'http' },
];

/** A group shaped like the benchmark world's (bench/world.mjs) as the control plane builds it. */
function benchGroup(count = 10): EndpointGroupInit {
  return {
    name: 'ns-0/svc-0000', namespace: 'ns-0', service: 'svc-0000',
    endpoints: Array.from({ length: count }, (_, j) => ({
      address: `10.64.0.${j + 1}`, ports: twoPorts(), ready: true, serving: true, terminating: false,
      nodeName: `node-${j % 6}`, zone: `zone-${'ab'[j % 2]}`, region: 'region-1', hintsForZones: [`zone-${'ab'[j % 2]}`],
      hintsForNodes: [], hostname: '', pod: `ns-0/svc-0000-pod-${j}`, weight: 1,
    })),
  };
}

const plainEncoding = (group: EndpointGroupInit): Uint8Array => pb.EndpointGroup.encode(group).finish();

function decoded(bytes: Uint8Array): EndpointGroup {
  const result = decodeResourceBody(TYPE_ENDPOINT_GROUP, bytes);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

/** Each endpoint's ports as plain values (decoded ports are messages). */
const portsOf = (group: EndpointGroupInit): unknown[] => (group.endpoints ?? []).map((e) => (e.ports ?? []).map((p) => ({
  name: p.name ?? '', port: p.port ?? 0, protocol: p.protocol ?? 0, appProtocol: p.appProtocol ?? '',
})));

describe('EndpointGroup encoding: ports every endpoint shares', () => {
  it('are written once, on the group, and every endpoint gets them back on decode', () => {
    const group = benchGroup(3);
    const before = structuredClone(group);
    const bytes = encodeEndpointGroup(group);
    expect(group).toEqual(before); // the caller's objects are left alone

    const raw = pb.EndpointGroup.decode(bytes);
    expect(raw.sharedPorts.map((p) => p.name)).toEqual(['grpc', 'http']);
    expect(raw.endpoints.map((e) => e.ports?.length ?? 0)).toEqual([0, 0, 0]);
    expect(bytes.length).toBeLessThan(plainEncoding(group).length);

    const back = decoded(bytes);
    expect(portsOf(back)).toEqual(portsOf(group));
    expect(back.sharedPorts).toEqual([]);
    expect(back.endpoints.map((e) => e.address)).toEqual(['10.64.0.1', '10.64.0.2', '10.64.0.3']);
    expect(back.endpoints[2]!.pod).toBe('ns-0/svc-0000-pod-2');
  });

  it('counts a port field left unset equal to one set to its default', () => {
    const group = benchGroup(2);
    group.endpoints![1]!.ports = twoPorts().map(({ protocol: _, ...rest }) => rest);
    expect(pb.EndpointGroup.decode(encodeEndpointGroup(group)).sharedPorts).toHaveLength(2);
    expect(portsOf(decoded(encodeEndpointGroup(group)))).toEqual(portsOf(benchGroup(2)));
  });

  it.each<[string, EndpointGroupInit]>([
    ['ports that differ in number', { ...benchGroup(2), endpoints: [benchGroup(2).endpoints![0]!, { ...benchGroup(2).endpoints![1]!, ports: [{ ...twoPorts()[0]!, port: 9091 }, twoPorts()[1]!] }] }],
    ['ports in another order', { ...benchGroup(2), endpoints: [benchGroup(2).endpoints![0]!, { ...benchGroup(2).endpoints![1]!, ports: twoPorts().reverse() }] }],
    ['another app protocol', { ...benchGroup(2), endpoints: [benchGroup(2).endpoints![0]!, { ...benchGroup(2).endpoints![1]!, ports: [twoPorts()[0]!, { ...twoPorts()[1]!, appProtocol: '' }] }] }],
    ['an endpoint without ports', { ...benchGroup(2), endpoints: [benchGroup(2).endpoints![0]!, { ...benchGroup(2).endpoints![1]!, ports: [] }] }],
    ['no endpoint with ports', { ...benchGroup(2), endpoints: benchGroup(2).endpoints!.map((e) => ({ ...e, ports: [] })) }],
    ['a single endpoint', benchGroup(1)],
    ['no endpoints', { name: 'ns-0/svc-0000', namespace: 'ns-0', service: 'svc-0000', endpoints: [] }],
    ['no endpoints field', { name: 'ns-0/svc-0000', namespace: 'ns-0', service: 'svc-0000' }],
  ])('are not shared with %s: the encoding is the plain one', (_, group) => {
    const bytes = encodeEndpointGroup(group);
    expect(Buffer.from(bytes).equals(Buffer.from(plainEncoding(group)))).toBe(true);
    expect(portsOf(decoded(bytes))).toEqual(portsOf(group));
  });

  it('leaves an endpoint that has its own ports alone on decode', () => {
    const group = benchGroup(2);
    const own = [{ name: 'http', port: 8081 }];
    const bytes = plainEncoding({ ...group, sharedPorts: twoPorts(), endpoints: [{ ...group.endpoints![0]!, ports: [] }, { ...group.endpoints![1]!, ports: own }] });
    expect(portsOf(decoded(bytes))).toEqual([portsOf(group)[0], [{ name: 'http', port: 8081, protocol: 0, appProtocol: '' }]]);
  });

  it('versions equal groups equally, and an edit to the shared ports changes the version', () => {
    const a = encodeResource(TYPE_ENDPOINT_GROUP, 'ns-0/svc-0000', benchGroup());
    expect(encodeResource(TYPE_ENDPOINT_GROUP, 'ns-0/svc-0000', benchGroup()).version).toBe(a.version);
    const edited = benchGroup();
    for (const e of edited.endpoints!) e.ports = [twoPorts()[0]!, { ...twoPorts()[1]!, port: 8081 }];
    expect(encodeResource(TYPE_ENDPOINT_GROUP, 'ns-0/svc-0000', edited).version).not.toBe(a.version);
  });

  it('keeps a one-endpoint change of the benchmark world under 1 KB on the wire', () => {
    const resource = encodeResource(TYPE_ENDPOINT_GROUP, 'ns-0/svc-0000', benchGroup());
    const plain = pb.Resource.encode({ name: resource.name, version: resource.version, body: plainEncoding(benchGroup()) }).finish();
    expect(plain.length).toBeGreaterThan(1300); // the encoding before: ~129 B per endpoint
    expect(resource.encoded.length).toBeLessThan(1000);
  });

  it('returns an error value for garbage', () => {
    expect(decodeResourceBody(TYPE_ENDPOINT_GROUP, Uint8Array.from([0x22, 0x05, 0x2a, 0xff, 0xff])).ok).toBe(false);
    expect(decodeResourceBody(TYPE_ENDPOINT_GROUP, Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f])).ok).toBe(false);
  });
});

describe('shared ports in validation and JSON', () => {
  it('rejects a bad shared port by name, before and after decoding', () => {
    const group = { ...benchGroup(2), sharedPorts: [{ name: 'http', port: 0 }], endpoints: benchGroup(2).endpoints!.map((e) => ({ ...e, ports: [] })) };
    expect(validateEndpointGroup(group).join('; ')).toContain('shared port "http" 0 is out of range 1-65535');
    const problems = validateResource(TYPE_ENDPOINT_GROUP, group.name!, decoded(plainEncoding(group)));
    expect(problems.join('; ')).toContain('port "http" 0 is out of range 1-65535');
  });

  it('keeps the JSON form per endpoint, and reads a JSON group with shared ports', () => {
    const json = endpointGroupToJson(benchGroup(2));
    expect(json).not.toHaveProperty('sharedPorts');
    expect((json.endpoints as Array<{ ports: unknown[] }>).map((e) => e.ports.length)).toEqual([2, 2]);
    expect(endpointGroupToJson(decoded(encodeEndpointGroup(benchGroup(2))))).toEqual(json);

    const compact = { ...json, sharedPorts: twoPorts(), endpoints: (json.endpoints as object[]).map((e) => ({ ...e, ports: [] })) };
    expect(endpointGroupToJson(compact)).toEqual(json);
    const back = resourceFromJson(TYPE_ENDPOINT_GROUP, compact);
    expect(back.ok && portsOf(back.value as EndpointGroup)).toEqual(portsOf(benchGroup(2)));
  });
});
