import { describe, expect, it } from 'vitest';
import { SeededRng } from './rng.ts';

describe('SeededRng', () => {
  it('is deterministic per seed and stays in range', () => {
    const a = new SeededRng(42);
    const b = new SeededRng(42);
    const xs = Array.from({ length: 1000 }, () => a.nextInt(7));
    expect(Array.from({ length: 1000 }, () => b.nextInt(7))).toEqual(xs);
    expect(xs.every((x) => Number.isInteger(x) && x >= 0 && x < 7)).toBe(true);
    expect(new Set(xs).size).toBe(7);
    expect(Array.from({ length: 20 }, () => new SeededRng(43).nextInt(1000))).not.toEqual(xs.slice(0, 20));
  });

  it('rejects a bad bound or seed', () => {
    expect(() => new SeededRng(1).nextInt(0)).toThrow(/positive integer/);
    expect(() => new SeededRng(Number.NaN)).toThrow(/finite/);
  });
});
