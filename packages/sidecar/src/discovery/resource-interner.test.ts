import { describe, expect, it } from 'vitest';
import {
  decodeResourceBody, encodeEndpointGroup, encodeService, endpointGroupToJson, pb, serviceToJson, TYPE_ENDPOINT_GROUP, TYPE_SERVICE,
  type Endpoint, type EndpointGroup, type EndpointGroupInit, type Service, type ServiceInit,
} from '@skein/protocol';
import { ResourceInterner } from './resource-interner.js';

const ports = [{ name: 'http', port: 8080, protocol: pb.Protocol.PROTOCOL_TCP, appProtocol: 'http' }, { name: 'grpc', port: 9090, appProtocol: 'kubernetes.io/h2c' }];

function groupInit(name: string, count: number): EndpointGroupInit {
  const [namespace, service] = name.split('/');
  return {
    name, namespace, service,
    endpoints: Array.from({ length: count }, (_, i) => ({
      address: `10.0.0.${i + 1}`, ready: true, serving: true, terminating: false, ports,
      nodeName: `node-${i % 2}`, zone: `zone-${i % 2}`, region: 'region-1', hintsForZones: [`zone-${i % 2}`], pod: `${namespace}/${service}-${i}`,
    })),
  };
}

const serviceInit = (name: string): ServiceInit => ({
  name, namespace: name.split('/')[0], clusterIps: ['10.96.0.10'],
  ports: [{ name: 'http', port: 80, targetPortNumber: 8080, appProtocol: 'http' }, { name: 'grpc', port: 9090, targetPortName: 'grpc' }],
});

const decodeGroup = (init: EndpointGroupInit): EndpointGroup => {
  const r = decodeResourceBody(TYPE_ENDPOINT_GROUP, encodeEndpointGroup(init));
  if (!r.ok) throw new Error(r.error);
  return r.value;
};
const decodeService = (init: ServiceInit): Service => {
  const r = decodeResourceBody(TYPE_SERVICE, encodeService(init));
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

describe('ResourceInterner', () => {
  it('shares the port list, hints and repeated strings of decoded endpoints, across groups too', () => {
    const interner = new ResourceInterner();
    const a = interner.endpointGroup(decodeGroup(groupInit('demo/a', 4)));
    const b = interner.endpointGroup(decodeGroup(groupInit('demo/b', 2)));
    const [e0, e1, e2] = a.endpoints as [Endpoint, Endpoint, Endpoint];
    expect(e0.ports).toBe(e1.ports);
    expect(b.endpoints[0]!.ports).toBe(e0.ports);
    expect(e0.hintsForZones).toBe(e2.hintsForZones);
    expect(e0.hintsForZones).not.toBe(e1.hintsForZones);
    expect(e0.hintsForNodes).toBe(b.endpoints[1]!.hintsForNodes);
    expect(e0.hintsForNodes).toEqual([]);
    expect(Object.isFrozen(e0.ports) && Object.isFrozen(e0.ports![0]) && Object.isFrozen(e0.hintsForZones)).toBe(true);
    expect(() => (e0.ports as unknown[]).push({})).toThrow(TypeError);
    // Two distinct strings in, one held: zones, nodes, region, 'http', 'grpc' and app protocols.
    expect(interner.size.strings).toBeLessThanOrEqual(12);
  });

  it('gives every endpoint of a group sent with shared ports the one interned list', () => {
    const interner = new ResourceInterner();
    const a = interner.endpointGroup(decodeGroup(groupInit('demo/a', 5)));
    const b = interner.endpointGroup(decodeGroup(groupInit('demo/b', 3)));
    expect(new Set([...a.endpoints, ...b.endpoints].map((e) => e.ports)).size).toBe(1);
    expect(Object.isFrozen(a.endpoints[4]!.ports)).toBe(true);
    expect(a.endpoints[0]!.ports!.map((p) => p.name)).toEqual(['http', 'grpc']);
    // Nothing is left on the group that a reader could take for a second port list.
    expect(a.sharedPorts).toEqual([]);
    expect(a.sharedPorts).toBe(b.sharedPorts);
  });

  it('changes nothing a reader sees: values, defaults, JSON and the encoding', () => {
    const init = groupInit('demo/a', 3);
    const plain = decodeGroup(init);
    const interned = new ResourceInterner().endpointGroup(decodeGroup(init));
    expect(encodeEndpointGroup(interned)).toEqual(encodeEndpointGroup(plain));
    expect(endpointGroupToJson(interned)).toEqual(endpointGroupToJson(plain));
    // An unset field still reads as the protobuf default, not undefined.
    expect(interned.endpoints[0]!.hostname).toBe('');
    expect(interned.endpoints[0]!.weight).toBe(0);
    expect(interned.endpoints[0]).toBeInstanceOf(pb.Endpoint);

    const service = decodeService(serviceInit('demo/web'));
    const before = encodeService(service);
    const json = serviceToJson(service);
    new ResourceInterner().service(service);
    expect(encodeService(service)).toEqual(before);
    expect(serviceToJson(service)).toEqual(json);
    expect(service.externalIps).toEqual([]);
  });

  it('does not share ports that set different fields, even with equal values', () => {
    const interner = new ResourceInterner();
    const explicit = interner.endpointGroup(decodeGroup({ name: 'demo/a', endpoints: [{ address: '10.0.0.1', ports: [{ name: 'http', port: 80, protocol: pb.Protocol.PROTOCOL_TCP }] }] }));
    const implicit = interner.endpointGroup(decodeGroup({ name: 'demo/b', endpoints: [{ address: '10.0.0.2', ports: [{ name: 'http', port: 80 }] }] }));
    const plainObject = interner.endpointGroup(pb.EndpointGroup.create({ name: 'demo/c', endpoints: [{ address: '10.0.0.3', ports: [{ name: 'http', port: 80 }] }] }));
    const lists = [explicit, implicit, plainObject].map((g) => g.endpoints[0]!.ports);
    expect(new Set(lists).size).toBe(3);
    expect(Object.prototype.hasOwnProperty.call(lists[1]![0], 'protocol')).toBe(false);
  });

  it('is idempotent: a group interned twice (or after its tables started over) keeps its shared lists', () => {
    const interner = new ResourceInterner(1);
    const group = interner.endpointGroup(decodeGroup(groupInit('demo/a', 3)));
    const again = decodeGroup(groupInit('demo/a', 3));
    again.endpoints = group.endpoints;
    expect(() => interner.endpointGroup(again)).not.toThrow();
    expect(again.endpoints[0]!.ports).toEqual(ports.map((p) => expect.objectContaining(p)));
  });

  it('keeps its tables bounded: past the bound they start over, values stay right', () => {
    const interner = new ResourceInterner(4);
    const groups = Array.from({ length: 10 }, (_, i) => interner.endpointGroup(decodeGroup({
      name: `demo/g${i}`, endpoints: [{ address: `10.0.1.${i}`, zone: `zone-${i}`, nodeName: `node-${i}`, hintsForZones: [`zone-${i}`], ports: [{ name: `p${i}`, port: 1000 + i }] }],
    })));
    expect(interner.size.strings).toBeLessThanOrEqual(4);
    expect(interner.size.lists).toBeLessThanOrEqual(4);
    expect(groups.map((g) => [g.endpoints[0]!.zone, g.endpoints[0]!.hintsForZones, g.endpoints[0]!.ports![0]!.port])).toEqual(
      Array.from({ length: 10 }, (_, i) => [`zone-${i}`, [`zone-${i}`], 1000 + i]),
    );
  });

  it('gives repeated fields a backing store of their length and empty ones the shared empty list', () => {
    const interner = new ResourceInterner();
    const a = interner.service(decodeService(serviceInit('demo/a')));
    const b = interner.service(decodeService(serviceInit('demo/b')));
    expect(a.loadBalancerIngress).toBe(b.externalIps);
    expect(a.ports).not.toBe(b.ports);
    expect(a.ports.map((p) => p.name)).toEqual(['http', 'grpc']);
    expect(interner.endpointGroup(decodeGroup({ name: 'demo/empty' })).endpoints).toEqual([]);
  });
});
