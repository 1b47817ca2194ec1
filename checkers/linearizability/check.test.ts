import { describe, expect, it } from 'vitest';
import type { Op } from '../history/types.ts';
import { generateHistory } from '../testing/generate.ts';
import { HistoryBuilder } from '../testing/history-builder.ts';
import { historyOf } from '../testing/intervals.ts';
import { checkLinearizability } from './check.ts';
import { renderLinearizabilityHtml } from './html.ts';

/** Two keys broken the same way (a read of a value overwritten before it started), one fine. */
function threeKeys(): Op[] {
  const b = new HistoryBuilder();
  for (const key of ['a', 'b', 'c']) {
    b.invoke(0, 'write', 1, key).ok(0).invoke(1, 'write', 2, key).ok(1);
    b.invoke(2, 'read', null, key).ok(2, key === 'b' ? 2 : 1);
  }
  return b.ops;
}

describe('checkLinearizability', () => {
  it('stops at the first invalid key unless asked for all', async () => {
    const first = await checkLinearizability(threeKeys(), { model: 'register', workers: 0 });
    expect(first.valid).toBe(false);
    expect(first.invalidKeys).toEqual(['a']);
    expect(first.keysLeft).toEqual(['b', 'c']);
    const all = await checkLinearizability(threeKeys(), { model: 'register', workers: 0, all: true });
    expect(all.invalidKeys).toEqual(['a', 'c']);
    expect(all.failures.map((f) => f.key)).toEqual(['a', 'c']);
    expect(all.keysChecked).toBe(3);
    expect(all.keysLeft).toEqual([]);
  });

  it('explains a failure: key, op, longest prefix with states, possible states', async () => {
    const r = await checkLinearizability(threeKeys(), { model: 'register', init: 0, workers: 0 });
    const f = r.failure!;
    expect(f.key).toBe('a');
    expect(f.op).toMatchObject({ f: 'read', value: 1, process: 2 });
    expect(f.prefix.map((s) => [s.op.invokeValue, s.state])).toEqual([
      [1, '1'],
      [2, '2'],
    ]);
    expect(f.states).toEqual(['2']);
    expect(f.initialState).toBe('0');
    expect(r.summary).toMatch(/^not linearizable: key "a": process 2: read -> 1 .* could have been in state 2$/);
  });

  it('drops fail ops (they did not happen) and allows info ops never to happen', async () => {
    const h = historyOf([
      { process: 0, f: 'write', input: 1, call: 0, ret: 10 },
      { process: 1, f: 'write', input: 2, type: 'fail', call: 11, ret: 12 },
      { process: 2, f: 'cas', input: [1, 3], type: 'info', call: 13 },
      { process: 3, f: 'read', output: 1, call: 20, ret: 30 },
      { process: 4, f: 'read', output: 3, call: 40, ret: 50 },
      { process: 5, f: 'read', output: 3, call: 60, ret: 70 },
    ]);
    expect((await checkLinearizability(h, { model: 'cas-register', workers: 0 })).valid).toBe(true);
    // ...but an info op takes effect at most once, and only after its invocation.
    const early = historyOf([
      { process: 0, f: 'write', input: 1, call: 0, ret: 10 },
      { process: 3, f: 'read', output: 5, call: 20, ret: 30 },
      { process: 2, f: 'write', input: 5, type: 'info', call: 40 },
    ]);
    expect((await checkLinearizability(early, { model: 'cas-register', workers: 0 })).valid).toBe(false);
  });

  it('answers unknown with what was checked when the state budget runs out', async () => {
    const h = generateHistory({ model: 'cas-register', ops: 400, keys: 4, processes: 4, infoRate: 0.05, seed: 3 });
    const r = await checkLinearizability(h, { model: 'cas-register', init: 0, workers: 0, maxStates: 5 });
    expect(r.valid).toBe('unknown');
    expect(r.keysLeft.length).toBeGreaterThan(0);
    expect(r.keysChecked + r.keysLeft.length).toBe(r.keys);
    expect(r.summary).toMatch(/^unknown: the state budget .* ran out/);
  });

  it('answers unknown when the time budget is already spent', async () => {
    const h = generateHistory({ model: 'cas-register', ops: 200, keys: 3, processes: 3, infoRate: 0, seed: 4 });
    const r = await checkLinearizability(h, { model: 'cas-register', init: 0, workers: 0, budgetMs: -1 });
    expect(r.valid).toBe('unknown');
    expect(r.keysChecked).toBe(0);
    expect(r.keysLeft).toHaveLength(3);
  });

  it('names the op when the model does not know its function', async () => {
    const h = new HistoryBuilder().invoke(0, 'append', 'x').ok(0).ops;
    await expect(checkLinearizability(h, { model: 'register' })).rejects.toThrow('op index 0: model register does not know f "append" (it knows read, write)');
  });

  it('gives the same verdicts on worker threads', async () => {
    const h = generateHistory({ model: 'cas-register', ops: 600, keys: 6, processes: 6, infoRate: 0.05, seed: 9 });
    const r = await checkLinearizability(h, { model: 'cas-register', init: 0, workers: 2 });
    expect(r.valid).toBe(true);
    expect(r.keysChecked).toBe(6);
    const bad = await checkLinearizability(threeKeys(), { model: 'register', workers: 2, all: true });
    expect(bad.invalidKeys.slice().sort()).toEqual(['a', 'c']);
    expect(bad.failure?.op).toMatchObject({ f: 'read', value: 1 });
  }, 60_000);

  it('answers unknown when the time budget runs out on worker threads', async () => {
    const h = generateHistory({ model: 'cas-register', ops: 2000, keys: 4, processes: 6, infoRate: 0.05, seed: 12 });
    const r = await checkLinearizability(h, { model: 'cas-register', init: 0, workers: 2, budgetMs: 1 });
    expect(r.valid).toBe('unknown');
    expect(r.keysChecked + r.keysLeft.length).toBe(4);
    expect(r.keysLeft.length).toBeGreaterThan(0);
  }, 60_000);

  it('a worker that runs out of heap makes its key unknown, not the process crash', async () => {
    const h = generateHistory({ model: 'cas-register', ops: 30000, keys: 2, processes: 10, infoRate: 0.05, seed: 3 });
    const r = await checkLinearizability(h, { model: 'cas-register', init: 0, workers: 2, maxHeapMb: 4 });
    // How far a 4 MB worker gets depends on garbage-collection timing; what is certain is
    // that no key is wrongly judged and the ones whose worker died say why.
    expect(r.valid).toBe('unknown');
    for (const k of r.perKey) expect(k.valid === true || k.reason === 'memory').toBe(true);
    expect(r.summary).toMatch(/a search worker ran out of memory/);
  }, 60_000);
});

describe('renderLinearizabilityHtml', () => {
  it('draws a self-contained timeline highlighting the prefix and the failing op', async () => {
    const h = threeKeys();
    const r = await checkLinearizability(h, { model: 'register', init: 0, workers: 0 });
    const html = renderLinearizabilityHtml(r, h, 'three keys <test>');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('three keys &lt;test&gt;');
    expect(html.match(/class="op ok lin"/g)).toHaveLength(2);
    expect(html.match(/class="op ok failing"/g)).toHaveLength(1);
    expect(html).toContain('Cannot be linearized next: process 2: read -&gt; 1');
    // No external resources: no src/href attributes, no imports, no remote fonts.
    expect(html).not.toMatch(/\s(src|href)=|@import|url\(http/);
  });
});
