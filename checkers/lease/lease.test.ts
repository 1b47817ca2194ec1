import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { Op, OpType } from '../history/types.ts';
import { LeaseChecker, checkLease, defaultMarginMs } from './lease.ts';

const MS = 1e6;

/** Builds histories op by op: times in ms, converted to the history's ns. */
class H {
  readonly ops: Op[] = [];
  private at(timeMs: number, process: number, type: OpType, f: string, key: string, value: unknown): this {
    this.ops.push({ index: this.ops.length, time: timeMs * MS, process, type, f, key, value });
    return this;
  }
  invoke(t: number, p: number, f: string, key: string, value: unknown): this {
    return this.at(t, p, 'invoke', f, key, value);
  }
  complete(t: number, p: number, type: Exclude<OpType, 'invoke'>, f: string, key: string, value: unknown = null): this {
    return this.at(t, p, type, f, key, value);
  }
  /** acquire invoked at t0, ok at t1 with token. */
  acquire(t0: number, t1: number, p: number, holder: string, token: number, ttlMs = 1000, key = 'L'): this {
    return this.invoke(t0, p, 'acquire', key, { holder, ttlMs }).complete(t1, p, 'ok', 'acquire', key, { token, holder, ttlMs });
  }
  renew(t0: number, t1: number, p: number, holder: string, token: number, ttlMs = 1000, key = 'L'): this {
    return this.invoke(t0, p, 'renew', key, { holder, token, ttlMs }).complete(t1, p, 'ok', 'renew', key, { token, holder, ttlMs });
  }
  release(t0: number, t1: number, p: number, holder: string, token: number, key = 'L'): this {
    return this.invoke(t0, p, 'release', key, { holder, token }).complete(t1, p, 'ok', 'release', key, { released: true });
  }
}

describe('lease checker', () => {
  it('the default margin matches the store: max(100 ms, 10% of ttl)', () => {
    expect(defaultMarginMs(500)).toBe(100);
    expect(defaultMarginMs(5000)).toBe(500);
  });

  it('no grants: unknown', () => {
    expect(checkLease({ history: [] }).valid).toBe('unknown');
    expect(new LeaseChecker().name).toBe('lease');
  });

  it('accepts holders taking turns after expiry, with increasing tokens', () => {
    // ttl 1000, margin 100: A safe [10, 900); B acquires after A's window.
    const h = new H().acquire(0, 10, 1, 'A', 1).acquire(1000, 1020, 2, 'B', 2).acquire(2100, 2110, 1, 'A', 3);
    const r = checkLease({ history: h.ops });
    expect(r.valid).toBe(true);
    expect(r.leases).toEqual([{ lease: 'L', grants: 3, holders: 2, indeterminateAcquires: 0, emptyWindows: 0, maxToken: '3' }]);
  });

  it('catches two holders whose safe windows overlap, naming both, the times and tokens', () => {
    // A safe until 0 + 1000 − 100 = 900 ms; B acknowledged at 850 ms.
    const h = new H().acquire(0, 10, 1, 'A', 1).acquire(800, 850, 2, 'B', 2);
    const r = checkLease({ history: h.ops });
    expect(r.valid).toBe(false);
    expect(r.overlapCount).toBe(1);
    const v = r.violations[0]!;
    expect(v.kind).toBe('overlap');
    if (v.kind !== 'overlap') return;
    expect(v.first).toMatchObject({ holder: 'A', token: '1', from: 10 * MS, to: 900 * MS });
    expect(v.second).toMatchObject({ holder: 'B', token: '2', from: 850 * MS });
    expect(v.overlapMs).toBeCloseTo(50);
    expect(r.summary).toContain('A (token 1) and B (token 2)');
  });

  it('the margin decides: the same schedule passes with a larger margin', () => {
    const h = new H().acquire(0, 10, 1, 'A', 1).acquire(800, 850, 2, 'B', 2);
    expect(checkLease({ history: h.ops }, { marginMs: 200 }).valid).toBe(true);
    expect(checkLease({ history: h.ops }, { marginMs: (ttl) => ttl / 2 }).valid).toBe(true);
  });

  it('a renewal extends the window from the renewal invocation', () => {
    // A renews at 500 (safe until 1400); B acquiring at 1200 overlaps, at 1500 does not.
    const base = (): H => new H().acquire(0, 10, 1, 'A', 1).renew(500, 520, 1, 'A', 1);
    expect(checkLease({ history: base().acquire(1100, 1200, 2, 'B', 2).ops }).valid).toBe(false);
    expect(checkLease({ history: base().acquire(1450, 1500, 2, 'B', 2).ops }).valid).toBe(true);
  });

  it('a renewal without ttlMs reuses the ttl of the grant with that token', () => {
    const h = new H().acquire(0, 10, 1, 'A', 1, 2000);
    h.invoke(1000, 1, 'renew', 'L', { holder: 'A', token: 1 }).complete(1010, 1, 'ok', 'renew', 'L', { token: 1 });
    h.acquire(2500, 2600, 2, 'B', 2, 2000); // A safe until 1000 + 2000 − 200 = 2800
    expect(checkLease({ history: h.ops }).valid).toBe(false);
  });

  it('a release ends the holder window at its invocation', () => {
    const h = new H().acquire(0, 10, 1, 'A', 1).release(200, 210, 1, 'A', 1).acquire(250, 300, 2, 'B', 2);
    expect(checkLease({ history: h.ops }).valid).toBe(true);
  });

  it('a grant acknowledged after its window closed gives no safe time', () => {
    const h = new H().acquire(0, 950, 1, 'A', 1).acquire(960, 970, 2, 'B', 2);
    const r = checkLease({ history: h.ops });
    expect(r.valid).toBe(true);
    expect(r.leases[0]!.emptyWindows).toBe(1);
  });

  it('the same holder overlapping itself is fine', () => {
    const h = new H().acquire(0, 10, 1, 'A', 1).acquire(100, 110, 2, 'A', 2);
    expect(checkLease({ history: h.ops }).valid).toBe(true);
  });

  it('equal tokens: fine for a renewal and (as the store does) a re-acquire by the holder; strict mode flags the re-acquire', () => {
    const renewal = new H().acquire(0, 10, 1, 'A', 1).renew(100, 110, 1, 'A', 1);
    expect(checkLease({ history: renewal.ops }, { reacquireKeepsToken: false }).valid).toBe(true);
    const reacquire = new H().acquire(0, 10, 1, 'A', 1).acquire(100, 110, 2, 'A', 1);
    expect(checkLease({ history: reacquire.ops }).valid).toBe(true);
    expect(checkLease({ history: reacquire.ops }, { reacquireKeepsToken: false }).tokenViolationCount).toBe(1);
  });

  it('catches a token that went backwards in grant order', () => {
    const h = new H().acquire(0, 10, 1, 'A', 5, 100).acquire(1000, 1010, 2, 'B', 4, 100);
    const r = checkLease({ history: h.ops });
    expect(r.valid).toBe(false);
    expect(r.tokenViolationCount).toBe(1);
    expect(r.violations[0]).toMatchObject({ kind: 'token-order', earlier: { holder: 'A', token: '5' }, later: { holder: 'B', token: '4' } });
  });

  it('catches an equal token handed to a different holder', () => {
    const h = new H().acquire(0, 10, 1, 'A', 5, 100).acquire(1000, 1010, 2, 'B', 5, 100);
    expect(checkLease({ history: h.ops }).tokenViolationCount).toBe(1);
  });

  it('concurrent grants are not ordered against each other', () => {
    // B invoked before A completed: either order is possible, token 1 for B is fine (windows do not overlap).
    const h = new H().invoke(0, 1, 'acquire', 'L', { holder: 'A', ttlMs: 100 }).invoke(5, 2, 'acquire', 'L', { holder: 'B', ttlMs: 100 });
    h.complete(10, 1, 'ok', 'acquire', 'L', { token: 2 }).complete(200, 2, 'ok', 'acquire', 'L', { token: 1 });
    expect(checkLease({ history: h.ops }).tokenViolationCount).toBe(0);
  });

  it('info acquires may have been granted: counted, never used for windows or tokens', () => {
    const h = new H().invoke(0, 1, 'acquire', 'L', { holder: 'A', ttlMs: 1000 }).complete(500, 1, 'info', 'acquire', 'L', null);
    h.acquire(100, 200, 2, 'B', 1); // would overlap A if A's info acquire counted
    h.invoke(300, 3, 'acquire', 'L', { holder: 'C', ttlMs: 1000 }); // never completed
    const r = checkLease({ history: h.ops });
    expect(r.valid).toBe(true);
    expect(r.leases[0]!.indeterminateAcquires).toBe(2);
  });

  it('checks each lease name separately', () => {
    const h = new H().acquire(0, 10, 1, 'A', 1, 1000, 'x').acquire(20, 30, 2, 'B', 1, 1000, 'y');
    const r = checkLease({ history: h.ops });
    expect(r.valid).toBe(true);
    expect(r.leases.map((l) => l.lease)).toEqual(['x', 'y']);
  });

  it('accepts tokens as decimal strings; rejects malformed ops naming the op', () => {
    const ok = new H().invoke(0, 1, 'acquire', 'L', { holder: 'A', ttlMs: 100 }).complete(1, 1, 'ok', 'acquire', 'L', { token: '18446744073709551617' });
    expect(checkLease({ history: ok.ops }).leases[0]!.maxToken).toBe('18446744073709551617');
    const noHolder = new H().invoke(0, 1, 'acquire', 'L', { ttlMs: 100 }).complete(1, 1, 'ok', 'acquire', 'L', { token: 1 });
    expect(() => checkLease({ history: noHolder.ops })).toThrow(/op 0 \(acquire of lease L\): invoke value needs "holder"/);
    const noToken = new H().invoke(0, 1, 'acquire', 'L', { holder: 'A', ttlMs: 100 }).complete(1, 1, 'ok', 'acquire', 'L', {});
    expect(() => checkLease({ history: noToken.ops })).toThrow(/token must be an integer/);
    const noTtl = new H().invoke(0, 1, 'acquire', 'L', { holder: 'A' }).complete(1, 1, 'ok', 'acquire', 'L', { token: 1 });
    expect(() => checkLease({ history: noTtl.ops })).toThrow(/no ttlMs/);
  });

  // Random schedules: holders take turns; each waits for the previous safe window to end.
  const turns = fc.array(
    fc.record({ holder: fc.constantFrom('A', 'B', 'C'), waitMs: fc.integer({ min: 0, max: 300 }), latencyMs: fc.integer({ min: 1, max: 50 }), ttlMs: fc.integer({ min: 200, max: 3000 }), renews: fc.integer({ min: 0, max: 3 }) }),
    { minLength: 1, maxLength: 25 },
  );
  const build = (ts: { holder: string; waitMs: number; latencyMs: number; ttlMs: number; renews: number }[]): H => {
    const h = new H();
    let t = 0;
    let token = 0;
    for (const s of ts) {
      token += 1;
      const t0 = t + s.waitMs;
      h.acquire(t0, t0 + s.latencyMs, 1, s.holder, token, s.ttlMs);
      let safeUntil = t0 + s.ttlMs - defaultMarginMs(s.ttlMs);
      let now = t0 + s.latencyMs;
      for (let k = 0; k < s.renews; k++) {
        h.renew(now, now + s.latencyMs, 1, s.holder, token, s.ttlMs);
        safeUntil = Math.max(safeUntil, now + s.ttlMs - defaultMarginMs(s.ttlMs));
        now += s.latencyMs;
      }
      t = Math.max(now, safeUntil) + 1;
    }
    return h;
  };

  it('property: non-overlapping schedules with increasing tokens are valid', () => {
    fc.assert(
      fc.property(turns, (ts) => {
        expect(checkLease({ history: build(ts).ops }).valid).toBe(true);
      }),
    );
  });

  it('property: a grant to another holder inside a safe window is always caught', () => {
    fc.assert(
      fc.property(turns, fc.nat(), (ts, pick) => {
        const h = build(ts);
        // Pick any acquire ok and grant to an intruder 1 ms after it (latency ≤ 50 ms and ttl − margin ≥ 100 ms leave every window ≥ 50 ms).
        const oks = h.ops.filter((o) => o.type === 'ok' && o.f === 'acquire');
        const target = oks[pick % oks.length]!;
        const holder = (h.ops[target.index - 1]!.value as { holder: string }).holder;
        const t = target.time / MS;
        const intruder = new H();
        intruder.acquire(t, t + 1, 9, holder === 'Z' ? 'Y' : 'Z', 1_000_000);
        const ops = [...h.ops, ...intruder.ops].sort((a, b) => a.time - b.time).map((o, index) => ({ ...o, index }));
        const r = checkLease({ history: ops });
        expect(r.valid).toBe(false);
        expect(r.overlapCount).toBeGreaterThan(0);
      }),
    );
  });

  it('property: a grant whose token does not exceed an earlier completed grant is always caught', () => {
    fc.assert(
      fc.property(turns, fc.nat(), (ts, pick) => {
        fc.pre(ts.length >= 2);
        const h = build(ts);
        // Any acquire after the first: hand it token 0, below the first grant's token 1.
        const oks = h.ops.filter((o) => o.type === 'ok' && o.f === 'acquire').slice(1);
        const target = oks[pick % oks.length]!;
        const ops = h.ops.map((o) => (o === target ? { ...o, value: { token: 0 } } : o));
        const r = checkLease({ history: ops });
        expect(r.valid).toBe(false);
        expect(r.tokenViolationCount).toBeGreaterThan(0);
      }),
    );
  });
});
