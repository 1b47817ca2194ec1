import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pairOps } from '../history/pair.ts';
import type { CompletedOp, Op } from '../history/types.ts';
import { generateHistory, generatedInit, type GeneratedModel } from '../testing/generate.ts';
import { checkLinearizability } from './check.ts';

/**
 * Property tests. Valid histories come from a sequential execution of the model with
 * random interleaving, crashes and info ops (testing/generate.ts). Each mutation is one
 * that provably cannot be linearized given unique written values; the comment on each
 * says why, so a failure points at the checker and not at the mutation.
 */

const RUNS = 60;
const shape = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  ops: fc.integer({ min: 5, max: 120 }),
  keys: fc.integer({ min: 1, max: 3 }),
  processes: fc.integer({ min: 1, max: 6 }),
  infoRate: fc.constantFrom(0, 0.05, 0.2),
});

describe('generated histories are linearizable', () => {
  for (const model of ['register', 'cas-register', 'kv', 'versioned-kv', 'mutex'] as const) {
    it(`${model}: random concurrency, crashes and info ops`, async () => {
      await fc.assert(
        fc.asyncProperty(shape, async (s) => {
          const h = generateHistory({ model, ...s });
          const r = await checkLinearizability(h, { model, init: generatedInit(model), workers: 0, all: true });
          expect(r.summary).toMatch(/^linearizable/);
          expect(r.valid).toBe(true);
        }),
        { numRuns: RUNS },
      );
    });
  }
});

/** Replaces the completion of `target` (by its invoke index) with a new result value. */
function withResult(history: readonly Op[], target: CompletedOp, value: unknown): Op[] {
  return history.map((op) => (op.index === target.completeIndex ? { ...op, value } : op));
}

/** Replaces the invocation and completion argument of `target`. */
function withArgument(history: readonly Op[], target: CompletedOp, value: unknown): Op[] {
  return history.map((op) => (op.index === target.invokeIndex || op.index === target.completeIndex ? { ...op, value } : op));
}

async function expectCaught(model: GeneratedModel, h: readonly Op[], culprit: CompletedOp): Promise<void> {
  const r = await checkLinearizability(h, { model, init: generatedInit(model), workers: 0 });
  expect(r.valid).toBe(false);
  expect(r.invalidKeys).toEqual([culprit.key]);
}

const casShape = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  ops: fc.integer({ min: 20, max: 120 }),
  keys: fc.integer({ min: 1, max: 2 }),
  processes: fc.integer({ min: 2, max: 5 }),
  infoRate: fc.constantFrom(0, 0.1),
  pick: fc.nat(),
});

const okOps = (h: readonly Op[]): CompletedOp[] => pairOps(h).filter((op) => op.type === 'ok');
const sameKey = (a: CompletedOp, b: CompletedOp): boolean => (a.key ?? null) === (b.key ?? null);
const precedes = (a: CompletedOp, b: CompletedOp): boolean => a.completeIndex !== null && a.completeIndex < b.invokeIndex;

describe('single mutations are caught', () => {
  it('a stale read: a value overwritten before the read began', async () => {
    // Writes W1 -> W2 -> read R in real time, all ok: R must follow W2 which follows W1,
    // and only W1 ever wrote its (unique) value, so R cannot return it.
    await fc.assert(
      fc.asyncProperty(casShape, async (s) => {
        const h = generateHistory({ model: 'cas-register', ...s });
        const ok = okOps(h);
        const cands: [CompletedOp, CompletedOp][] = [];
        for (const r of ok.filter((o) => o.f === 'read')) {
          for (const w2 of ok.filter((o) => o.f === 'write' && sameKey(o, r) && precedes(o, r))) {
            const w1 = ok.find((o) => o.f === 'write' && sameKey(o, r) && precedes(o, w2) && o.invokeValue !== r.value);
            if (w1 !== undefined) cands.push([r, w1]);
          }
        }
        fc.pre(cands.length > 0);
        const [r, w1] = cands[s.pick % cands.length] as [CompletedOp, CompletedOp];
        await expectCaught('cas-register', withResult(h, r, w1.invokeValue), r);
      }),
      { numRuns: RUNS },
    );
  });

  it('a lost write: a read after an acknowledged write sees the initial value again', async () => {
    // No operation writes the initial value 0 (written values start at 1), and R follows
    // an ok write in real time, so the register can never hold 0 when R runs.
    await fc.assert(
      fc.asyncProperty(casShape, async (s) => {
        const h = generateHistory({ model: 'cas-register', ...s });
        const ok = okOps(h);
        const cands = ok.filter((r) => r.f === 'read' && r.value !== 0 && ok.some((w) => w.f === 'write' && sameKey(w, r) && precedes(w, r)));
        fc.pre(cands.length > 0);
        const r = cands[s.pick % cands.length] as CompletedOp;
        await expectCaught('cas-register', withResult(h, r, 0), r);
      }),
      { numRuns: RUNS },
    );
  });

  it('a write applied twice: a put whose effect lands again bumps the version one time too many', async () => {
    // versioned-kv: a read R reports {version v+1, value x} where x was written by an ok put
    // or create that reported version v. Values are unique, so the only state holding x is
    // {v, x}: a doubled application (x at v+1) cannot be linearized.
    await fc.assert(
      fc.asyncProperty(casShape, async (s) => {
        const h = generateHistory({ model: 'versioned-kv', ...s });
        const ok = okOps(h);
        const writers = new Map<unknown, CompletedOp>();
        for (const w of ok) if (w.f === 'put' || w.f === 'create') writers.set((w.invokeValue as { value: unknown }).value, w);
        const cands = ok.filter((r) => r.f === 'read' && r.value !== null && writers.has((r.value as { value: unknown }).value));
        fc.pre(cands.length > 0);
        const r = cands[s.pick % cands.length] as CompletedOp;
        const seen = r.value as { version: number; value: unknown };
        await expectCaught('versioned-kv', withResult(h, r, { version: seen.version + 1, value: seen.value }), r);
      }),
      { numRuns: RUNS },
    );
  });

  it('a CAS that succeeded against the wrong value', async () => {
    // The cas now expects a value nobody ever wrote (-1), yet it is acknowledged.
    await fc.assert(
      fc.asyncProperty(casShape, async (s) => {
        const h = generateHistory({ model: 'cas-register', ...s });
        const cands = okOps(h).filter((o) => o.f === 'cas');
        fc.pre(cands.length > 0);
        const c = cands[s.pick % cands.length] as CompletedOp;
        const [, newValue] = c.invokeValue as [unknown, unknown];
        await expectCaught('cas-register', withArgument(h, c, [-1, newValue]), c);
      }),
      { numRuns: RUNS },
    );
  });
});
