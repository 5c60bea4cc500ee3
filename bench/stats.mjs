// Small statistics helpers shared by the benchmark scripts.

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when empty. */
export function percentile(samples, p) {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** n, median, p99, min, max and mean of samples. */
export function summarize(samples) {
  const n = samples.length;
  return {
    n,
    median: percentile(samples, 50),
    p99: percentile(samples, 99),
    min: n ? Math.min(...samples) : NaN,
    max: n ? Math.max(...samples) : NaN,
    mean: n ? samples.reduce((a, b) => a + b, 0) / n : NaN,
  };
}
