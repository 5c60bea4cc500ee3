import { describe, expect, it } from 'vitest';
import {
  combinedVersion, contentVersion, createResponseEncoder, decodeResourceBody, encodeResource, encodeResourceField, encodeResponse, Mode, pb,
  resourceFromJson, resourceToJson, subscriptionMatches, TYPE_ENDPOINT_GROUP, TYPE_SERVICE,
  validateEndpointGroup, validateService, isIPv4, isIPv6,
} from './index.js';

const web = { name: 'default/web', namespace: 'default', clusterIps: ['10.0.0.1'], ports: [{ name: 'http', port: 80, targetPortName: 'http' }] };

describe('content versions', () => {
  it('are equal for equal content and differ otherwise', () => {
    const a = encodeResource(TYPE_SERVICE, 'default/web', web);
    const b = encodeResource(TYPE_SERVICE, 'default/web', structuredClone(web));
    const c = encodeResource(TYPE_SERVICE, 'default/web', { ...web, clusterIps: ['10.0.0.2'] });
    expect(a.version).toBe(b.version);
    expect(a.version).not.toBe(c.version);
    expect(a.version).toMatch(/^[0-9a-f]{16}$/);
    expect(contentVersion(a.body)).toBe(a.version);
  });

  it('combine independently of order', () => {
    expect(combinedVersion([['a', '1'], ['b', '2']])).toBe(combinedVersion([['b', '2'], ['a', '1']]));
    expect(combinedVersion([['a', '1'], ['b', '2']])).not.toBe(combinedVersion([['a', '2'], ['b', '1']]));
  });
});

describe('encodeResponse', () => {
  it('writes the same bytes as the generated encoder', () => {
    const r = encodeResource(TYPE_ENDPOINT_GROUP, 'default/web', {
      name: 'default/web', namespace: 'default', service: 'web',
      endpoints: [{ address: '10.1.0.1', ready: true, serving: true, ports: [{ name: 'http', port: 8080 }] }],
    });
    const fields = { typeUrl: TYPE_ENDPOINT_GROUP as typeof TYPE_ENDPOINT_GROUP, versionInfo: 'v9', removedResources: ['ns/gone'], nonce: '7', mode: Mode.MODE_DELTA, controlPlane: 'cp-1' };
    const ours = encodeResponse({ ...fields, resources: [r] });
    const reference = pb.DiscoveryResponse.encode({ ...fields, resources: [{ name: r.name, version: r.version, body: r.body }] }).finish();
    expect(Buffer.compare(ours, Buffer.from(reference))).toBe(0);
    const decoded = pb.DiscoveryResponse.decode(ours);
    const body = decodeResourceBody(TYPE_ENDPOINT_GROUP, decoded.resources[0]!.body!);
    expect(body.ok && body.value.endpoints[0]!.address).toBe('10.1.0.1');
  });

  it('writes the node locality as the generated encoder does, and leaves it unset when absent', () => {
    const fields = { typeUrl: TYPE_SERVICE as typeof TYPE_SERVICE, versionInfo: 'v1', removedResources: [], nonce: '1', mode: Mode.MODE_DELTA, controlPlane: 'cp' };
    for (const nodeLocality of [{ region: 'eu', zone: 'eu-1a' }, { region: '', zone: 'z' }, { region: 'r', zone: '' }]) {
      const ours = encodeResponse({ ...fields, resources: [], nodeLocality });
      // proto3: empty strings are not written (the generated encoder writes any field set on the object).
      const set = Object.fromEntries(Object.entries(nodeLocality).filter(([, v]) => v !== ''));
      expect(Buffer.compare(ours, Buffer.from(pb.DiscoveryResponse.encode({ ...fields, nodeLocality: set }).finish()))).toBe(0);
      expect(pb.DiscoveryResponse.decode(ours).nodeLocality).toMatchObject(nodeLocality);
    }
    expect(pb.DiscoveryResponse.decode(encodeResponse({ ...fields, resources: [] })).nodeLocality).toBeNull();
  });
  it('writes resources encoded once as field 3 as is, with the same bytes as encoding them per response', () => {
    const resources = ['a', 'b', 'c'].map((n) => encodeResource(TYPE_SERVICE, `default/${n}`, { ...web, name: `default/${n}` }));
    const field = encodeResourceField(resources);
    expect(field.length).toBe(resources.reduce((n, r) => n + 1 + (r.encoded.length < 128 ? 1 : 2) + r.encoded.length, 0));
    const fields = { typeUrl: TYPE_SERVICE as typeof TYPE_SERVICE, versionInfo: 'v2', removedResources: ['default/gone'], nonce: '12', mode: Mode.MODE_DELTA, controlPlane: 'cp-1', nodeLocality: { region: 'eu', zone: 'eu-1a' } };
    const once = encodeResponse({ ...fields, resources, encodedResources: field });
    expect(Buffer.compare(once, encodeResponse({ ...fields, resources }))).toBe(0);
    expect(pb.DiscoveryResponse.decode(once).resources.map((r) => r.name)).toEqual(['default/a', 'default/b', 'default/c']);
    expect(Buffer.compare(encodeResponse({ ...fields, resources: [], encodedResources: encodeResourceField([]) }), encodeResponse({ ...fields, resources: [] }))).toBe(0);
  });
});

describe('createResponseEncoder', () => {
  it('writes what encodeResponse writes, into one buffer it reuses (valid until its next call)', () => {
    const encode = createResponseEncoder();
    const resources = Array.from({ length: 40 }, (_, i) => encodeResource(TYPE_SERVICE, `default/s${i}`, { ...web, name: `default/s${i}` }));
    const fields = { typeUrl: TYPE_SERVICE as typeof TYPE_SERVICE, versionInfo: 'v3', removedResources: ['default/gone'], nonce: '99', mode: Mode.MODE_DELTA, controlPlane: 'cp-1', nodeLocality: { region: 'eu', zone: 'eu-1a' } };
    const cases = [
      { ...fields, resources },
      { ...fields, resources, encodedResources: encodeResourceField(resources) },
      { ...fields, resources: resources.slice(0, 1), removedResources: [], nodeLocality: undefined },
      { ...fields, resources: [], mode: Mode.MODE_STATE_OF_THE_WORLD, versionInfo: '', nonce: '' },
    ];
    const first = encode(cases[0]!);
    const buffer = first.buffer;
    for (const response of cases) {
      const ours = encode(response);
      expect(Buffer.compare(ours, encodeResponse(response))).toBe(0);
      expect(ours.buffer).toBe(buffer);
    }
  });
});

describe('decodeResourceBody', () => {
  it('returns an error value for garbage', () => {
    const result = decodeResourceBody(TYPE_SERVICE, Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(result.ok).toBe(false);
  });
});

describe('validation', () => {
  it('accepts a good Service and EndpointGroup', () => {
    expect(validateService(web)).toEqual([]);
    expect(validateEndpointGroup({ name: 'default/web', namespace: 'default', service: 'web', endpoints: [{ address: 'fd00::1' }] })).toEqual([]);
  });

  it.each([
    [{ ...web, name: 'web' }, 'is not "<namespace>/<name>"'],
    [{ ...web, clusterIps: ['10.0.0.300'] }, 'is not an IP address'],
    [{ ...web, ports: [{ port: 80 }, { port: 81 }] }, 'must name each port'],
    [{ ...web, ports: [{ name: 'a', port: 0 }] }, 'out of range'],
    [{ ...web, ports: [{ name: 'a', port: 80 }, { name: 'a', port: 81 }] }, 'duplicate port name'],
    [{ ...web, sessionAffinity: pb.SessionAffinity.SESSION_AFFINITY_CLIENT_IP, sessionAffinityTimeoutSeconds: 0 }, '1-86400'],
    [{ ...web, type: pb.ServiceType.SERVICE_TYPE_EXTERNAL_NAME, clusterIps: [], externalName: 'not a name' }, 'not a DNS name'],
  ])('rejects %j', (service, reason) => {
    expect(validateService(service).join('; ')).toContain(reason);
  });

  it('rejects endpoint groups with bad addresses or duplicate endpoints', () => {
    const problems = validateEndpointGroup({ name: 'default/web', namespace: 'default', service: 'web', endpoints: [{ address: 'x' }, { address: '10.0.0.1' }, { address: '10.0.0.1' }] });
    expect(problems.join('; ')).toMatch(/"x": address is not an IP address.*duplicate address/);
  });
});

describe('addresses', () => {
  it.each(['1.2.3.4', '255.255.255.255', '0.0.0.0'])('IPv4 %s', (ip) => expect(isIPv4(ip)).toBe(true));
  it.each(['1.2.3', '01.2.3.4', '256.1.1.1', '1.2.3.4.5', '', '1.2.3.', '.1.2.3', '1..2.3', '1.2.3.04', '1.2.3.4 ', '1.2.3.-4', '1.2.3.1000', '0x1.2.3.4', '1.2.3.4\n'])('not IPv4 %s', (ip) => expect(isIPv4(ip)).toBe(false));
  it('accepts exactly the dotted quads the split-and-regex definition accepts', () => {
    const reference = (text: string): boolean => {
      const parts = text.split('.');
      return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
    };
    const pieces = ['0', '00', '1', '09', '10', '99', '100', '199', '255', '256', '300', '999', '1000', '', 'a', ' 1', '-1'];
    let checked = 0;
    for (const a of pieces) for (const b of ['0', '255', '256', '01', '']) for (const c of pieces) {
      for (const text of [`${a}.${b}.1.${c}`, `${a}.${b}.${c}`, `${a}.${b}.1.${c}.`, `${a}.${b}.1.1.${c}`]) {
        expect(isIPv4(text), text).toBe(reference(text));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });
  it.each(['::1', '::', 'fd00::1', '2001:db8:0:0:0:0:2:1', '::ffff:10.0.0.1', 'fe80::1:2'])('IPv6 %s', (ip) => expect(isIPv6(ip)).toBe(true));
  it.each(['1:2:3:4:5:6:7', ':::1', '1::2::3', 'g::1', '1:2:3:4:5:6:7:8:9'])('not IPv6 %s', (ip) => expect(isIPv6(ip)).toBe(false));
});

describe('subscriptions', () => {
  it.each([
    ['*', 'a/b', true], ['a/*', 'a/b', true], ['a/*', 'ab/c', false], ['a/b', 'a/b', true], ['a/b', 'a/bc', false],
  ])('%s covers %s: %s', (pattern, name, expected) => expect(subscriptionMatches(pattern, name)).toBe(expected));
});

describe('JSON form', () => {
  it('round-trips and rejects unknown enum names', () => {
    const json = resourceToJson(TYPE_SERVICE, web);
    expect(json.type).toBe('SERVICE_TYPE_CLUSTER_IP');
    const back = resourceFromJson(TYPE_SERVICE, JSON.parse(JSON.stringify(json)));
    expect(back.ok && (back.value as { clusterIps: string[] }).clusterIps).toEqual(['10.0.0.1']);
    expect(resourceFromJson(TYPE_SERVICE, { ports: 'nope' }).ok).toBe(false);
  });
});
