/**
 * A tiny seeded PRNG (mulberry32) for the one place the core needs randomness: the
 * randomized election timeout (§5.2). Same seed, same sequence, on every platform.
 */
import type { Rng } from './types.ts';

export class SeededRng implements Rng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`SeededRng: seed must be a finite number, got ${seed}`);
    this.state = seed >>> 0;
  }

  /** The next 32-bit unsigned value. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, n). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`SeededRng.nextInt: n must be a positive integer, got ${n}`);
    return this.nextUint32() % n;
  }
}

/** A seeded `Rng` (mulberry32). */
export function seededRng(seed: number): SeededRng {
  return new SeededRng(seed);
}
