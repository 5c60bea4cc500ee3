// Outlier ejection and locality failover wired into the data plane, with a fake clock and timers.
import { describe, expect, it } from 'vitest';
import { pb, type EndpointGroup, type Endpoint, type Service, type ServiceInit } from '@skein/protocol';
import type { Destination, Target } from './dataplane.js';
import type { ConfigChange, MeshConfigView } from './discovery/mesh-config.js';
import { createDataplane, type DataplaneTimers } from './dataplane-core.js';

class OneServiceConfig implements MeshConfigView {
  ready = true;
  private readonly serviceMap = new Map<string, Service>();
  private readonly groups = new Map<string, EndpointGroup>();
  constructor(init: ServiceInit, endpoints: Endpoint[]) {
    this.serviceMap.set(init.name!, pb.Service.create(init));
    this.groups.set(init.name!, pb.EndpointGroup.create({ name: init.name!, namespace: 'demo', service: 'web', endpoints }));
  }
  services(): ReadonlyMap<string, Service> { return this.serviceMap; }
  endpointGroup(name: string): EndpointGroup | undefined { return this.groups.get(name); }
  onChange(_listener: (change: ConfigChange) => void): () => void { return () => undefined; }
  want(): void {}
  answered(): boolean { return true; }
}

class FakeTimers implements DataplaneTimers {
  now = 1_000_000;
  private timers = new Map<number, { at: number; callback: () => void }>();
  private nextId = 1;
  readonly clock = { now: () => this.now };
  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.now + ms, callback });
    return id;
  }
  clearTimeout(handle: unknown): void { this.timers.delete(handle as number); }
  get pending(): number { return this.timers.size; }
  advance(ms: number): void {
    const until = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].callback();
    }
    this.now = until;
  }
}

const ep = (address: string, zone: string, node: string): Endpoint => ({ address, ports: [{ name: 'http', port: 8080 }], ready: true, serving: true, zone, nodeName: node });
const endpoints = [ep('10.0.0.1', 'zone-a', 'node-a1'), ep('10.0.0.2', 'zone-a', 'node-a2'), ep('10.0.0.3', 'zone-b', 'node-b')];

function setup(policy: ServiceInit['policy']) {
  const timers = new FakeTimers();
  const config = new OneServiceConfig({ name: 'demo/web', namespace: 'demo', clusterIps: ['10.96.0.10'], ports: [{ name: 'http', port: 80, targetPortNumber: 8080 }], policy }, endpoints);
  let seed = 0;
  const dataplane = createDataplane(config, { namespace: 'demo', nodeName: 'node-x', zone: 'zone-a', clock: timers.clock, timers, random: () => (seed = (seed * 9301 + 49297) % 233280) / 233280 });
  const picks = (n = 60): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const d = dataplane.resolve('web', 80) as Extract<Destination, { type: 'service' }>;
      const r = d.picker.pick();
      if (r.type === 'pick') counts[r.target.address] = (counts[r.target.address] ?? 0) + 1;
    }
    return counts;
  };
  const fail = (address: string, times: number): void => {
    const target: Target = { address, port: 8080, key: `${address}:8080` };
    for (let i = 0; i < times; i++) dataplane.report('demo/web', target, 'connect-error');
  };
  return { timers, dataplane, picks, fail };
}

describe('data plane health and locality', () => {
  it('a zone-a client with locality failover fails over to zone-b on ejection and comes back', () => {
    const { timers, dataplane, picks, fail } = setup({ localityFailover: true, outlierDetection: { enabled: true, consecutiveErrors: 5, baseEjectionMs: 30_000, maxEjectionPercent: 100 } });
    expect(Object.keys(picks()).sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    let changes = 0;
    dataplane.onChange(() => changes++);
    fail('10.0.0.1', 4);
    expect(Object.keys(picks()).sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    fail('10.0.0.1', 1);
    // One of two zone-a endpoints ejected: zone-a keeps 70%, the rest spills to zone-b.
    const half = picks(1000);
    expect(half['10.0.0.1']).toBeUndefined();
    expect(half['10.0.0.2']).toBeGreaterThan(600);
    expect(half['10.0.0.3']).toBeGreaterThan(200);
    fail('10.0.0.2', 5);
    expect(picks()).toEqual({ '10.0.0.3': 60 });
    expect(changes).toBe(2);
    expect(timers.pending).toBe(1);
    const clusters = dataplane.clusters() as { services: { outlierDetection: { endpoints: { key: string; ejectedUntil?: number }[] }; ports: { selection: { priorities: { tier: string; load: number }[]; ejected: string[] } }[] }[] };
    expect(clusters.services[0]!.outlierDetection.endpoints.filter((e) => e.ejectedUntil !== undefined).map((e) => e.key).sort()).toEqual(['10.0.0.1:8080', '10.0.0.2:8080']);
    expect(clusters.services[0]!.ports[0]!.selection.priorities.map((p) => [p.tier, p.load])).toEqual([['rest', 100]]);

    timers.advance(29_999);
    expect(picks()).toEqual({ '10.0.0.3': 60 });
    timers.advance(1);
    expect(Object.keys(picks()).sort()).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(timers.pending).toBe(0);
    const explained = dataplane.explain('web', 80) as { servicePort: { selection: { priorities: { tier: string; load: number }[] } } };
    expect(explained.servicePort.selection.priorities.map((p) => [p.tier, p.load])).toEqual([['zone', 100], ['rest', 0]]);
    dataplane.close();
  });

  it('without locality failover ejected endpoints leave the set, with the panic threshold', () => {
    const { timers, dataplane, picks, fail } = setup({ outlierDetection: { enabled: true, consecutiveErrors: 2, baseEjectionMs: 1_000, maxEjectionPercent: 100 } });
    expect(Object.keys(picks()).sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    fail('10.0.0.1', 2);
    expect(Object.keys(picks()).sort()).toEqual(['10.0.0.2', '10.0.0.3']);
    fail('10.0.0.2', 2);
    // 1 of 3 healthy is below 50%: panic, every endpoint is used.
    expect(Object.keys(picks()).sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    timers.advance(1_000);
    expect(Object.keys(picks()).sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    dataplane.close();
    expect(timers.pending).toBe(0);
  });

  it('outlier detection off: failures change nothing; default max-percent limits ejections', () => {
    const off = setup({ outlierDetection: { enabled: false } });
    off.fail('10.0.0.1', 50);
    expect(Object.keys(off.picks()).sort()).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.3']);
    // No policy: defaults (5 errors, 50%): one of three may be ejected, a second overflows.
    const defaults = setup(undefined);
    defaults.fail('10.0.0.1', 5);
    defaults.fail('10.0.0.2', 5);
    expect(Object.keys(defaults.picks()).sort()).toEqual(['10.0.0.2', '10.0.0.3']);
    off.dataplane.close();
    defaults.dataplane.close();
  });
});
