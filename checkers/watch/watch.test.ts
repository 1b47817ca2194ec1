import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { Op, OpType } from '../history/types.ts';
import { WatchChecker, checkWatch, defaultWriteChanges } from './watch.ts';

interface Ev {
  revision: number;
  type: 'put' | 'delete' | 'progress';
  key?: string;
  value?: unknown;
  version?: number;
}

class H {
  readonly ops: Op[] = [];
  t = 0;
  private push(process: number, type: OpType, f: string, value: unknown, key?: string): this {
    this.ops.push({ index: this.ops.length, time: (this.t += 1000), process, type, f, value, ...(key !== undefined ? { key } : {}) });
    return this;
  }
  put(p: number, key: string, value: unknown, outcome: 'ok' | 'info' | 'fail', revision?: number, version?: number): this {
    this.push(p, 'invoke', 'put', { value }, key);
    return this.push(p, outcome, 'put', outcome === 'ok' ? { key, modRevision: revision, revision, ...(version !== undefined ? { version } : {}) } : null, key);
  }
  del(p: number, key: string, revision: number): this {
    return this.push(p, 'invoke', 'delete', null, key).push(p, 'ok', 'delete', { key, deleted: true, revision }, key);
  }
  watch(p: number, session: { watcher?: string; prefix: string; fromRevision?: number }, events: Ev[], outcome: 'ok' | 'info' = 'ok', progressRevision?: number, compacted?: number): this {
    this.push(p, 'invoke', 'watch', session);
    return this.push(p, outcome, 'watch', { events, ...(progressRevision !== undefined ? { progressRevision } : {}), ...(compacted !== undefined ? { compacted, error: `compacted: compact revision ${compacted}` } : {}) });
  }
}

const ev = (revision: number, key: string, value: unknown, type: 'put' | 'delete' = 'put'): Ev => (type === 'put' ? { revision, type, key, value } : { revision, type, key });

/** Three puts and a delete under /a/, one put elsewhere. */
const writes = (): H => new H().put(1, '/a/x', 'x1', 'ok', 2).put(1, '/a/y', 'y1', 'ok', 3).put(1, '/b/z', 'z1', 'ok', 4).put(1, '/a/x', 'x2', 'ok', 5).del(1, '/a/y', 6);
const allA = (): Ev[] => [ev(2, '/a/x', 'x1'), ev(3, '/a/y', 'y1'), ev(5, '/a/x', 'x2'), ev(6, '/a/y', null, 'delete')];

describe('watch checker', () => {
  it('no watch sessions: unknown', () => {
    expect(checkWatch({ history: writes().ops }).valid).toBe('unknown');
    expect(new WatchChecker().name).toBe('watch');
  });

  it('a watcher that saw every change under its prefix, in order, is valid', () => {
    const r = checkWatch({ history: writes().watch(2, { watcher: 'w1', prefix: '/a/', fromRevision: 1 }, allA()).ops });
    expect(r.valid).toBe(true);
    expect(r.committedChanges).toBe(5);
    expect(r.watchers).toEqual([{ watcher: 'w1', prefix: '/a/', sessions: 1, compactedSessions: 0, events: 4, fromRevision: 1, toRevision: 6 }]);
  });

  it('catches a gap: a committed change in range never delivered', () => {
    const events = allA().filter((e) => e.revision !== 3);
    const r = checkWatch({ history: writes().watch(2, { watcher: 'w1', prefix: '/a/', fromRevision: 1 }, events).ops });
    expect(r.valid).toBe(false);
    expect(r.counts.gap).toBe(1);
    expect(r.violations[0]).toMatchObject({ kind: 'gap', watcher: 'w1', session: null, change: { key: '/a/y', revision: 3, value: 'y1' }, writeIndex: 2 });
    expect(r.summary).toMatch(/1 gap .*never saw put of \/a\/y at revision 3/);
  });

  it('changes after the last covered revision are not gaps; a progress heartbeat extends coverage', () => {
    const first3 = allA().slice(0, 2);
    expect(checkWatch({ history: writes().watch(2, { prefix: '/a/', fromRevision: 1 }, first3).ops }).valid).toBe(true);
    const withProgress = checkWatch({ history: writes().watch(2, { prefix: '/a/', fromRevision: 1 }, [...first3, { revision: 6, type: 'progress' }]).ops });
    expect(withProgress.counts.gap).toBe(2);
    expect(checkWatch({ history: writes().watch(2, { prefix: '/a/', fromRevision: 1 }, first3, 'ok', 6).ops }).counts.gap).toBe(2);
  });

  it('across reconnects: resuming from the next revision is valid, resuming too late is a gap', () => {
    const [a, b, c, d] = allA() as [Ev, Ev, Ev, Ev];
    const good = writes().watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 1 }, [a, b], 'info').watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 4 }, [c, d]);
    expect(checkWatch({ history: good.ops }).valid).toBe(true);
    const late = writes().watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 1 }, [a, b], 'info').watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 6 }, [d]);
    const r = checkWatch({ history: late.ops });
    expect(r.counts.gap).toBe(1);
    expect(r.violations[0]).toMatchObject({ change: { revision: 5 } });
  });

  it('a start below the compaction owes nothing before it: resuming from the compaction revision is valid, skipping past it is a gap', () => {
    const [a, b, c, d] = allA() as [Ev, Ev, Ev, Ev];
    // Saw 2 and 3, then was refused from 4 (compacted at 5) and resumed from 5.
    const resumed = (from: number, events: Ev[]): H =>
      writes().watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 1 }, [a, b], 'info').watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 4 }, [], 'ok', undefined, 5).watch(2, { watcher: 'w', prefix: '/a/', fromRevision: from }, events);
    const ok = checkWatch({ history: writes().watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 1 }, [a, b], 'info').watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 4 }, [], 'ok', undefined, 6).watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 6 }, [d]).ops });
    expect(ok.valid).toBe(true);
    expect(ok.summary).toContain('1 sessions started below a compaction and resumed after it');
    expect(ok.watchers[0]).toMatchObject({ watcher: 'w', sessions: 3, compactedSessions: 1 });
    expect(checkWatch({ history: resumed(5, [c, d]).ops }).valid).toBe(true);
    // The compaction excuses 4 only: the put at 5 is owed to the session that resumed at 6.
    const late = checkWatch({ history: resumed(6, [d]).ops });
    expect(late.counts.gap).toBe(1);
    expect(late.violations[0]).toMatchObject({ kind: 'gap', change: { revision: 5 } });
  });

  it('a change missing at the revision a compacted watcher resumed from names that session and the compaction (etcd#18089)', () => {
    const [a, b, c, d] = allA() as [Ev, Ev, Ev, Ev];
    // Compacted at 6, the delete's revision: the session resuming there gets nothing of it.
    const h = writes().watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 1 }, [a, b, c], 'info').watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 5 }, [], 'ok', undefined, 6);
    const resumedAt = h.ops.length;
    const r = checkWatch({ history: h.watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 6 }, [], 'ok', 6).ops });
    expect(r.violations).toEqual([expect.objectContaining({ kind: 'gap', change: expect.objectContaining({ type: 'delete', revision: 6 }) as unknown, startOf: { session: resumedAt, compactRevision: true } })]);
    expect(r.summary).toContain('1 change missed at the compaction revision a watcher resumed from; first: ');
    expect(r.summary).toContain(`never saw delete of /a/y at revision 6 (session ${resumedAt} got a progress notification at revision 6, which said it had been sent) (session ${resumedAt} started from that revision, the compaction revision it was told to resume from)`);
    expect(d.type).toBe('delete');
  });

  it('rejects a compacted that is not a number, naming the op', () => {
    const h = writes();
    h.ops.push({ index: h.ops.length, time: 1, process: 3, type: 'invoke', f: 'watch', value: { prefix: '/a/', fromRevision: 1 } });
    h.ops.push({ index: h.ops.length, time: 2, process: 3, type: 'ok', f: 'watch', value: { events: [], compacted: 'five' } });
    expect(() => checkWatch({ history: h.ops })).toThrow(/compacted/);
  });

  it('re-delivery after resuming from an earlier revision is not a duplicate; twice in one session is', () => {
    const [a, b, c, d] = allA() as [Ev, Ev, Ev, Ev];
    const resumedEarly = writes().watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 1 }, [a, b]).watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 3 }, [b, c, d]);
    expect(checkWatch({ history: resumedEarly.ops }).valid).toBe(true);
    const r = checkWatch({ history: writes().watch(2, { prefix: '/a/', fromRevision: 1 }, [a, b, b, c, d]).ops });
    expect(r.counts.duplicate).toBe(1);
    expect(r.valid).toBe(false);
  });

  it('a session that skipped a change another session delivered is a gap of that session', () => {
    const [a, b, c, d] = allA() as [Ev, Ev, Ev, Ev];
    const h = writes().watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 1 }, [a, c]).watch(2, { watcher: 'w', prefix: '/a/', fromRevision: 1 }, [a, b, c, d]);
    const r = checkWatch({ history: h.ops });
    expect(r.counts.gap).toBe(1);
    expect(r.violations[0]).toMatchObject({ kind: 'gap', session: 10, seenInOtherSession: true, change: { revision: 3 } });
  });

  it('catches events out of revision order', () => {
    const [a, b, c, d] = allA() as [Ev, Ev, Ev, Ev];
    const r = checkWatch({ history: writes().watch(2, { prefix: '/a/', fromRevision: 1 }, [a, c, b, d]).ops });
    expect(r.counts['out-of-order']).toBe(1);
    expect(r.violations[0]).toMatchObject({ kind: 'out-of-order', previous: { revision: 5 }, event: { revision: 3 } });
  });

  it('catches an event before the session start revision', () => {
    const r = checkWatch({ history: writes().watch(2, { prefix: '/a/', fromRevision: 5 }, allA()).ops });
    expect(r.counts['before-start']).toBe(2);
  });

  it('catches phantoms: no such write, wrong value, outside the prefix, a failed write', () => {
    const h = writes().put(1, '/a/f', 'never', 'fail');
    const events = [...allA(), ev(7, '/a/q', 'ghost')];
    expect(checkWatch({ history: h.ops.slice(), events: [] }).valid).toBe('unknown');
    const none = checkWatch({ history: new H().put(1, '/a/f', 'never', 'fail').watch(2, { prefix: '/a/' }, [ev(9, '/a/f', 'never')]).ops });
    expect(none.violations[0]).toMatchObject({ kind: 'phantom', reason: 'failed-write', writeIndex: 0 });
    const ghost = checkWatch({ history: writes().watch(2, { prefix: '/a/', fromRevision: 1 }, events).ops });
    expect(ghost.violations).toEqual([expect.objectContaining({ kind: 'phantom', reason: 'no-such-write', event: { revision: 7, type: 'put', key: '/a/q', value: 'ghost' } })]);
    const wrong = allA();
    wrong[0] = ev(2, '/a/x', 'not-x1');
    const mismatch = checkWatch({ history: writes().watch(2, { prefix: '/a/', fromRevision: 1 }, wrong).ops });
    expect(mismatch.violations[0]).toMatchObject({ kind: 'phantom', reason: 'value-mismatch', expected: { value: 'x1' } });
    const outside = checkWatch({ history: writes().watch(2, { prefix: '/a/', fromRevision: 1 }, [...allA(), ev(4, '/b/z', 'z1')].sort((x, y) => x.revision - y.revision)).ops });
    expect(outside.violations[0]).toMatchObject({ kind: 'phantom', reason: 'outside-prefix' });
  });

  it('catches an event delivered after a progress notification that covered it (etcd#15220)', () => {
    // The notification at 3 came before the event at 3: it promised 3 had been sent.
    const [e2, e3, e5, e6] = allA();
    const late = checkWatch({ history: writes().watch(2, { prefix: '/a/', fromRevision: 1 }, [e2!, { type: 'progress', revision: 3 } as never, e3!, e5!, e6!]).ops });
    expect(late.counts['late-event']).toBe(1);
    expect(late.violations[0]).toMatchObject({ kind: 'late-event', progressRevision: 3, event: { revision: 3, key: '/a/y' } });
    expect(late.summary).toContain('got put of /a/y@3 after a progress notification at revision 3 (which promised it had been sent)');
    // A notification below the next event's revision promises nothing about it.
    const fine = checkWatch({ history: writes().watch(2, { prefix: '/a/', fromRevision: 1 }, [e2!, { type: 'progress', revision: 2 } as never, e3!, e5!, e6!]).ops });
    expect(fine.valid).toBe(true);
  });

  it('lists up to maxListed violations of each kind, so many of one kind leave the others visible', () => {
    // Three late events (a notification at 6 first), then a watcher whose session skips 5.
    const [e2, e3, e5, e6] = allA();
    const h = writes().watch(2, { watcher: 'a', prefix: '/a/', fromRevision: 1 }, [{ type: 'progress', revision: 6 } as never, e2!, e3!, e5!, e6!]).watch(3, { watcher: 'b', prefix: '/a/', fromRevision: 1 }, [e2!, e3!, e6!]);
    const r = checkWatch({ history: h.ops }, { maxListed: 2 });
    expect(r.counts).toMatchObject({ 'late-event': 4, gap: 1 });
    expect(r.violations.map((v) => v.kind)).toEqual(['late-event', 'late-event', 'gap']);
  });

  it('a gap that a progress notification covered says which session was told it had been sent', () => {
    // The session ends on a notification at 3 without the event at 3; the watcher resumes at 4.
    const [e2, , e5, e6] = allA();
    const h = writes().watch(2, { prefix: '/a/', fromRevision: 1 }, [e2!, { type: 'progress', revision: 3 } as never]);
    const sessionIndex = h.ops.length - 2;
    const r = checkWatch({ history: h.watch(2, { prefix: '/a/', fromRevision: 4 }, [e5!, e6!]).ops });
    expect(r.violations).toEqual([expect.objectContaining({ kind: 'gap', session: null, change: expect.objectContaining({ revision: 3 }) as unknown, promisedBy: { session: sessionIndex, progressRevision: 3 } })]);
    expect(r.summary).toContain(`never saw put of /a/y at revision 3 (session ${sessionIndex} got a progress notification at revision 3, which said it had been sent)`);
  });

  it('names a write seen again at a later revision as applied twice (etcd#14685), with the write', () => {
    // x2 was acknowledged at revision 5; after a crash the store replayed it at 7.
    const events = [...allA(), ev(7, '/a/x', 'x2')];
    const r = checkWatch({ history: writes().watch(2, { prefix: '/a/', fromRevision: 1 }, events).ops });
    expect(r.valid).toBe(false);
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0]).toMatchObject({ kind: 'phantom', reason: 'repeated-write', event: { revision: 7, type: 'put', key: '/a/x', value: 'x2' }, expected: { revision: 5, value: 'x2' }, writeIndex: 6 });
    expect(r.summary).toContain('1 acknowledged write seen again at a later revision; first: watcher 2 saw put of /a/x@7: the write acknowledged at revision 5 (op 6) applied again');
    // Two ok writes of that value: which one came back is unknown, so only "no such write".
    const twice = writes().put(1, '/a/x', 'x2', 'ok', 8);
    const ambiguous = checkWatch({ history: twice.watch(2, { prefix: '/a/', fromRevision: 1 }, [...allA(), ev(7, '/a/x', 'x2')]).ops });
    expect(ambiguous.violations[0]).toMatchObject({ kind: 'phantom', reason: 'no-such-write' });
  });

  it('an info write seen by a watcher is proven committed, and then every watcher must see it', () => {
    const h = writes().put(1, '/a/x', 'x3', 'info');
    const seen = [...allA(), ev(7, '/a/x', 'x3')];
    const both = h.watch(2, { watcher: 'w1', prefix: '/a/', fromRevision: 1 }, seen).watch(3, { watcher: 'w2', prefix: '/a/', fromRevision: 1 }, seen);
    const r = checkWatch({ history: both.ops });
    expect(r.valid).toBe(true);
    expect(r.provenInfoWrites).toEqual([{ writeIndex: 10, key: '/a/x', revision: 7 }]);
    const h2 = writes().put(1, '/a/x', 'x3', 'info');
    const oneMissed = h2.watch(2, { watcher: 'w1', prefix: '/a/', fromRevision: 1 }, seen).watch(3, { watcher: 'w2', prefix: '/a/', fromRevision: 1 }, [...allA(), { revision: 8, type: 'progress' }]);
    const r2 = checkWatch({ history: oneMissed.ops });
    expect(r2.valid).toBe(false);
    expect(r2.violations[0]).toMatchObject({ kind: 'gap', watcher: 'w2', change: { revision: 7, value: 'x3' } });
  });

  it('an info write that nobody saw is neither a gap nor a phantom', () => {
    const h = writes().put(1, '/a/x', 'maybe', 'info').watch(2, { prefix: '/a/', fromRevision: 1 }, allA(), 'ok', 9);
    expect(checkWatch({ history: h.ops }).valid).toBe(true);
  });

  it('compares versions when both the write and the event carry one', () => {
    const h = new H().put(1, 'k', 'v', 'ok', 2, 1).watch(2, { prefix: '' }, [{ revision: 2, type: 'put', key: 'k', value: 'v', version: 2 }]);
    expect(checkWatch({ history: h.ops }).violations[0]).toMatchObject({ kind: 'phantom', reason: 'value-mismatch' });
  });

  it('values compare as JSON regardless of key order', () => {
    const h = new H().put(1, 'k', { a: 1, b: [1, 2] }, 'ok', 2).watch(2, { prefix: '' }, [{ revision: 2, type: 'put', key: 'k', value: { b: [1, 2], a: 1 } }]);
    expect(checkWatch({ history: h.ops }).valid).toBe(true);
  });

  it('txn writes are changes at one revision', () => {
    const h = new H();
    h.ops.push(
      { index: 0, time: 1, process: 1, type: 'invoke', f: 'txn', value: { ops: [{ op: 'put', key: 'a', value: 1 }, { op: 'delete', key: 'b' }] } },
      { index: 1, time: 2, process: 1, type: 'ok', f: 'txn', value: { results: [], revision: 9 } },
    );
    expect(defaultWriteChanges({ process: 1, f: 'txn', invokeValue: h.ops[0]!.value, value: h.ops[1]!.value, type: 'ok', start: 1, end: 2, invokeIndex: 0, completeIndex: 1 })).toEqual([
      { key: 'a', type: 'put', value: 1, revision: 9 },
      { key: 'b', type: 'delete', revision: 9 },
    ]);
    h.t = 10;
    h.watch(2, { prefix: '' }, [ev(9, 'a', 1), ev(9, 'b', null, 'delete')]);
    expect(checkWatch({ history: h.ops }).valid).toBe(true);
  });

  it("an info txn seen through one of its keys proves its other changes, which must then be seen", () => {
    const h = new H();
    h.ops.push({ index: 0, time: 1, process: 1, type: 'invoke', f: 'txn', value: { ops: [{ op: 'put', key: 'a', value: 1 }, { op: 'put', key: 'b', value: 2 }] } }, { index: 1, time: 2, process: 1, type: 'info', f: 'txn', value: null });
    h.t = 10;
    h.watch(2, { watcher: 'w1', prefix: 'a' }, [ev(5, 'a', 1)], 'ok', 9).watch(3, { watcher: 'w2', prefix: 'b', fromRevision: 1 }, [], 'ok', 9);
    const r = checkWatch({ history: h.ops });
    expect(r.provenInfoWrites).toEqual([
      { writeIndex: 0, key: 'a', revision: 5 },
      { writeIndex: 0, key: 'b', revision: 5 },
    ]);
    expect(r.violations).toEqual([expect.objectContaining({ kind: 'gap', watcher: 'w2', change: { key: 'b', revision: 5, type: 'put', value: 2 } })]);
  });

  it('rejects an ok write without a revision, and malformed events, naming the op', () => {
    expect(() => checkWatch({ history: new H().put(1, 'k', 'v', 'ok').ops })).toThrow(/op 1: ok put of key "k" has no revision/);
    expect(() => checkWatch({ history: new H().watch(2, { prefix: '' }, [{ revision: 1, type: 'put' }]).ops })).toThrow(/op 1, events\[0\]: key must be a string/);
  });

  // Random valid runs: a single writer's puts (some info, committed or not), watchers that
  // reconnect at random points resuming from the next revision. Then break one delivery.
  const run = fc.record({
    writes: fc.array(fc.record({ key: fc.constantFrom('/a/1', '/a/2', '/b/1'), outcome: fc.constantFrom<'ok' | 'info'>('ok', 'ok', 'ok', 'info'), applied: fc.boolean() }), { minLength: 1, maxLength: 30 }),
    cuts: fc.array(fc.array(fc.nat(40), { maxLength: 4 }), { minLength: 1, maxLength: 3 }),
  });
  type Run = { writes: { key: string; outcome: 'ok' | 'info'; applied: boolean }[]; cuts: number[][] };
  const build = (r: Run, mutate?: (sessions: Ev[][]) => void): { ops: Op[]; delivered: number } => {
    const h = new H();
    const log: Ev[] = [];
    let rev = 1;
    r.writes.forEach((w, i) => {
      const committed = w.outcome === 'ok' || w.applied;
      if (committed) rev += 1;
      h.put(1, w.key, `v${i}`, w.outcome, committed ? rev : undefined);
      if (committed && w.key.startsWith('/a/')) log.push(ev(rev, w.key, `v${i}`));
    });
    const last = rev;
    let delivered = 0;
    r.cuts.forEach((cuts, w) => {
      const bounds = [...new Set(cuts.map((c) => 1 + (c % last)))].sort((a, b) => a - b);
      const sessions: Ev[][] = [];
      const starts: number[] = [];
      let from = 1;
      for (const b of [...bounds, last]) {
        sessions.push(log.filter((e) => e.revision >= from && e.revision <= b));
        starts.push(from);
        from = b + 1;
      }
      mutate?.(sessions);
      sessions.forEach((events, k) => {
        delivered += events.length;
        h.watch(10 + w, { watcher: `w${w}`, prefix: '/a/', fromRevision: starts[k]! }, events, 'ok', k === sessions.length - 1 ? last : undefined);
      });
    });
    return { ops: h.ops, delivered };
  };

  it('property: watchers that resume correctly are always valid', () => {
    fc.assert(
      fc.property(run, (r) => {
        expect(checkWatch({ history: build(r).ops }).valid).not.toBe(false);
      }),
    );
  });

  it('property: dropping or duplicating any one delivered ok event is always caught', () => {
    fc.assert(
      fc.property(run, fc.nat(), fc.boolean(), (r, pick, duplicate) => {
        const okValues = new Set(r.writes.flatMap((w, i) => (w.outcome === 'ok' && w.key.startsWith('/a/') ? [`v${i}`] : [])));
        fc.pre(okValues.size > 0);
        let done = false;
        const { ops } = build(r, (sessions) => {
          if (done) return;
          const all = sessions.flatMap((events, s) => events.map((e, k) => ({ s, k, e }))).filter((x) => okValues.has(x.e.value as string));
          if (all.length === 0) return;
          const { s, k, e } = all[pick % all.length]!;
          if (duplicate) sessions[s]!.splice(k, 0, e);
          else sessions[s]!.splice(k, 1);
          done = true;
        });
        fc.pre(done);
        const res = checkWatch({ history: ops });
        expect(res.valid).toBe(false);
        expect(res.counts[duplicate ? 'duplicate' : 'gap']).toBeGreaterThan(0);
      }),
    );
  });
});
