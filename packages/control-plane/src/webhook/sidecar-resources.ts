// Pure: the sidecar's resources for one pod — the defaults, or the pod's `skein.io/sidecar-cpu`
// and `skein.io/sidecar-memory` request overrides. A bad value is a warning and the default
// stays: the pod is still created (with a sidecar), and `kubectl` shows the warning.
import { DEFAULT_RESOURCES, type SidecarResources } from './sidecar-spec.js';

export const ANNOTATION_SIDECAR_CPU = 'skein.io/sidecar-cpu';
export const ANNOTATION_SIDECAR_MEMORY = 'skein.io/sidecar-memory';

const QUANTITY = /^(\d+(?:\.\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const FACTORS: Record<string, number> = {
  '': 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A Kubernetes quantity ("50m", "64Mi", "1.5G") as a number of base units; undefined if invalid. */
export function parseQuantity(text: string): number | undefined {
  const match = QUANTITY.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * FACTORS[match[2] ?? '']!;
}

export function sidecarResources(annotations: Readonly<Record<string, string>>): { resources: SidecarResources; warnings: string[] } {
  const warnings: string[] = [];
  const resources = structuredClone(DEFAULT_RESOURCES);
  const cpu = annotations[ANNOTATION_SIDECAR_CPU];
  if (cpu !== undefined) {
    const value = parseQuantity(cpu);
    if (value === undefined || value <= 0) warnings.push(`skein: annotation ${ANNOTATION_SIDECAR_CPU}="${cpu}" is not a CPU quantity (e.g. 100m); using ${resources.requests.cpu}`);
    else resources.requests.cpu = cpu.trim();
  }
  const memory = annotations[ANNOTATION_SIDECAR_MEMORY];
  if (memory !== undefined) {
    const value = parseQuantity(memory);
    if (value === undefined || value < 1) {
      warnings.push(`skein: annotation ${ANNOTATION_SIDECAR_MEMORY}="${memory}" is not a memory quantity (e.g. 128Mi); using ${resources.requests.memory}`);
    } else {
      resources.requests.memory = memory.trim();
      // A limit below the request makes the pod invalid: the limit grows with the request.
      if (value > parseQuantity(resources.limits.memory)!) resources.limits.memory = memory.trim();
    }
  }
  return { resources, warnings };
}
