import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Destination } from './dataplane.js';
import { createDataplane, type DataplaneOptions } from './dataplane-core.js';
import { base, FakeConfig, group, keyOf, ready, service, webPorts, world } from './dataplane-core.test-helper.js';

/** The parts of a Destination a test compares; pickers by size. */
function shape(d: Destination): object {
  if (d.type === 'service') return { type: d.type, service: d.service, servicePort: d.servicePort, portName: d.portName, appProtocol: d.appProtocol, size: d.picker.size };
  if (d.type === 'reject') return { type: d.type, code: d.error.code, status: d.error.status };
  return { ...d };
}

const svc = (service: string, servicePort: number, portName: string, appProtocol: string, size: number) =>
  ({ type: 'service', service, servicePort, portName, appProtocol, size });


afterEach(() => {
  vi.useRealTimers();
});

describe('createDataplane: resolve', () => {
  it.each<[string, string, number, object]>([
    ['demo', 'web', 80, svc('demo/web', 80, 'http', 'http', 3)],
    ['demo', 'web.demo', 80, svc('demo/web', 80, 'http', 'http', 3)],
    ['demo', 'web.demo.svc', 80, svc('demo/web', 80, 'http', 'http', 3)],
    ['demo', 'web.demo.svc.cluster.local', 80, svc('demo/web', 80, 'http', 'http', 3)],
    ['demo', 'Web.Demo.svc.cluster.local.', 9090, svc('demo/web', 9090, 'grpc-api', 'grpc', 3)],
    ['shop', 'web.demo', 80, svc('demo/web', 80, 'http', 'http', 3)],
    ['shop', 'web.demo.svc', 80, svc('demo/web', 80, 'http', 'http', 3)],
    ['shop', 'web.demo.svc.cluster.local', 80, svc('demo/web', 80, 'http', 'http', 3)],
    ['shop', 'cart', 80, svc('shop/cart', 80, '', 'h2c', 1)],
    ['demo', 'cart.shop', 80, svc('shop/cart', 80, '', 'h2c', 1)],
    ['demo', '10.96.0.10', 80, svc('demo/web', 80, 'http', 'http', 3)],
    ['demo', 'fd00::a', 9090, svc('demo/web', 9090, 'grpc-api', 'grpc', 3)],
    ['demo', '[fd00::a]', 80, svc('demo/web', 80, 'http', 'http', 3)],
    ['demo', '10.96.0.20', 80, svc('shop/cart', 80, '', 'h2c', 1)],
    // A headless Service's own name is balanced over its ready endpoints.
    ['shop', 'db', 5432, svc('shop/db', 5432, 'tcp-pg', 'tcp', 2)],
    ['demo', 'db.shop.svc.cluster.local', 5432, svc('shop/db', 5432, 'tcp-pg', 'tcp', 2)],
    // Headless endpoint names go straight to the endpoint, on its port.
    ['demo', 'db-0.db.shop.svc.cluster.local', 5432, { type: 'direct', host: '10.3.0.1', port: 5432, reason: 'headless-endpoint', service: 'shop/db' }],
    ['demo', 'db-1.db.shop', 5432, { type: 'direct', host: '10.3.0.2', port: 5433, reason: 'headless-endpoint', service: 'shop/db' }],
    ['shop', 'db-1.db', 5432, { type: 'direct', host: '10.3.0.2', port: 5433, reason: 'headless-endpoint', service: 'shop/db' }],
    ['shop', 'db-1.db', 7000, { type: 'direct', host: '10.3.0.2', port: 7000, reason: 'headless-endpoint', service: 'shop/db' }],
    ['demo', '10.3.0.2', 5433, { type: 'direct', host: '10.3.0.2', port: 5433, reason: 'headless-endpoint', service: 'shop/db' }],
    // ExternalName: the alias, the client's port.
    ['demo', 'ext', 443, { type: 'direct', host: 'api.example.com', port: 443, reason: 'external-name', service: 'demo/ext' }],
    ['shop', 'ext.demo.svc.cluster.local', 8443, { type: 'direct', host: 'api.example.com', port: 8443, reason: 'external-name', service: 'demo/ext' }],
    // Unknown ports and names.
    ['demo', 'web', 81, { type: 'reject', code: 'SKEIN_ERR_UNKNOWN_PORT', status: 503 }],
    ['demo', '10.96.0.10', 81, { type: 'reject', code: 'SKEIN_ERR_UNKNOWN_PORT', status: 503 }],
    ['shop', 'web', 80, { type: 'reject', code: 'SKEIN_ERR_UNKNOWN_SERVICE', status: 503 }],
    ['demo', 'example.com', 443, { type: 'direct', host: 'example.com', port: 443, reason: 'passthrough' }],
    ['demo', '10.0.0.99', 80, { type: 'direct', host: '10.0.0.99', port: 80, reason: 'passthrough' }],
  ])('from %s, %s:%s', (namespace, host, port, expected) => {
    const dataplane = createDataplane(world(), { ...base, namespace });
    expect(shape(dataplane.resolve(host, port))).toEqual(expected);
  });

  it('names the ports a Service has when the port is unknown', () => {
    const d = createDataplane(world(), base).resolve('web', 81);
    expect(d.type === 'reject' && d.error.message).toBe('skein: service "web.demo" has no port 81 (it has ports 80, 9090)');
  });

  it('uses each endpoint\'s own port number and balances round robin: 90 picks, 30 each', () => {
    const d = createDataplane(world(), base).resolve('web', 80);
    if (d.type !== 'service') throw new Error('expected a service destination');
    const counts: Record<string, number> = {};
    for (let i = 0; i < 90; i++) {
      const key = keyOf(d.picker.pick());
      counts[key] = (counts[key] ?? 0) + 1;
    }
    expect(counts).toEqual({ '10.1.0.1:8080': 30, '10.1.0.2:8080': 30, '10.1.0.3:8088': 30 });
  });

  it('resolves a named targetPort per endpoint', () => {
    const d = createDataplane(world(), base).resolve('web', 9090);
    expect(d.type === 'service' && [0, 1, 2].map(() => keyOf(d.picker.pick()))).toEqual(['10.1.0.1:9000', '10.1.0.2:9000', '10.1.0.3:9000']);
  });

  it('returns the same destination object for every name of a port (allocation-free)', () => {
    const dataplane = createDataplane(world(), base);
    const d = dataplane.resolve('web', 80);
    expect(dataplane.resolve('web.demo.svc.cluster.local', 80)).toBe(d);
    expect(dataplane.resolve('10.96.0.10', 80)).toBe(d);
    if (d.type !== 'service') throw new Error('expected a service destination');
    const first = d.picker.pick();
    d.picker.pick();
    d.picker.pick();
    expect(d.picker.pick()).toBe(first);
  });

  it('gives a picker that fails with SKEIN_ERR_NO_ENDPOINT for a Service without endpoints', () => {
    const d = createDataplane(world(), base).resolve('empty', 80);
    expect(shape(d)).toEqual(svc('demo/empty', 80, 'http', 'http', 0));
    const result = d.type === 'service' ? d.picker.pick() : undefined;
    expect(result?.type === 'fail' && result.error).toEqual({
      code: 'SKEIN_ERR_NO_ENDPOINT', status: 503, message: 'skein: service "empty.demo" has no ready endpoint for port 80 (the service has no endpoints)',
    });
  });

  it.each<[string | undefined, object]>([
    ['n1', svc('demo/local', 80, 'http', 'http', 1)],
    ['n2', svc('demo/local', 80, 'http', 'http', 1)],
    ['n9', { type: 'reject', code: 'SKEIN_ERR_LOCAL_NO_ENDPOINT', status: 503 }],
    [undefined, { type: 'reject', code: 'SKEIN_ERR_LOCAL_NO_ENDPOINT', status: 503 }],
  ])('internalTrafficPolicy Local on node %s', (nodeName, expected) => {
    const dataplane = createDataplane(world(), { ...base, nodeName });
    const d = dataplane.resolve('local', 80);
    expect(shape(d)).toEqual(expected);
    if (d.type === 'service') expect(keyOf(d.picker.pick())).toBe(nodeName === 'n1' ? '10.4.0.1:8080' : '10.4.0.2:8080');
  });
});

describe('createDataplane: outbound policy', () => {
  it.each<[DataplaneOptions['outboundPolicy'], string, number, object]>([
    ['allow-any', 'example.com', 443, { type: 'direct', host: 'example.com', port: 443, reason: 'passthrough' }],
    ['allow-any', '[2001:db8::1]', 80, { type: 'direct', host: '[2001:db8::1]', port: 80, reason: 'passthrough' }],
    ['registry-only', 'example.com', 443, { type: 'reject', code: 'SKEIN_ERR_NOT_IN_REGISTRY', status: 403 }],
    ['registry-only', '10.0.0.99', 80, { type: 'reject', code: 'SKEIN_ERR_NOT_IN_REGISTRY', status: 403 }],
    ['registry-only', 'web', 80, svc('demo/web', 80, 'http', 'http', 3)],
    ['registry-only', 'ext', 443, { type: 'direct', host: 'api.example.com', port: 443, reason: 'external-name', service: 'demo/ext' }],
    ['registry-only', 'nope', 80, { type: 'reject', code: 'SKEIN_ERR_UNKNOWN_SERVICE', status: 503 }],
  ])('%s: %s:%s', (outboundPolicy, host, port, expected) => {
    expect(shape(createDataplane(world(), { ...base, outboundPolicy }).resolve(host, port))).toEqual(expected);
  });

  it('names the host in the registry-only refusal', () => {
    const d = createDataplane(world(), { ...base, outboundPolicy: 'registry-only' }).resolve('2001:db8::1', 80);
    expect(d.type === 'reject' && d.error.message).toBe('skein: host "[2001:db8::1]:80" is not in the mesh registry and the outbound policy is registry-only');
  });
});

describe('createDataplane: on-demand names', () => {
  it.each<[string, string | undefined]>([
    ['orders', 'demo/orders'],
    ['orders.shop', 'shop/orders'],
    ['orders.billing.svc', 'billing/orders'],
    ['orders.billing.svc.cluster.local', 'billing/orders'],
    ['pod-0.orders.billing.svc.cluster.local', 'billing/orders'],
    ['x.cluster.local', undefined],
  ])('%s: rejects SKEIN_ERR_UNKNOWN_SERVICE and wants %s', (host, resource) => {
    const config = world();
    const d = createDataplane(config, base).resolve(host, 80);
    expect(shape(d)).toEqual({ type: 'reject', code: 'SKEIN_ERR_UNKNOWN_SERVICE', status: 503 });
    expect(d.type === 'reject' && d.error.message).toContain(`"${host}"`);
    expect(config.wanted).toEqual(resource ? [resource] : []);
  });

  it('says "not known yet" while an on-demand name is pending, and "does not name a known Service" once answered', () => {
    const config = world();
    const dataplane = createDataplane(config, base);
    const pending = dataplane.resolve('orders.shop', 80);
    expect(pending.type === 'reject' && pending.error.message).toMatch(/not known yet/);
    config.answer('shop/orders');
    const final = dataplane.resolve('orders.shop', 80);
    expect(final.type === 'reject' && final.error.message).toBe('skein: host "orders.shop" does not name a known Service');
  });

  it('whenKnown resolves once the control plane answers, then the name resolves; no listener or timer is left', async () => {
    vi.useFakeTimers();
    const config = world();
    const dataplane = createDataplane(config, base);
    let settled = false;
    const waiting = dataplane.whenKnown('orders.shop', 5000).then(() => {
      settled = true;
    });
    expect(config.wanted).toEqual(['shop/orders']);
    config.apply([service('shop/orders', { clusterIps: ['10.96.0.50'], ports: [{ name: 'http', port: 80 }] })], [group('shop/orders', [ready('10.5.0.1', [{ name: 'http', port: 80 }])])]);
    await waiting;
    expect(settled).toBe(true);
    expect(shape(dataplane.resolve('orders.shop', 80))).toEqual(svc('shop/orders', 80, 'http', 'http', 1));
    expect(vi.getTimerCount()).toBe(0);
    expect(config.listeners.size).toBe(1);
  });

  it('whenKnown resolves when the answer is "does not exist"', async () => {
    vi.useFakeTimers();
    const config = world();
    const waiting = createDataplane(config, base).whenKnown('orders', 5000);
    config.answer('demo/orders');
    await waiting;
    expect(vi.getTimerCount()).toBe(0);
  });

  it('whenKnown resolves after the timeout when no answer comes', async () => {
    vi.useFakeTimers();
    const config = world();
    let settled = false;
    const waiting = createDataplane(config, base).whenKnown('orders', 250).then(() => {
      settled = true;
    });
    await vi.advanceTimersByTimeAsync(249);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await waiting;
    expect(settled).toBe(true);
    expect(config.listeners.size).toBe(1);
  });

  it.each(['web', 'example.com', '10.96.0.10', 'x.cluster.local'])('whenKnown(%s) resolves at once for names that wait for nothing', async (host) => {
    vi.useFakeTimers();
    await createDataplane(world(), base).whenKnown(host, 60_000);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('createDataplane: changes', () => {
  it('replaces the picker when the endpoints change; a request in flight keeps its picker', () => {
    const config = world();
    const dataplane = createDataplane(config, base);
    const before = dataplane.resolve('web', 80);
    config.apply([], [group('demo/web', [ready('10.1.0.1', webPorts()), ready('10.1.0.9', webPorts())])]);
    const after = dataplane.resolve('web', 80);
    expect(after).not.toBe(before);
    expect(before.type === 'service' && after.type === 'service' && after.picker !== before.picker).toBe(true);
    expect(before.type === 'service' && before.picker.size).toBe(3);
    expect(after.type === 'service' && [0, 1].map(() => keyOf(after.picker.pick()))).toEqual(['10.1.0.1:8080', '10.1.0.9:8080']);
  });

  it.each<[string, (config: FakeConfig) => void]>([
    ['another Service\'s endpoints change', (c) => c.apply([], [group('shop/cart', [ready('10.2.0.9', [{ port: 8081 }])])])],
    ['a not-ready endpoint joins', (c) => c.apply([], [group('demo/web', [ready('10.1.0.1', webPorts()), ready('10.1.0.2', webPorts()), ready('10.1.0.3', webPorts(8088)), { address: '10.1.0.4', ready: false, serving: false, ports: webPorts() }])])],
    ['another port\'s endpoints change', (c) => c.apply([], [group('demo/web', [ready('10.1.0.1', webPorts()), ready('10.1.0.2', webPorts()), ready('10.1.0.3', [{ name: 'http', port: 8088 }])])])],
    ['another Service changes', (c) => c.apply([service('demo/new', { clusterIps: ['10.96.0.99'], ports: [{ port: 80 }] })])],
    ['the config becomes ready again', (c) => c.answer('demo/x')],
  ])('keeps the picker and destination when %s', (_label, change) => {
    const config = world();
    const dataplane = createDataplane(config, base);
    const before = dataplane.resolve('web', 80);
    change(config);
    expect(dataplane.resolve('web', 80)).toBe(before);
  });

  it('follows Services added and removed, and new headless endpoint names', () => {
    const config = world();
    const dataplane = createDataplane(config, base);
    config.apply(['demo/web']);
    expect(shape(dataplane.resolve('web', 80))).toEqual({ type: 'reject', code: 'SKEIN_ERR_UNKNOWN_SERVICE', status: 503 });
    expect(shape(dataplane.resolve('10.96.0.10', 80))).toEqual({ type: 'direct', host: '10.96.0.10', port: 80, reason: 'passthrough' });
    config.apply([], [group('shop/db', [ready('10.3.0.7', [{ name: 'tcp-pg', port: 5432 }], { hostname: 'db-7' })])]);
    expect(shape(dataplane.resolve('db-7.db.shop', 5432))).toEqual({ type: 'direct', host: '10.3.0.7', port: 5432, reason: 'headless-endpoint', service: 'shop/db' });
  });

  it('mirrors ready, forwards changes, and stops on close', () => {
    const config = world();
    config.ready = false;
    const dataplane = createDataplane(config, base);
    expect(dataplane.ready).toBe(false);
    config.ready = true;
    expect(dataplane.ready).toBe(true);
    const seen = vi.fn();
    const stop = dataplane.onChange(seen);
    config.answer('demo/x');
    expect(seen).toHaveBeenCalledTimes(1);
    stop();
    config.answer('demo/y');
    expect(seen).toHaveBeenCalledTimes(1);
    dataplane.close();
    expect(config.listeners.size).toBe(0);
  });

  it('report() of an unknown Service or endpoint is ignored (health: dataplane-health.test.ts)', () => {
    const dataplane = createDataplane(world(), base);
    expect(() => dataplane.report('demo/web', { address: '10.9.9.9', port: 8080, key: '10.9.9.9:8080' }, 'connect-error')).not.toThrow();
    expect(() => dataplane.report('demo/none', { address: '10.1.0.1', port: 8080, key: '10.1.0.1:8080' }, 'connect-error')).not.toThrow();
    dataplane.close();
  });
});
