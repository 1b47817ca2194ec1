import type { Rng } from '../types.ts';

/**
 * A small, fast, seeded PRNG (splitmix32) for the test layers. Everything random in the
 * simulator and the interaction environment is drawn from one of these, so a run is a pure
 * function of its seed: no wall clock, no Math.random.
 */
export class SeededRng implements Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** An integer in [0, n). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`nextInt: n must be a positive integer, got ${n}`);
    return this.nextU32() % n;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.nextU32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick: empty list');
    return items[this.nextInt(items.length)] as T;
  }

  /** An independent generator derived from this one (for per-node election timers). */
  fork(): SeededRng {
    return new SeededRng(this.nextU32());
  }
}
