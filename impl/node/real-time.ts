/**
 * The real platform's clocks, timers and randomness (Node's), in a module of their own so
 * code that only needs a default timer (DiskStorage's lazy flush) does not load the network
 * and HTTP adapters. Exempt from the platform lint rules (eslint.config.js).
 */
import { randomBytes } from 'node:crypto';
import type { PlatformClock, PlatformRandom, PlatformTimers, TimerHandle } from './platform.ts';

export const realClock: PlatformClock = {
  monotonicMs: () => performance.now(),
  wallMs: () => Date.now(),
};

/** Epoch milliseconds that never jump: where the process started by the wall clock, plus monotonic time since. */
export const realMonotonicEpochMs = (): number => performance.timeOrigin + performance.now();

export const realTimers: PlatformTimers = {
  setTimeout(fn, ms, options) {
    const t = setTimeout(fn, ms);
    if (options?.unref === true) t.unref();
    return t as unknown as TimerHandle;
  },
  setInterval(fn, ms, options) {
    const t = setInterval(fn, ms);
    if (options?.unref === true) t.unref();
    return t as unknown as TimerHandle;
  },
  // clearTimeout clears intervals too (Node: both are Timeout objects).
  clear: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
};

export const realRandom: PlatformRandom = {
  uint32: () => randomBytes(4).readUInt32BE(0),
};

