import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { Op, OpType, Process } from '../history/types.ts';
import { PerfChecker, checkPerf, latencyQuantiles } from './perf.ts';

const MS = 1e6;

class H {
  readonly ops: Op[] = [];
  push(tMs: number, process: Process, type: OpType, f: string, value: unknown = null): this {
    this.ops.push({ index: this.ops.length, time: tMs * MS, process, type, f, value });
    return this;
  }
  op(t0: number, t1: number, p: number, f: string, type: 'ok' | 'fail' | 'info'): this {
    return this.push(t0, p, 'invoke', f).push(t1, p, type, f);
  }
  nemesis(t0: number, t1: number, f: string, value: unknown = null): this {
    return this.push(t0, 'nemesis', 'invoke', f, value).push(t1, 'nemesis', 'info', f, value);
  }
}

describe('perf checker', () => {
  it('an empty history is unknown', () => {
    const r = checkPerf({ history: [] });
    expect(r.valid).toBe('unknown');
    expect(r.series).toEqual([]);
    expect(new PerfChecker().name).toBe('perf');
  });

  it('counts by type and f, latency quantiles of ok ops per f', () => {
    const h = new H().op(0, 10, 1, 'read', 'ok').op(20, 40, 1, 'read', 'ok').op(50, 80, 2, 'write', 'ok').op(90, 95, 2, 'write', 'fail').op(100, 200, 3, 'write', 'info');
    const r = checkPerf({ history: h.ops });
    expect(r.valid).toBe(true);
    expect(r.counts).toEqual({ ok: 3, fail: 1, info: 1 });
    expect(r.countsByF).toEqual({ read: { ok: 2, fail: 0, info: 0 }, write: { ok: 1, fail: 1, info: 1 } });
    expect(r.latencyByF['read']).toEqual({ count: 2, p50: 10, p90: 20, p99: 20, max: 20, mean: 15 });
    expect(r.latencyByF['write']!.count).toBe(1);
    expect(r.latency.max).toBe(30);
  });

  it('an invocation never completed counts as info at its invocation time', () => {
    const h = new H().op(0, 10, 1, 'read', 'ok').push(1500, 2, 'invoke', 'write');
    const r = checkPerf({ history: h.ops });
    expect(r.counts).toEqual({ ok: 1, fail: 0, info: 1 });
    expect(r.series[1]!.infoPerSec).toBe(1);
  });

  it('series: per-second rates, availability and latency by completion bucket', () => {
    const h = new H().op(0, 100, 1, 'read', 'ok').op(200, 300, 1, 'read', 'ok').op(900, 1100, 1, 'read', 'fail').op(1200, 1500, 1, 'read', 'info').op(2100, 2150, 1, 'read', 'ok');
    const r = checkPerf({ history: h.ops });
    expect(r.series).toEqual([
      { t: 0, okPerSec: 2, failPerSec: 0, infoPerSec: 0, availability: 1, p50: 100, p99: 100 },
      { t: 1, okPerSec: 0, failPerSec: 1, infoPerSec: 1, availability: 0, p50: null, p99: null },
      { t: 2, okPerSec: 1, failPerSec: 0, infoPerSec: 0, availability: 1, p50: 50, p99: 50 },
    ]);
    const half = checkPerf({ history: h.ops }, { bucketMs: 500 });
    expect(half.series).toHaveLength(5);
    expect(half.series[0]!.okPerSec).toBe(4);
  });

  it('fault windows from start-/stop- nemesis ops, with stats inside and outside', () => {
    const h = new H()
      .op(0, 100, 1, 'write', 'ok')
      .nemesis(1000, 1010, 'start-partition', { isolated: ['n1'] })
      .op(1100, 1200, 1, 'write', 'info')
      .op(1300, 1400, 2, 'write', 'fail')
      .nemesis(2000, 2005, 'stop-partition')
      .op(2100, 2200, 2, 'write', 'ok')
      .nemesis(2500, 2501, 'kill', ['n2'])
      .nemesis(3000, 3001, 'start-clock-skew');
    const r = checkPerf({ history: h.ops });
    expect(r.faults).toHaveLength(2);
    expect(r.faults[0]).toMatchObject({ name: 'partition', from: 1010 * MS, to: 2005 * MS, closed: true, value: { isolated: ['n1'] }, counts: { ok: 0, fail: 1, info: 1 }, availability: 0 });
    expect(r.faults[0]!.durationS).toBeCloseTo(0.995);
    expect(r.faults[1]).toMatchObject({ name: 'clock-skew', closed: false, to: 3001 * MS, counts: { ok: 0, fail: 0, info: 0 }, availability: null });
    expect(r.outsideFaults.counts).toEqual({ ok: 2, fail: 0, info: 0 });
    expect(r.nemesisEvents).toEqual([{ f: 'kill', time: 2501 * MS, value: ['n2'] }]);
    expect(r.counts).toEqual({ ok: 2, fail: 1, info: 1 }); // nemesis ops are not client ops
    expect(r.summary).toContain('2 fault windows');
  });

  it('warns about a stop with no start and a start while open', () => {
    const h = new H().op(0, 1, 1, 'read', 'ok').nemesis(10, 11, 'stop-partition').nemesis(20, 21, 'start-kill').nemesis(30, 31, 'start-kill');
    const r = checkPerf({ history: h.ops });
    expect(r.warnings).toEqual(['op 3: stop-partition with no open partition window (ignored)', 'op 7: start-kill while kill is already open (ignored)']);
    expect(r.faults).toHaveLength(1);
  });

  it('accepts nemesis completions recorded without an invocation', () => {
    const h = new H().op(0, 1, 1, 'read', 'ok').push(100, 'nemesis', 'info', 'start-pause').push(200, 'nemesis', 'info', 'stop-pause');
    expect(checkPerf({ history: h.ops }).faults[0]).toMatchObject({ name: 'pause', from: 100 * MS, to: 200 * MS });
  });

  it('rejects a non-positive bucket', () => {
    expect(() => checkPerf({ history: [] }, { bucketMs: 0 })).toThrow(/bucketMs must be positive/);
  });

  it('property: counts add up and series rates sum to the op count', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ gap: fc.integer({ min: 0, max: 700 }), dur: fc.integer({ min: 0, max: 900 }), type: fc.constantFrom<'ok' | 'fail' | 'info'>('ok', 'fail', 'info'), f: fc.constantFrom('r', 'w') }), { minLength: 1, maxLength: 60 }), (steps) => {
        const h = new H();
        let t = 0;
        for (const s of steps) {
          t += s.gap;
          h.op(t, t + s.dur, 1, s.f, s.type);
          t += s.dur;
        }
        const r = checkPerf({ history: h.ops });
        expect(r.ops).toBe(steps.length);
        expect(r.counts.ok + r.counts.fail + r.counts.info).toBe(steps.length);
        const fromSeries = r.series.reduce((n, p) => n + p.okPerSec + p.failPerSec + p.infoPerSec, 0);
        expect(fromSeries).toBeCloseTo(steps.length);
        const lat = r.latency;
        if (lat.count > 0) expect(lat.p50! <= lat.p90! && lat.p90! <= lat.p99! && lat.p99! <= lat.max!).toBe(true);
      }),
    );
  });

  it('quantiles use nearest rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(latencyQuantiles(xs)).toEqual({ count: 100, p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
  });
});
