import { describe, expect, it } from 'vitest';
import { registerWorkload } from './register.ts';
import { opStream } from './workload.ts';

describe('operation streams', () => {
  it('the same seed and slot give the same operations; another seed differs', () => {
    const arb = registerWorkload().operations();
    const take = (seed: number, slot: number): unknown[] => {
      const next = opStream(arb, seed, slot);
      return Array.from({ length: 300 }, () => next());
    };
    expect(take(5, 0)).toEqual(take(5, 0));
    expect(take(5, 0)).not.toEqual(take(6, 0));
    expect(take(5, 0)).not.toEqual(take(5, 1));
  });
});

