// What the benchmark reports share: statistics over rounds, number formats, markdown tables and
// goal verdicts.
import { median } from './http-kit.mjs';

/** Median, min and max of `f` over the rounds where it is a number. */
export const stat = (rounds, f) => {
  const xs = rounds.map(f).filter(Number.isFinite);
  return xs.length ? { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) } : { median: NaN, min: NaN, max: NaN };
};
export const us = (v) => (!Number.isFinite(v) ? '—' : Math.abs(v) < 1000 ? `${Math.round(v)} µs` : `${(v / 1000).toFixed(2)} ms`);
export const int = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : '—');
export const times = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '—');
export const mib = (v) => (Number.isFinite(v) ? `${(v / 2 ** 20).toFixed(1)} MiB` : '—');

/** Per-round values of `f(contender round, reference round)` for rounds both completed. */
export function paired(a, b, f) {
  return a.rounds.flatMap((r) => {
    const other = b?.rounds.find((x) => x.round === r.round);
    return other ? [f(r, other)] : [];
  });
}

/** "met" / "not met" when every round agrees; else says the rounds fall on both sides. */
export function verdict(value, rounds, ok) {
  if (!Number.isFinite(value) || rounds.length === 0) return 'not measured';
  if (rounds.every(ok)) return '**met**';
  if (!rounds.some(ok)) return '**not met**';
  return `${ok(value) ? 'met' : 'not met'} at the median; rounds on both sides`;
}
