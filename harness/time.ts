/**
 * The harness's one seam to time: every wall-clock read, timer and sleep of a run (the client
 * pool, the nemesis schedule, status sampling, phase waits, history timestamps) goes through a
 * HarnessClock, so the same run code drives real clusters on the real clock and a simulated
 * cluster in virtual time (`--runtime sim`), where a stray `Date.now()` or `setTimeout` would
 * break replay.
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface Repeating {
  cancel(): void;
}

export interface HarnessClock {
  /** Milliseconds on a monotonic clock (arbitrary origin). */
  now(): number;
  /** Nanoseconds on the same clock, as precise as the clock is (history timestamps). */
  nowNs(): bigint;
  /** Milliseconds since the Unix epoch (run.json timestamps; virtual in a simulation). */
  wallMs(): number;
  /** Resolve after `ms`, or as soon as `signal` aborts (never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Call `fn` every `ms` until cancelled. */
  every(ms: number, fn: () => void): Repeating;
  /** Call `fn` once after `ms` unless cancelled. */
  after(ms: number, fn: () => void): Repeating;
}

export const realClock: HarnessClock = {
  now: () => performance.now(),
  nowNs: () => process.hrtime.bigint(),
  wallMs: () => Date.now(),
  sleep: (ms, signal) => (signal?.aborted === true ? Promise.resolve() : delay(Math.max(0, ms), undefined, signal !== undefined ? { signal } : {}).catch(() => undefined)),
  // Unref'd: a forgotten timer never keeps the process alive; runs await what they need.
  every(ms, fn) {
    const t = setInterval(fn, ms).unref();
    return { cancel: () => clearInterval(t) };
  },
  after(ms, fn) {
    const t = setTimeout(fn, ms).unref();
    return { cancel: () => clearTimeout(t) };
  },
};
