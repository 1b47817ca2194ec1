import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Op } from '../history/types.ts';
import { checkAppend, type Element, type MicroOp } from './append.ts';
import { generateAppendHistory, type AppendGenerateOptions } from './generate.ts';

/** Shapes small enough to shrink well, with key rotation, crashes and failures. */
const shapes = fc.record({
  txns: fc.integer({ min: 5, max: 60 }),
  processes: fc.integer({ min: 1, max: 6 }),
  activeKeys: fc.integer({ min: 1, max: 4 }),
  maxAppendsPerKey: fc.integer({ min: 2, max: 8 }),
  maxTxnLength: fc.integer({ min: 1, max: 5 }),
  infoRate: fc.constantFrom(0, 0.1, 0.2),
  failRate: fc.constantFrom(0, 0.1, 0.2),
  numericKeys: fc.boolean(),
  seed: fc.integer(),
});

type Shape = Omit<AppendGenerateOptions, 'serial' | 'finalReads'>;

/** A read in an ok completion: where it sits in the history and its list. */
interface ReadSite {
  readonly at: number;
  readonly mop: number;
  readonly key: unknown;
  readonly list: readonly Element[];
}

/** The generator's final reads are its last transactions, one per 10 keys. */
function finalOps(h: readonly Op[]): number {
  const keys = new Set<unknown>();
  for (const op of h) for (const m of op.value as MicroOp[]) keys.add(m[1]);
  return 2 * Math.ceil(keys.size / 10);
}

function reads(h: readonly Op[], includeFinal: boolean): ReadSite[] {
  const end = includeFinal ? h.length : h.length - finalOps(h);
  const out: ReadSite[] = [];
  for (let at = 0; at < end; at++) {
    const op = h[at]!;
    if (op.type !== 'ok') continue;
    (op.value as MicroOp[]).forEach((m, mop) => {
      if (m[0] === 'r') out.push({ at, mop, key: m[1], list: m[2] ?? [] });
    });
  }
  return out;
}

function withMops(h: readonly Op[], at: number, change: (mops: MicroOp[]) => void, type?: Op['type']): Op[] {
  const copy = [...h];
  const op = h[at]!;
  const mops = (op.value as MicroOp[]).map((m): MicroOp => (m[0] === 'r' ? ['r', m[1], m[2] === null ? null : [...m[2]]] : m));
  change(mops);
  copy[at] = { ...op, value: mops, ...(type !== undefined ? { type } : {}) };
  return copy;
}

function setList(mops: MicroOp[], i: number, list: Element[]): void {
  const m = mops[i]!;
  mops[i] = ['r', m[1], list];
}

/** For each mutation: the history, a choice among its candidate sites, and the anomaly it must show. */
function caught(name: string, expected: string, candidates: (h: readonly Op[]) => ((h: readonly Op[]) => Op[])[]): void {
  it(`${name} is caught as ${expected}`, () => {
    fc.assert(
      fc.property(shapes, fc.nat(), (shape: Shape, pick) => {
        const h = generateAppendHistory(shape);
        const sites = candidates(h);
        fc.pre(sites.length > 0);
        const mutated = sites[pick % sites.length]!(h);
        const r = checkAppend(mutated, { consistency: 'serializable' });
        expect(r.valid).toBe(false);
        expect(r.forbiddenTypes).toContain(expected);
      }),
      { numRuns: 150 },
    );
  });
}

describe('list-append checker: properties', () => {
  it('serial histories are valid under both models', () => {
    fc.assert(
      fc.property(shapes, (shape: Shape) => {
        const h = generateAppendHistory({ ...shape, serial: true });
        for (const consistency of ['strict-serializable', 'serializable'] as const) {
          const r = checkAppend(h, { consistency });
          expect(r.anomalyTypes, r.summary).toEqual([]);
          expect(r.valid).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('concurrent histories from a strict-serializable store are valid under both models', () => {
    fc.assert(
      fc.property(shapes, (shape: Shape) => {
        const h = generateAppendHistory(shape);
        for (const consistency of ['strict-serializable', 'serializable'] as const) {
          const r = checkAppend(h, { consistency });
          expect(r.anomalyTypes, r.summary).toEqual([]);
          expect(r.valid).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  // Each mutation below is one a store bug would make; the final reads (which see every key)
  // guarantee it shows.
  caught('dropping an element from the middle of a read', 'incompatible-order', (h) =>
    reads(h, false).flatMap((s) =>
      s.list.slice(0, -1).map((_, i) => (x: readonly Op[]) => withMops(x, s.at, (m) => setList(m, s.mop, s.list.filter((_e, j) => j !== i)))),
    ),
  );

  caught('repeating an element in a read', 'duplicate-elements', (h) =>
    reads(h, true).flatMap((s) => s.list.map((e, i) => (x: readonly Op[]) => withMops(x, s.at, (m) => setList(m, s.mop, [...s.list.slice(0, i + 1), e, ...s.list.slice(i + 1)])))),
  );

  caught('swapping two adjacent elements of a read', 'incompatible-order', (h) =>
    reads(h, false).flatMap((s) =>
      s.list.slice(0, -1).map((_, i) => (x: readonly Op[]) => {
        const l = [...s.list];
        [l[i], l[i + 1]] = [l[i + 1]!, l[i]!];
        return withMops(x, s.at, (m) => setList(m, s.mop, l));
      }),
    ),
  );

  caught('a read of an append whose transaction failed', 'G1a', (h) => {
    const end = h.length - finalOps(h);
    const out: ((x: readonly Op[]) => Op[])[] = [];
    for (let at = 0; at < end; at++) {
      const op = h[at]!;
      if (op.type === 'ok' && (op.value as MicroOp[]).some((m) => m[0] === 'append')) out.push((x) => withMops(x, at, () => undefined, 'fail'));
    }
    return out;
  });

  caught("a read of another transaction's intermediate state", 'G1b', (h) => {
    const out: ((x: readonly Op[]) => Op[])[] = [];
    const all = reads(h, true);
    h.forEach((op, wAt) => {
      if (op.type !== 'ok') return;
      const mops = op.value as MicroOp[];
      mops.forEach((m, i) => {
        if (m[0] !== 'append' || !mops.slice(i + 1).some((n) => n[0] === 'append' && n[1] === m[1])) return;
        for (const s of all) {
          const p = s.list.indexOf(m[2]);
          if (s.key === m[1] && s.at !== wAt && p >= 0) out.push((x) => withMops(x, s.at, (ms) => setList(ms, s.mop, s.list.slice(0, p + 1))));
        }
      });
    });
    return out;
  });

  caught('a read that misses its own transaction’s earlier append', 'internal', (h) => {
    const out: ((x: readonly Op[]) => Op[])[] = [];
    h.forEach((op, at) => {
      if (op.type !== 'ok') return;
      const mops = op.value as MicroOp[];
      mops.forEach((m, i) => {
        if (m[0] !== 'r' || !mops.slice(0, i).some((n) => n[0] === 'append' && n[1] === m[1])) return;
        out.push((x) => withMops(x, at, (ms) => setList(ms, i, (m[2] ?? []).slice(0, -1))));
      });
    });
    return out;
  });
});
