import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appendWorkload, KeySpace } from './append.ts';
import type { MicroOp, OpResult, SystemClient } from './client.ts';
import type { ClientContext, OpSpec } from './workload.ts';
import { opStream } from './workload.ts';

function context(txn: (ops: readonly MicroOp[]) => Promise<OpResult<readonly MicroOp[]>> = () => Promise.reject(new Error('no client'))): ClientContext {
  let next = 1;
  return { process: 0, client: { node: 'n1', txn } as unknown as SystemClient, holder: 'p0', uniqueValue: () => next++, memory: new Map() };
}

describe('append workload', () => {
  it('draws transactions of 1..4 micro-ops, resolved to keys of the active window with values unique in the run', () => {
    const w = appendWorkload();
    const ctx = context();
    const next = opStream(w.operations(), 7, 0);
    const values: number[] = [];
    for (let i = 0; i < 200; i++) {
      const op = w.prepare(ctx, next());
      expect(op.f).toBe('txn');
      const ops = op.value as MicroOp[];
      expect(ops.length).toBeGreaterThanOrEqual(1);
      expect(ops.length).toBeLessThanOrEqual(4);
      for (const m of ops) {
        expect(m[1]).toMatch(/^k\d+$/);
        if (m[0] === 'append') values.push(m[2]);
        else expect(m[2]).toBeNull();
      }
    }
    expect(new Set(values).size).toBe(values.length);
    expect(values.length).toBeGreaterThan(100);
  });

  it('a key retires after maxWritesPerKey appends and a fresh key takes its slot; a transaction names one key per slot', () => {
    const keys = new KeySpace({ activeKeys: 2, maxWritesPerKey: 3 });
    expect([keys.keyIn(0), keys.keyIn(1)]).toEqual(['k0', 'k1']);
    keys.noteAppends([0, 0]);
    expect(keys.keyIn(0)).toBe('k0');
    keys.noteAppends([0, 1]);
    expect([keys.keyIn(0), keys.keyIn(1)]).toEqual(['k2', 'k1']);
    keys.noteAppends([1, 1]);
    expect([keys.keyIn(0), keys.keyIn(1)]).toEqual(['k2', 'k3']);
    expect(keys.allKeys()).toEqual(['k0', 'k1', 'k2', 'k3']);
    expect(() => new KeySpace({ activeKeys: 0, maxWritesPerKey: 3 })).toThrow(/activeKeys must be a positive integer, got 0/);

    const w = appendWorkload({ activeKeys: 1, maxWritesPerKey: 2 });
    const ctx = context();
    const spec = (kinds: ('r' | 'append')[]): OpSpec => ({ f: 'txn', value: kinds.map((kind) => ({ kind, slot: 0 })) });
    expect(w.prepare(ctx, spec(['append', 'append', 'append', 'r'])).value).toEqual([
      ['append', 'k0', 1],
      ['append', 'k0', 2],
      ['append', 'k0', 3],
      ['r', 'k0', null],
    ]);
    expect(w.prepare(ctx, spec(['r'])).value).toEqual([['r', 'k1', null]]);
  });

  it('final reads read every key ever used, in chunks, and pass through prepare unchanged', () => {
    const w = appendWorkload({ activeKeys: 3, maxWritesPerKey: 1, finalReadChunk: 4 });
    const ctx = context();
    fc.sample(w.operations(), { seed: 3, numRuns: 20 }).forEach((op) => w.prepare(ctx, op));
    const finals = w.finalReads();
    const keys = finals.flatMap((op) => (op.value as MicroOp[]).map((m) => m[1]));
    const used = Number(keys.at(-1)!.slice(1)) + 1;
    expect(keys).toEqual(Array.from({ length: used }, (_, i) => `k${i}`));
    expect(used).toBeGreaterThan(3);
    for (const op of finals) {
      expect((op.value as MicroOp[]).length).toBeLessThanOrEqual(4);
      expect((op.value as MicroOp[]).every((m) => m[0] === 'r' && m[2] === null)).toBe(true);
      expect(w.prepare(ctx, op)).toBe(op);
    }
  });

  it('records what the client answered: ok with the filled-in reads, fail and info with their errors', async () => {
    const w = appendWorkload();
    const op: OpSpec = { f: 'txn', value: [['append', 'k0', 1], ['r', 'k0', null]] };
    const okCtx = context((ops) => Promise.resolve({ type: 'ok', value: ops.map((m): MicroOp => (m[0] === 'r' ? ['r', m[1], [1]] : m)), node: 'n2' }));
    expect(await w.invoke(okCtx, op)).toEqual({ type: 'ok', value: [['append', 'k0', 1], ['r', 'k0', [1]]], node: 'n2' });
    const infoCtx = context(() => Promise.resolve({ type: 'info', error: { code: 'timeout' } }));
    expect(await w.invoke(infoCtx, op)).toEqual({ type: 'info', error: { code: 'timeout' } });
  });

  it('is judged by the append checker (strict serializability) and the standard checkers', () => {
    expect(appendWorkload().checkers({ readConsistency: 'linearizable' }).map((c) => c.name)).toEqual(expect.arrayContaining(['append', 'election', 'replicas']));
    expect(appendWorkload().requires).toEqual(['txn-append']);
  });
});
