import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { Op, OpType } from '../history/types.ts';
import { SetChecker, checkSet, quantiles } from './set.ts';

const MS = 1e6;

class H {
  readonly ops: Op[] = [];
  private push(t: number, process: number, type: OpType, f: string, value: unknown, key?: string): this {
    this.ops.push({ index: this.ops.length, time: t * MS, process, type, f, value, ...(key !== undefined ? { key } : {}) });
    return this;
  }
  add(t0: number, t1: number, p: number, e: unknown, type: 'ok' | 'fail' | 'info' = 'ok', key?: string): this {
    return this.push(t0, p, 'invoke', 'add', e, key).push(t1, p, type, 'add', e, key);
  }
  addOpen(t0: number, p: number, e: unknown): this {
    return this.push(t0, p, 'invoke', 'add', e);
  }
  read(t0: number, t1: number, p: number, elements: unknown[], key?: string): this {
    return this.push(t0, p, 'invoke', 'read', null, key).push(t1, p, 'ok', 'read', elements, key);
  }
}

describe('set checker', () => {
  it('no reads: unknown', () => {
    expect(checkSet({ history: new H().add(0, 1, 1, 1).ops }).valid).toBe('unknown');
    expect(checkSet({ history: [] }).valid).toBe('unknown');
    expect(new SetChecker().name).toBe('set');
  });

  it('every acknowledged add in the final read: valid, with counts', () => {
    const h = new H().add(0, 1, 1, 1).add(0, 2, 2, 2).add(3, 4, 1, 3, 'fail').read(10, 11, 1, [1, 2]);
    const r = checkSet({ history: h.ops });
    expect(r.valid).toBe(true);
    expect(r).toMatchObject({ attempted: 3, acknowledged: 2, lost: 0, stable: 2, unexpected: 0, reads: 1 });
  });

  it('an acknowledged add missing from the final read is lost', () => {
    const h = new H().add(0, 1, 1, 1).add(0, 2, 2, 2).read(10, 11, 1, [1]);
    const r = checkSet({ history: h.ops });
    expect(r.valid).toBe(false);
    expect(r.lost).toBe(1);
    expect(r.sets[0]!.lostElements[0]).toMatchObject({ element: 2, acknowledged: true, lastPresentRead: null, lastAbsentRead: 4 });
    expect(r.summary).toContain('1 lost');
  });

  it('an element seen and then gone is lost, with its lost latency', () => {
    const h = new H().add(0, 10, 1, 'x').read(20, 21, 2, ['x']).read(50, 51, 2, []);
    const r = checkSet({ history: h.ops });
    expect(r.valid).toBe(false);
    expect(r.sets[0]!.lostElements[0]).toMatchObject({ element: 'x', lastPresentRead: 2, lastAbsentRead: 4, lostLatencyMs: 10 });
  });

  it('a read concurrent with the add may miss it', () => {
    const h = new H().add(0, 10, 1, 1).read(5, 15, 2, []).read(20, 21, 2, [1]);
    const r = checkSet({ history: h.ops });
    expect(r.valid).toBe(true);
    expect(r.stale).toBe(0);
  });

  it('an element never attempted is unexpected (corruption)', () => {
    const h = new H().add(0, 1, 1, 1).read(10, 11, 1, [1, 99]);
    const r = checkSet({ history: h.ops });
    expect(r.valid).toBe(false);
    expect(r.unexpected).toBe(1);
    expect(r.sets[0]!.unexpectedElements).toEqual([{ element: 99, firstRead: 2 }]);
  });

  it('an element whose adds all failed, yet present, is invalid', () => {
    const h = new H().add(0, 1, 1, 5, 'fail').read(10, 11, 1, [5]);
    const r = checkSet({ history: h.ops });
    expect(r.valid).toBe(false);
    expect(r.failedPresent).toBe(1);
  });

  it('an element twice in one read is invalid', () => {
    const h = new H().add(0, 1, 1, 5).read(10, 11, 1, [5, 5]);
    const r = checkSet({ history: h.ops });
    expect(r.valid).toBe(false);
    expect(r.sets[0]!.duplicatedElements).toEqual([{ element: 5, read: 2, times: 2 }]);
  });

  it('info adds are recovered when present and unrecovered when not; neither is invalid', () => {
    const h = new H().add(0, 1, 1, 1, 'info').add(0, 1, 2, 2, 'info').addOpen(2, 3, 3).read(10, 11, 4, [1, 3]);
    const r = checkSet({ history: h.ops });
    expect(r.valid).toBe(true);
    expect(r).toMatchObject({ recovered: 2, unrecovered: 1, acknowledged: 0, attempted: 3 });
    expect(r.sets[0]!.unrecoveredElements).toEqual([2]);
  });

  it('an info add seen once and gone later is lost', () => {
    const h = new H().add(0, 1, 1, 1, 'info').read(10, 11, 2, [1]).read(20, 21, 2, []);
    expect(checkSet({ history: h.ops }).lost).toBe(1);
  });

  it('stale elements: missing from a read begun after known, then stable; invalid only when linearizable', () => {
    const h = new H().add(0, 10, 1, 1).read(20, 21, 2, []).read(40, 41, 2, [1]);
    const r = checkSet({ history: h.ops });
    expect(r.valid).toBe(true);
    expect(r.stale).toBe(1);
    expect(r.sets[0]!.staleElements[0]).toMatchObject({ element: 1, stableLatencyMs: 10 });
    expect(r.stableLatencyMs.max).toBe(10);
    expect(checkSet({ history: h.ops }, { linearizable: true }).valid).toBe(false);
  });

  it('uses the latest missing read: flickering then present is stale, flickering then absent is lost', () => {
    const flicker = new H().add(0, 1, 1, 1).read(10, 11, 2, [1]).read(20, 21, 2, []).read(30, 31, 2, [1]).read(40, 41, 2, [1]);
    const r = checkSet({ history: flicker.ops });
    expect(r.lost).toBe(0);
    expect(r.sets[0]!.staleElements[0]).toMatchObject({ lastAbsentRead: 4, stableLatencyMs: 19 });
    const gone = new H().add(0, 1, 1, 1).read(10, 11, 2, [1]).read(20, 21, 2, []).read(30, 31, 2, [1]).read(40, 41, 2, []);
    expect(checkSet({ history: gone.ops }).sets[0]!.lostElements[0]).toMatchObject({ lastPresentRead: 6, lastAbsentRead: 8, lostLatencyMs: 29 });
  });

  it('acknowledged adds with no read after them are never-read, not lost', () => {
    const h = new H().read(0, 1, 2, []).add(5, 6, 1, 1);
    const r = checkSet({ history: h.ops });
    expect(r.valid).toBe(true);
    expect(r.neverRead).toBe(1);
  });

  it('keys hold separate sets', () => {
    const h = new H().add(0, 1, 1, 1, 'ok', 'a').add(0, 1, 2, 1, 'ok', 'b').read(5, 6, 1, [1], 'a').read(5, 6, 2, [], 'b');
    const r = checkSet({ history: h.ops });
    expect(r.valid).toBe(false);
    expect(r.sets.map((s) => [s.key, s.lost])).toEqual([
      ['a', 0],
      ['b', 1],
    ]);
  });

  it('elements compare by JSON value: 1 and "1" differ', () => {
    const h = new H().add(0, 1, 1, 1).read(5, 6, 1, ['1']);
    const r = checkSet({ history: h.ops });
    expect(r.lost).toBe(1);
    expect(r.unexpected).toBe(1);
  });

  it('interns every kind of element: big and negative numbers, arrays apart from their JSON text', () => {
    const elements = [0, 5000, 2 ** 30, -3, 1.5, [1], '[1]', { a: 1 }, null, true];
    const h = new H();
    elements.forEach((e, i) => h.add(i, i + 0.5, 1, e));
    h.read(100, 101, 2, [...elements]);
    const r = checkSet({ history: h.ops });
    expect(r).toMatchObject({ valid: true, attempted: elements.length, stable: elements.length, unexpected: 0 });
    const missing = new H();
    elements.forEach((e, i) => missing.add(i, i + 0.5, 1, e));
    missing.read(100, 101, 2, elements.filter((e) => e !== '[1]'));
    expect(checkSet({ history: missing.ops }).sets[0]!.lostElements.map((l) => l.element)).toEqual(['[1]']);
  });

  it('rejects a read whose value is not an array, naming the op', () => {
    const h = new H();
    h.ops.push({ index: 0, time: 0, process: 1, type: 'invoke', f: 'read', value: null }, { index: 1, time: 1, process: 1, type: 'ok', f: 'read', value: { items: [] } });
    expect(() => checkSet({ history: h.ops })).toThrow(/op 1: ok read of set null must return an array/);
  });

  it('quantiles use nearest rank', () => {
    expect(quantiles([5, 1, 3, 2, 4])).toEqual({ count: 5, min: 1, p50: 3, p95: 5, p99: 5, max: 5 });
    expect(quantiles([]).p50).toBeNull();
  });

  // Random valid histories: concurrent adds (ok/info/fail), reads that see everything
  // acknowledged before they began plus a random part of what is in flight or info.
  const plan = fc.array(fc.record({ outcome: fc.constantFrom<'ok' | 'info' | 'fail'>('ok', 'ok', 'ok', 'info', 'fail'), applied: fc.boolean(), dur: fc.integer({ min: 1, max: 30 }), readAfter: fc.boolean() }), {
    minLength: 1,
    maxLength: 40,
  });
  const generate = (steps: { outcome: 'ok' | 'info' | 'fail'; applied: boolean; dur: number; readAfter: boolean }[]): H => {
    const h = new H();
    const present: number[] = [];
    let t = 0;
    steps.forEach((s, e) => {
      h.add(t, t + s.dur, 1 + (e % 5), e, s.outcome);
      if (s.outcome === 'ok' || (s.outcome === 'info' && s.applied)) present.push(e);
      t += s.dur + 1;
      if (s.readAfter) h.read(t, t + 1, 9, [...present]);
      t += 2;
    });
    h.read(t, t + 1, 9, [...present]);
    return h;
  };

  it('property: generated valid set histories are valid', () => {
    fc.assert(
      fc.property(plan, (steps) => {
        const r = checkSet({ history: generate(steps).ops });
        expect(r.valid).toBe(true);
        expect(r.acknowledged).toBe(steps.filter((s) => s.outcome === 'ok').length);
      }),
    );
  });

  it('property: dropping one acknowledged element from the final read is always caught', () => {
    fc.assert(
      fc.property(plan, fc.nat(), (steps, pick) => {
        fc.pre(steps.some((s) => s.outcome === 'ok'));
        const h = generate(steps);
        const acked = steps.flatMap((s, e) => (s.outcome === 'ok' ? [e] : []));
        const victim = acked[pick % acked.length]!;
        const last = h.ops[h.ops.length - 1]!;
        h.ops[h.ops.length - 1] = { ...last, value: (last.value as number[]).filter((x) => x !== victim) };
        const r = checkSet({ history: h.ops });
        expect(r.valid).toBe(false);
        expect(r.sets[0]!.lostElements.map((l) => l.element)).toContain(victim);
      }),
    );
  });
});
