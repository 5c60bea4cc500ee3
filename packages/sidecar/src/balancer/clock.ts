// Time for the balancer layer, injected so that tests drive it by hand and never sleep
// (CONVENTIONS rule 5). Balancer modules read time; they never schedule timers themselves.

/** A source of time in milliseconds. Callers assume it does not go backwards. */
export interface Clock {
  now(): number;
}

/** Monotonic milliseconds on the Unix epoch scale (performance.timeOrigin + performance.now()). */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
};
