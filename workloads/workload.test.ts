import { describe, expect, it } from 'vitest';
import { registerWorkload } from './register.ts';
import { classify, opStream } from './workload.ts';

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

describe('classify', () => {
  it('definite errors fail, indefinite ones are info, and any error on a read fails', () => {
    const timeout = { kind: 'error', definite: false, code: 'timeout', status: null, body: null, leaderHint: null } as const;
    const conflict = { kind: 'error', definite: true, code: 'version-conflict', status: 409, body: null, leaderHint: null } as const;
    expect(classify(timeout, 'n1', false, () => null).type).toBe('info');
    expect(classify(timeout, 'n1', true, () => null).type).toBe('fail');
    expect(classify(conflict, 'n1', false, () => null).type).toBe('fail');
    expect(classify({ kind: 'ok', status: 200, body: { version: 2 } }, 'n1', false, (b) => b.version)).toEqual({ type: 'ok', value: 2, node: 'n1' });
  });
});
