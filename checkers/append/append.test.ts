import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseHistory, readHistoryFile } from '../history/read.ts';
import type { Op } from '../history/types.ts';
import { HistoryBuilder } from '../testing/history-builder.ts';
import { AppendChecker, AppendInputError, checkAppend, isCycleAnomaly, type AppendResult, type CycleAnomaly, type OpAnomaly } from './append.ts';
import { generateAppendHistory } from './generate.ts';
import { begin, concurrently, serially, txn } from './notation.ts';

const testdata = (name: string): string => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));

function only(r: AppendResult, type: string): OpAnomaly {
  const list = r.anomalies[type];
  expect(list, `expected ${type} among ${r.anomalyTypes.join(', ')}`).toBeDefined();
  return list![0]! as OpAnomaly;
}

function cycle(r: AppendResult, type: string): CycleAnomaly {
  const a = r.anomalies[type]?.[0];
  expect(a !== undefined && isCycleAnomaly(a), `expected a ${type} cycle among ${r.anomalyTypes.join(', ')}`).toBe(true);
  return a as CycleAnomaly;
}

/** The cycle's edges as "Ti kind Tj" with each T named by its history index, rotated to start at the smallest. */
function edges(c: CycleAnomaly): string[] {
  return c.steps.map((s) => `${c.txns[s.from]!.index} ${s.kind} ${c.txns[s.to]!.index}`).sort();
}

describe('list-append checker: valid histories', () => {
  it('accepts a serial history, with empty reads as null or []', () => {
    const b = new HistoryBuilder();
    begin(b, 0, 'rx').ok(0, [['r', 'x', null]]);
    begin(b, 0, 'ax1ax2rx12').ok(0, txn('ax1ax2rx12'));
    begin(b, 1, 'rx12ay1').ok(1, txn('rx12ay1'));
    begin(b, 0, 'rx12ry1').ok(0, txn('rx12ry1'));
    const r = checkAppend(b.ops);
    expect(r.valid).toBe(true);
    expect(r.anomalyTypes).toEqual([]);
    expect(r.summary).toMatch(/^strict-serializable: no forbidden anomalies in 4 txns \(4 ok\), 8 micro-ops, 2 keys/);
  });

  it('counts an info append that a read saw, and does not miss an info append nobody saw', () => {
    const b = new HistoryBuilder();
    begin(b, 0, 'ax1').info(0);
    begin(b, 1, 'ax2').info(1);
    begin(b, 2, 'rx1').ok(2, txn('rx1'));
    const r = checkAppend(b.ops);
    expect(r.valid).toBe(true);
    expect(r.anomalyTypes).toEqual([]);
  });

  it('has no verdict without committed transactions', () => {
    const b = new HistoryBuilder();
    begin(b, 0, 'ax1').fail(0);
    expect(checkAppend(b.ops).valid).toBe('unknown');
  });
});

describe('list-append checker: cycles (Adya, Elle)', () => {
  it('G0: a write cycle (x ordered T1, T2; y ordered T2, T1)', () => {
    const r = checkAppend(concurrently('ax1ay1', 'ax2ay2', 'rx12ry21'));
    expect(r.valid).toBe(false);
    expect(r.forbiddenTypes).toEqual(['G0']);
    const c = cycle(r, 'G0');
    expect(edges(c)).toEqual(['3 ww 4', '4 ww 3']);
    const step = c.steps.find((s) => s.key === 'x')!;
    expect(step.explanation).toBe(`T2 appended 2 to key "x" right after T1's append of 1 (ww: the version order [1, 2], read at index 5)`);
    expect(c.explanation).toContain('T1 = index 3 (process 0, ok): [append "x" 1, append "y" 1]');
  });

  it('G1c: circular information flow (a ww edge one way, a wr edge back)', () => {
    const r = checkAppend(concurrently('ax1ry1', 'ax2ay1', 'rx12'));
    expect(r.forbiddenTypes).toEqual(['G1c']);
    const c = cycle(r, 'G1c');
    expect(c.steps.map((s) => s.kind).sort()).toEqual(['wr', 'ww']);
    expect(c.steps.find((s) => s.kind === 'wr')!.explanation).toBe(`T1 read key "y" = [1], whose last element 1 T2 appended (wr)`);
  });

  it('G-single: read skew, one anti-dependency', () => {
    // T1 reads x before T2's append and y after it.
    const r = checkAppend(concurrently('rxry1', 'ax1ay1', 'rx1'));
    expect(r.forbiddenTypes).toEqual(['G-single']);
    const c = cycle(r, 'G-single');
    expect(c.steps.map((s) => s.kind).sort()).toEqual(['rw', 'wr']);
    expect(c.steps.find((s) => s.kind === 'rw')!.explanation).toBe(`T1 read key "x" empty and did not see T2's append of 1, the next element in the version order [1] (rw)`);
  });

  it('G2-item: write skew, two adjacent anti-dependencies', () => {
    const r = checkAppend(concurrently('rxay1', 'ryax1', 'rx1ry1'));
    expect(r.forbiddenTypes).toEqual(['G2-item']);
    expect(cycle(r, 'G2-item').steps.map((s) => s.kind)).toEqual(['rw', 'rw']);
  });

  it('G-nonadjacent: two anti-dependencies with a wr edge between them on both sides', () => {
    // T1 -rw(x)-> T2 -wr(y)-> T3 -rw(z)-> T4 -wr(w)-> T1
    const r = checkAppend(concurrently('rxrw1', 'ax1ay1', 'ry1rz', 'az1aw1'));
    expect(r.forbiddenTypes).toEqual(['G-nonadjacent']);
    expect(cycle(r, 'G-nonadjacent').steps.map((s) => s.kind)).toEqual(['rw', 'wr', 'rw', 'wr']);
  });

  it('the Elle paper example (EDN): G-single over integer keys', () => {
    const r = checkAppend(readHistoryFile(testdata('elle-paper-g-single.edn')));
    expect(r.valid).toBe(false);
    expect(r.forbiddenTypes).toEqual(['G-single']);
    const c = cycle(r, 'G-single');
    expect(edges(c)).toEqual(['3 wr 5', '5 ww 7', '7 rw 3']);
    const [t5, t7] = [nameOf(c, 5), nameOf(c, 7)];
    expect(c.steps.find((s) => s.kind === 'ww')!.explanation).toBe(`${t7} appended 3 to key 256, which no read saw, so after 4, the last element any read saw, which ${t5} appended (ww: the longest read, at index 5, ends [1, 2, 4])`);
    expect(c.steps.find((s) => s.kind === 'rw')!.explanation).toContain('did not see');
  });

  it('realtime variants: a stale read is G-single-realtime, forbidden by strict serializability only', () => {
    const h = serially('ax1', 'rx', 'rx1');
    const strict = checkAppend(h);
    expect(strict.valid).toBe(false);
    expect(strict.forbiddenTypes).toEqual(['G-single-realtime']);
    const c = cycle(strict, 'G-single-realtime');
    expect(edges(c)).toEqual(['1 rt 3', '3 rw 1']);
    expect(c.steps.find((s) => s.kind === 'rt')!.explanation).toMatch(/^T\d completed \(index 1\) before T\d was invoked \(index 2\) \(rt\)$/);
    const serializable = checkAppend(h, { consistency: 'serializable' });
    expect(serializable.valid).toBe(true);
    expect(serializable.anomalyTypes).toEqual([]);
  });

  it('G0-realtime: appends applied in the opposite of their real-time order', () => {
    const r = checkAppend(serially('ax1', 'ax2', 'rx21'));
    expect(r.forbiddenTypes).toEqual(['G0-realtime']);
    expect(cycle(r, 'G0-realtime').steps.map((s) => s.kind).sort()).toEqual(['rt', 'ww']);
    expect(checkAppend(serially('ax1', 'ax2', 'rx21'), { consistency: 'serializable' }).valid).toBe(true);
  });

  it('G1c-realtime: a read of a write that began after the reader completed', () => {
    // T1 reads x = [1] and completes; only then is T2, which appends 1 to x, invoked.
    const b = new HistoryBuilder();
    begin(b, 0, 'rx1').ok(0, txn('rx1'));
    begin(b, 1, 'ax1').ok(1, txn('ax1'));
    const r = checkAppend(b.ops);
    expect(r.forbiddenTypes).toEqual(['G1c-realtime']);
    expect(edges(cycle(r, 'G1c-realtime'))).toEqual(['1 rt 3', '3 wr 1']);
  });
});

function nameOf(c: CycleAnomaly, index: number): string {
  return `T${c.txns.findIndex((t) => t.index === index) + 1}`;
}

describe('list-append checker: anomalies without cycles', () => {
  it('G1a: a read of a failed append', () => {
    const b = new HistoryBuilder();
    begin(b, 0, 'ax1').fail(0);
    begin(b, 1, 'rx1ax2').ok(1, txn('rx1ax2'));
    begin(b, 1, 'rx12ry3').ok(1, txn('rx12ry3'));
    const r = checkAppend(b.ops);
    expect(r.anomalyCounts['G1a']).toBe(2);
    const a = only(r, 'G1a');
    expect(a.txns.map((t) => t.index)).toEqual([3, 1]);
    expect(a.explanation).toBe('aborted read: the transaction at index 3 read key "x" = [1], which holds 1, appended by the transaction at index 1, which failed');
    expect(r.anomalyTypes).toContain('garbage-read'); // nobody appended 3 to y
  });

  it('G1b: a read of another transaction intermediate state; reading your own is fine', () => {
    const r = checkAppend(concurrently('ax1ax2', 'rx1', 'rx12', 'ax3rx123ax4'));
    expect(r.anomalyCounts['G1b']).toBe(1);
    expect(only(r, 'G1b').explanation).toBe('intermediate read: the transaction at index 5 read key "x" = [1], ending at 1, but the transaction at index 4 appended 1, 2 to it: 1 was never its final state');
  });

  it('internal: reads that contradict the transaction own appends and reads (Elle cases)', () => {
    const r = checkAppend(concurrently('rx12ax3rx12', 'ry12ay3ry023', 'rz12az3rz1234', 'at3rt1234', 'au4ru', 'av5rv5'));
    expect(r.anomalyCounts['internal']).toBe(5);
    const first = only(r, 'internal');
    expect(first.explanation).toBe('the transaction at index 6 read key "x" = [1, 2], but its own earlier read and appends say it must be [1, 2, 3]');
    expect(r.anomalies['internal']!.map((a) => (a as OpAnomaly)['expected'])).toEqual([[1, 2, 3], [1, 2, 3], [1, 2, 3], ['...', 3], ['...', 4]]);
  });

  it('future-read: reading an element the transaction appends only later', () => {
    const r = checkAppend(concurrently('rx12ax1'));
    expect(r.anomalyTypes).toContain('future-read');
    expect(only(r, 'future-read').element).toBe(1);
  });

  it('duplicate-elements and incompatible-order', () => {
    const dup = checkAppend(concurrently('ax1', 'ax2', 'rx121'));
    expect(dup.anomalyTypes).toContain('duplicate-elements');
    expect(only(dup, 'duplicate-elements').explanation).toContain('1 appears 2 times');
    const inc = checkAppend(concurrently('ax1', 'ax2', 'ax3', 'rx12', 'rx13'));
    expect(inc.forbiddenTypes).toContain('incompatible-order');
    expect(only(inc, 'incompatible-order').explanation).toBe('key "x" was read as [1, 3] at index 9 and as [1, 2] at index 8 (its longest read); they differ at position 1 (3 vs 2), so no single order of appends explains both');
  });

  it('lost-append (JSON Lines): acknowledged, then missing from every later read', () => {
    const strict = checkAppend(readHistoryFile(testdata('lost-append.jsonl')));
    expect(strict.valid).toBe(false);
    expect(strict.forbiddenTypes).toEqual(['G-single-realtime', 'lost-append']);
    expect(only(strict, 'lost-append').explanation).toBe(
      'the transaction at index 3 appended 2 to key "k1" and was acknowledged, but none of the 1 read(s) of that key begun afterwards saw it (the first began at index 4; the last, at index 4, read [1])',
    );
    // Serializability lets the read be ordered before the append.
    expect(checkAppend(readHistoryFile(testdata('lost-append.jsonl')), { consistency: 'serializable' }).valid).toBe(true);
  });

  it('lost-update: two committed transactions read the same state and both append', () => {
    const r = checkAppend(concurrently('rx1ax2', 'rx1ax3', 'ax1'));
    expect(r.anomalyTypes).toContain('lost-update');
    expect(only(r, 'lost-update').txns.map((t) => t.index)).toEqual([3, 4]);
  });
});

describe('list-append checker: input, budgets', () => {
  it('reads Jepsen EDN vectors with keyword keys, info and fail', () => {
    const h = readHistoryFile(testdata('valid-vector.edn'));
    const r = new AppendChecker({ consistency: 'strict-serializable' }).check({ history: h });
    expect(r.valid).toBe(true);
    expect(r).toMatchObject({ checker: 'append', txns: 4, keys: 2, microOps: 6 });
  });

  it('EDN and JSON Lines give the same verdict on the same history', () => {
    const edn = readFileSync(testdata('elle-paper-g-single.edn'), 'utf8');
    const fromEdn = parseHistory(edn, 'x.edn');
    const jsonl = fromEdn.map((op) => JSON.stringify(op)).join('\n');
    const a = checkAppend(fromEdn);
    const b = checkAppend(parseHistory(jsonl, 'x.jsonl'));
    expect(b.anomalyCounts).toEqual(a.anomalyCounts);
    expect(b.summary).toBe(a.summary);
  });

  it('rejects what is not a list-append history, naming the op index', () => {
    const bad = (value: unknown, f = 'txn'): Op[] => [{ index: 7, time: 0, process: 0, type: 'invoke', f, value }];
    expect(() => checkAppend(bad([['w', 'x', 1]]))).toThrow(new AppendInputError('op index 7: micro-op 0 ["w","x",1] is neither "append" nor "r"'));
    expect(() => checkAppend(bad([['append', 'x']]))).toThrow(/op index 7: micro-op 0 \["append","x"\] is not \[f, key, value\]/);
    expect(() => checkAppend(bad(3))).toThrow(/op index 7: a transaction's value must be a list of micro-ops, got 3/);
    expect(() => checkAppend(bad(null, 'read'))).toThrow(/op index 7: f "read" is not a list-append transaction/);
    const b = new HistoryBuilder();
    begin(b, 0, 'ax1').ok(0, [['r', 'x', 5]]);
    expect(() => checkAppend(b.ops)).toThrow(/op index 1: micro-op 0 \["r","x",5\] reads something that is not a list/);
  });

  it('says unknown when an appended value is not unique', () => {
    const r = checkAppend(concurrently('ax1', 'ax1', 'rx1'));
    expect(r.valid).toBe('unknown');
    expect(r.unknownReason).toMatch(/^duplicate-appends: 1 was appended to key "x" by the transaction at index 3 and again by the one at index 4/);
  });

  it('ends in unknown, not a hang, when the time budget runs out', () => {
    const history = generateAppendHistory({ txns: 3000, processes: 5, activeKeys: 5, seed: 1 });
    expect(checkAppend(history).valid).toBe(true);
    // A clock on which every reading is a second later: the budget runs out at the first look.
    let t = 0;
    const r = checkAppend(history, { budgetMs: 50, now: () => (t += 1000) });
    expect(r.valid).toBe('unknown');
    expect(r.unknownReason).toBe('the time budget (50 ms) ran out while reading the history');
    expect(r.summary).toMatch(/^unknown: the time budget/);
  });

  it('keeps a proven anomaly when the budget runs out later', () => {
    // A G1a in the first transactions, then enough history for the budget to run out in the graph phase.
    const b = new HistoryBuilder();
    begin(b, 0, 'ax1').fail(0);
    begin(b, 0, 'rx1').ok(0, txn('rx1'));
    const tail = generateAppendHistory({ txns: 3000, processes: 5, activeKeys: 5, seed: 2 }).map((op) => ({ ...op, index: op.index + 4, process: (op.process as number) + 1 }));
    const history = [...b.ops, ...tail];
    // Count the clock readings of a whole check, then let time leap only at the last few:
    // the budget runs out in the cycle search, after the G1a was found.
    let readings = 0;
    checkAppend(history, { now: () => ++readings });
    let n = 0;
    const r = checkAppend(history, { budgetMs: 50, now: () => (++n > readings - 4 ? n * 1000 : 0) });
    expect(r.valid).toBe(false);
    expect(r.forbiddenTypes).toEqual(['G1a']);
    expect(r.unknownReason).toBe('the time budget (50 ms) ran out while finding strongly connected components');
    expect(r.summary).toMatch(/^not strict-serializable: G1a ×1 in .* \(search incomplete: the time budget/);
  });

  it('ends in unknown when the edge (memory) budget runs out', () => {
    const history = generateAppendHistory({ txns: 3000, processes: 5, activeKeys: 5, seed: 1 });
    const r = checkAppend(history, { maxEdges: 10 });
    expect(r.valid).toBe('unknown');
    expect(r.unknownReason).toMatch(/^the memory budget \(10 edges\) ran out while building/);
  });
});
