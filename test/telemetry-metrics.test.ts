// Discovery metrics end to end: a real control plane on a manifest directory and a real sidecar,
// both scraped on /metrics and read with a small parser of the Prometheus text format.
// Needs the built packages (pnpm build).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPE_ENDPOINT_GROUP, TYPE_SERVICE } from '@skein/protocol';
import { eventually } from '@skein/testkit';
import {
  getJson, ManifestDir, nodesYaml, podYaml, startControlPlaneProcess, webServiceYaml, type ControlPlaneProcess,
} from './support/control-plane.js';
import { find, scrape, type Sample } from './support/prometheus.js';
import { startSidecarProcess, type SidecarProcess } from './support/sidecar.js';

interface ProxyJson {
  node: { id: string };
  types: Record<string, { ackedVersion: string | null; synced: boolean }>;
}

describe('telemetry: discovery metrics of a control plane and a sidecar', () => {
  const dir = new ManifestDir();
  let plane: ControlPlaneProcess;
  let sidecar: SidecarProcess;
  const pods = (...names: string[]): string => names.map((n, i) => podYaml(n, `127.0.0.${11 + i}`, 'node-a')).join('---');

  /** The sidecar's versions as the control plane saw them ACKed, once it is synced on both types. */
  const ackedByPlane = async (): Promise<Record<string, string>> => eventually(async () => {
    const { proxies } = await getJson<{ proxies: ProxyJson[] }>(`${plane.httpUrl}/debug/proxies`);
    const me = proxies.find((p) => p.node.id === 'client-1.demo');
    const types = [TYPE_SERVICE, TYPE_ENDPOINT_GROUP].map((t) => me?.types[t]);
    if (!types.every((t) => t?.synced && t.ackedVersion)) return undefined;
    return { [TYPE_SERVICE]: types[0]!.ackedVersion!, [TYPE_ENDPOINT_GROUP]: types[1]!.ackedVersion! };
  });

  /** skein_sidecar_xds_applied_info as type -> version. */
  const appliedBySidecar = (samples: Sample[]): Record<string, string> =>
    Object.fromEntries(samples.filter((s) => s.name === 'skein_sidecar_xds_applied_info').map((s) => [s.labels.type!, s.labels.version!]));

  beforeAll(async () => {
    dir.write('nodes.yaml', nodesYaml);
    dir.write('web.yaml', `${webServiceYaml}---${pods('web-a1', 'web-a2')}`);
    plane = await startControlPlaneProcess(['--source', `files:${dir.path}`]);
    sidecar = await startSidecarProcess(['--control-plane', plane.grpcAddress]);
    await eventually(async () => (await fetch(`${sidecar.admin}/ready`)).status === 200);
  });

  afterAll(async () => {
    await sidecar?.stop();
    await plane?.stop();
    dir.cleanup();
  });

  it('shows on the sidecar the versions the control plane has seen it ACK', async () => {
    const acked = await ackedByPlane();
    const { samples, types } = await scrape(sidecar.admin);
    expect(appliedBySidecar(samples)).toEqual(acked);
    expect(find(samples, 'skein_sidecar_xds_applied_info', { type: TYPE_SERVICE })!.value).toBe(1);
    expect(types.get('skein_sidecar_xds_applied_info')).toBe('gauge');
    expect(find(samples, 'skein_sidecar_xds_connected')!.value).toBe(1);
    expect(find(samples, 'skein_sidecar_config_ready')!.value).toBe(1);
    for (const type of [TYPE_SERVICE, TYPE_ENDPOINT_GROUP]) {
      expect(find(samples, 'skein_sidecar_xds_resources', { type })!.value).toBe(1);
      expect(find(samples, 'skein_sidecar_xds_responses_applied_total', { type })!.value).toBeGreaterThanOrEqual(1);
      expect(find(samples, 'skein_sidecar_xds_nacks_total', { type })!.value).toBe(0);
      expect(find(samples, 'skein_sidecar_xds_last_update_timestamp_seconds', { type })!.value).toBeGreaterThan(0);
    }
    expect(types.get('skein_sidecar_xds_responses_applied_total')).toBe('counter');
    expect(find(samples, 'skein_sidecar_xds_reconnects_total')!.value).toBe(0);
    expect(find(samples, 'skein_sidecar_outlier_ejections_total', { service: 'web', namespace: 'demo' })!.value).toBe(0);
    expect(find(samples, 'skein_sidecar_outlier_ejected_endpoints', { service: 'web', namespace: 'demo' })!.value).toBe(0);
  });

  it('after a manifest edit: the push latency count grows, the sidecar moves its update time and version', async () => {
    const before = (await ackedByPlane())[TYPE_ENDPOINT_GROUP]!;
    const latencyCount = (samples: Sample[]): number =>
      find(samples, 'skein_control_plane_push_latency_seconds_count', { type: TYPE_ENDPOINT_GROUP })?.value ?? 0;
    const planeBefore = await scrape(plane.httpUrl);
    expect(planeBefore.types.get('skein_control_plane_push_latency_seconds')).toBe('histogram');
    const countBefore = latencyCount(planeBefore.samples);
    const sidecarBefore = (await scrape(sidecar.admin)).samples;
    const updatedBefore = find(sidecarBefore, 'skein_sidecar_xds_last_update_timestamp_seconds', { type: TYPE_ENDPOINT_GROUP })!.value;
    const appliedBefore = find(sidecarBefore, 'skein_sidecar_xds_responses_applied_total', { type: TYPE_ENDPOINT_GROUP })!.value;

    dir.write('web.yaml', `${webServiceYaml}---${pods('web-a1', 'web-a2', 'web-a3')}`);

    // The new version, ACKed as the control plane sees it and in force as the sidecar says.
    const after = await eventually(async () => {
      const acked = await ackedByPlane();
      const { samples } = await scrape(sidecar.admin);
      const applied = appliedBySidecar(samples);
      const same = Object.keys(applied).length === 2 && Object.entries(acked).every(([type, version]) => applied[type] === version);
      return acked[TYPE_ENDPOINT_GROUP] !== before && same ? samples : undefined;
    });
    const planeAfter = await eventually(async () => {
      const scraped = await scrape(plane.httpUrl);
      return latencyCount(scraped.samples) > countBefore ? scraped : undefined;
    });
    const sum = find(planeAfter.samples, 'skein_control_plane_push_latency_seconds_sum', { type: TYPE_ENDPOINT_GROUP })!.value;
    expect(sum).toBeGreaterThan(0);
    expect(find(planeAfter.samples, 'skein_control_plane_push_latency_seconds_bucket', { type: TYPE_ENDPOINT_GROUP, le: '+Inf' })!.value)
      .toBe(latencyCount(planeAfter.samples));
    expect(find(planeAfter.samples, 'skein_control_plane_nacking_subscribers', { type: TYPE_ENDPOINT_GROUP })!.value).toBe(0);

    expect(find(after, 'skein_sidecar_xds_last_update_timestamp_seconds', { type: TYPE_ENDPOINT_GROUP })!.value).toBeGreaterThan(updatedBefore);
    expect(find(after, 'skein_sidecar_xds_responses_applied_total', { type: TYPE_ENDPOINT_GROUP })!.value).toBeGreaterThan(appliedBefore);
    // The replaced version's series is gone: one series per type.
    expect(after.filter((s) => s.name === 'skein_sidecar_xds_applied_info')).toHaveLength(2);
  });
});
