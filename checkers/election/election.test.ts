import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { NodeEvent, Op } from '../history/types.ts';
import { ElectionChecker, checkElection } from './election.ts';

const MS = 1e6;
const role = (timeMs: number, node: string, r: string, term: number, leader: string | null): NodeEvent => ({ kind: 'role', time: timeMs * MS, node, role: r, term, leader });
const status = (timeMs: number, node: string, r: string, term: number, leader: string | null): NodeEvent => ({
  kind: 'status', time: timeMs * MS, node, role: r, term, leader, commit: 0, applied: 0,
});

describe('election checker', () => {
  it('has no events to judge: unknown', () => {
    const r = checkElection({ history: [] });
    expect(r.valid).toBe('unknown');
    expect(new ElectionChecker().name).toBe('election');
  });

  it('accepts a clean succession of leaders, one per term', () => {
    const r = checkElection({
      history: [],
      events: [
        role(0, 'n1', 'follower', 1, null),
        role(0, 'n2', 'follower', 1, null),
        role(100, 'n1', 'leader', 1, 'n1'),
        role(110, 'n2', 'follower', 1, 'n1'),
        role(1000, 'n1', 'follower', 2, null),
        role(1200, 'n2', 'leader', 2, 'n2'),
        status(1300, 'n1', 'follower', 2, 'n2'),
      ],
    });
    expect(r.valid).toBe(true);
    expect(r.terms).toBe(2);
    expect(r.violations).toEqual([]);
    expect(r.overlaps).toEqual([]);
    expect(r.leaderIntervals).toEqual([
      { node: 'n1', term: 1, from: 100 * MS, to: 1000 * MS },
      { node: 'n2', term: 2, from: 1200 * MS, to: 1300 * MS },
    ]);
  });

  it('two nodes claiming leadership of the same term is invalid, naming both', () => {
    const r = checkElection({
      history: [],
      events: [role(100, 'n1', 'leader', 7, 'n1'), role(150, 'n3', 'leader', 7, 'n3'), role(400, 'n1', 'follower', 8, null)],
    });
    expect(r.valid).toBe(false);
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0]!.term).toBe(7);
    expect(r.violations[0]!.leaders.map((l) => l.node)).toEqual(['n1', 'n3']);
    expect(r.summary).toContain('2 leaders in term 7: n1, n3');
    expect(r.overlaps[0]!.sameTerm).toBe(true);
  });

  it('a status sample alone can reveal a second leader in a term', () => {
    const r = checkElection({ history: [], events: [role(0, 'n1', 'leader', 3, 'n1'), status(50, 'n2', 'leader', 3, 'n2')] });
    expect(r.valid).toBe(false);
  });

  it("a follower's report of a different leader for the term counts as evidence (unless disabled)", () => {
    const events = [role(0, 'n1', 'leader', 4, 'n1'), status(10, 'n2', 'follower', 4, 'n3')];
    const r = checkElection({ history: [], events });
    expect(r.valid).toBe(false);
    expect(r.violations[0]!.leaders.find((l) => l.node === 'n3')!.reportedBy).toEqual(['n2']);
    expect(checkElection({ history: [], events }, { followerReports: false }).valid).toBe(true);
  });

  it('a stale leader in an older term overlapping the new one is legal but reported with its duration', () => {
    const r = checkElection({
      history: [],
      events: [
        role(0, 'n1', 'leader', 1, 'n1'),
        role(500, 'n2', 'leader', 2, 'n2'), // n1 partitioned, still thinks it leads term 1
        role(800, 'n1', 'follower', 2, 'n2'),
        status(1000, 'n2', 'leader', 2, 'n2'),
      ],
    });
    expect(r.valid).toBe(true);
    expect(r.overlapCount).toBe(1);
    expect(r.overlaps[0]).toMatchObject({ from: 500 * MS, to: 800 * MS, durationMs: 300, sameTerm: false });
    expect(r.overlaps[0]!.leaders).toEqual([
      { node: 'n1', term: 1 },
      { node: 'n2', term: 2 },
    ]);
    expect(r.longestOverlapMs).toBe(300);
  });

  it('measures the time without a leader: before the first election and between leaders', () => {
    const r = checkElection({
      history: [],
      events: [
        role(0, 'n1', 'follower', 0, null),
        role(200, 'n1', 'leader', 1, 'n1'),
        role(1000, 'n1', 'down', 1, null), // the harness killed it
        role(1600, 'n2', 'leader', 2, 'n2'),
        status(2000, 'n2', 'leader', 2, 'n2'),
      ],
    });
    expect(r.leaderless.totalMs).toBe(800);
    expect(r.leaderless.longest).toEqual({ from: 1000 * MS, to: 1600 * MS, durationMs: 600 });
    expect(r.leaderless.gapCount).toBe(2);
  });

  it("a term going backwards in a node's own role log is invalid (lost durable state), with both events as evidence", () => {
    const events = [role(0, 'n1', 'follower', 5, null), role(100, 'n1', 'follower', 3, null)];
    const r = checkElection({ history: [], events });
    expect(r.valid).toBe(false);
    expect(r.termRegressions).toEqual([
      {
        kind: 'term-regression', node: 'n1', time: 100 * MS, fromTerm: 5, toTerm: 3,
        before: { kind: 'role', time: 0, term: 5, role: 'follower' },
        after: { kind: 'role', time: 100 * MS, term: 3, role: 'follower' },
      },
    ]);
    expect(r.summary).toContain("n1's term went backwards from 5 (role log at 0.0 s, follower) to 3 (role log at 0.1 s, follower): it lost durable state");
    // Reported only, for logs of nodes deliberately wiped and re-added.
    expect(checkElection({ history: [], events }, { termRegressionInvalid: false }).valid).toBe(true);
  });

  it('a node restarted after a kill with an older term lost durable state; one that kept its term did not', () => {
    const lost = [role(0, 'n2', 'leader', 6, 'n2'), role(1000, 'n2', 'down', 0, null), role(3000, 'n2', 'follower', 4, null), role(3100, 'n2', 'follower', 7, 'n3')];
    const r = checkElection({ history: [], events: lost });
    expect(r.valid).toBe(false);
    expect(r.termRegressions.map((x) => [x.node, x.before.time / MS, x.before.term, x.after.time / MS, x.after.term])).toEqual([['n2', 0, 6, 3000, 4]]);
    const kept = [role(0, 'n2', 'leader', 6, 'n2'), role(1000, 'n2', 'down', 0, null), role(3000, 'n2', 'follower', 6, null), role(3100, 'n2', 'follower', 7, 'n3')];
    expect(checkElection({ history: [], events: kept })).toMatchObject({ valid: true, termRegressions: [] });
  });

  it("two of a node's status samples going backwards in term is a regression; a sample behind its role log is only stale", () => {
    const samples = [status(1000, 'n3', 'follower', 5, 'n1'), role(1500, 'n3', 'down', 0, null), status(4000, 'n3', 'follower', 2, null)];
    const r = checkElection({ history: [], events: samples });
    expect(r.valid).toBe(false);
    expect(r.termRegressions[0]).toMatchObject({ node: 'n3', before: { kind: 'status', time: 1000 * MS, term: 5 }, after: { kind: 'status', time: 4000 * MS, term: 2 } });
    expect(r.summary).toContain("n3's term went backwards from 5 (status sample at 1.0 s, follower) to 2 (status sample at 4.0 s, follower)");
    // Far enough apart that both requests cannot have been in flight at once: a regression even without a restart.
    expect(checkElection({ history: [], events: [status(1000, 'n3', 'follower', 5, 'n1'), status(3500, 'n3', 'follower', 2, null)] }).valid).toBe(false);
    // Close together with no restart between: the harness's last periodic sample can arrive after its final one.
    const overlapping = checkElection({ history: [], events: [status(1000, 'n3', 'follower', 5, 'n1'), status(1700, 'n3', 'follower', 6, 'n2'), status(1705, 'n3', 'follower', 5, 'n1'), status(2700, 'n3', 'follower', 6, 'n2')] });
    expect(overlapping).toMatchObject({ valid: true, termRegressions: [] });
    // Role log and samples interleave: a sample taken before a role change arrives after it.
    const interleaved = [
      status(1000, 'n3', 'follower', 4, 'n1'),
      role(1500, 'n3', 'candidate', 5, null),
      status(1502, 'n3', 'follower', 4, 'n1'), // sent before 1500, answered after
      role(1600, 'n3', 'follower', 5, 'n2'),
      status(2500, 'n3', 'follower', 5, 'n2'),
    ];
    const ok = checkElection({ history: [], events: interleaved });
    expect(ok).toMatchObject({ valid: true, termRegressions: [], staleSamples: 1 });
  });

  it("a harness 'down' event between a node's samples is not a term (term 0 by convention)", () => {
    const events = [status(1000, 'n1', 'leader', 3, 'n1'), role(1500, 'n1', 'down', 0, null), role(4000, 'n2', 'leader', 4, 'n2'), status(5000, 'n1', 'follower', 4, 'n2')];
    expect(checkElection({ history: [], events })).toMatchObject({ valid: true, termRegressions: [] });
  });

  describe('recovery after the last fault healed', () => {
    const nemesis = (timeMs: number, type: 'invoke' | 'info', f: string, index: number): Op => ({ index, time: timeMs * MS, process: 'nemesis', type, f, value: null });
    const faultThenHeal = (healMs: number): Op[] => [
      nemesis(900, 'invoke', 'start-partition', 0), nemesis(1000, 'info', 'start-partition', 1),
      nemesis(healMs - 10, 'invoke', 'stop-partition', 2), nemesis(healMs, 'info', 'stop-partition', 3),
    ];

    it('no leader after the heal: unknown, saying so plainly', () => {
      const events = [role(0, 'n1', 'leader', 1, 'n1'), role(1100, 'n1', 'follower', 2, null), status(41_500, 'n1', 'candidate', 9, null), status(42_500, 'n2', 'follower', 9, null)];
      const r = checkElection({ history: faultThenHeal(41_200), events });
      expect(r.valid).toBe('unknown');
      expect(r.summary).toContain('the cluster never recovered: no leader after the heal at 41.2 s');
      expect(r.recovery).toEqual({ healedAt: 41_200 * MS, leaderAt: null, leader: null, eventsAfter: 2, recovered: false });
    });

    it('no node answering after the heal: unknown, saying no node answered', () => {
      const r = checkElection({ history: faultThenHeal(41_200), events: [role(0, 'n1', 'leader', 1, 'n1'), role(1100, 'n1', 'down', 0, null)] });
      expect(r.valid).toBe('unknown');
      expect(r.summary).toContain('the cluster never recovered: no node answered after the heal at 41.2 s');
    });

    it('a leader after the heal (a new one, or the old one still sampled as leader) is a recovery', () => {
      const newLeader = [role(0, 'n1', 'leader', 1, 'n1'), role(1100, 'n1', 'follower', 2, null), role(42_000, 'n2', 'leader', 3, 'n2')];
      expect(checkElection({ history: faultThenHeal(41_200), events: newLeader })).toMatchObject({ valid: true, recovery: { recovered: true, leader: 'n2', leaderAt: 42_000 * MS } });
      const stable = [role(0, 'n1', 'leader', 1, 'n1'), status(41_000, 'n1', 'leader', 1, 'n1'), status(42_000, 'n1', 'leader', 1, 'n1')];
      expect(checkElection({ history: faultThenHeal(41_200), events: stable }).valid).toBe(true);
    });

    it("the harness's final heal op counts; a fault still in effect at the end, or no nemesis at all, makes no claim", () => {
      const events = [role(0, 'n1', 'leader', 1, 'n1'), role(1100, 'n1', 'follower', 2, null), status(6000, 'n1', 'follower', 2, null)];
      const healed = [nemesis(900, 'invoke', 'start-kill', 0), nemesis(1000, 'info', 'start-kill', 1), nemesis(4990, 'invoke', 'heal', 2), nemesis(5000, 'info', 'heal', 3)];
      expect(checkElection({ history: healed, events }).summary).toContain('no leader after the heal at 5.0 s');
      const stillOpen = [nemesis(900, 'invoke', 'start-kill', 0), nemesis(1000, 'info', 'start-kill', 1)];
      expect(checkElection({ history: stillOpen, events })).toMatchObject({ valid: true, recovery: null });
      expect(checkElection({ history: [], events })).toMatchObject({ valid: true, recovery: null });
    });

    it('two leaders in a term stays invalid even when the cluster never recovered', () => {
      const events = [role(0, 'n1', 'leader', 1, 'n1'), role(10, 'n2', 'leader', 1, 'n2'), role(1100, 'n1', 'follower', 2, null), role(1100, 'n2', 'follower', 2, null), status(50_000, 'n1', 'follower', 2, null)];
      const r = checkElection({ history: faultThenHeal(41_200), events });
      expect(r.valid).toBe(false);
      expect(r.summary).toMatch(/^2 leaders in term 1: n1, n2; .*the cluster never recovered: no leader after the heal at 41\.2 s/);
    });
  });

  // Random valid histories: each term has one leader; other nodes follow it or lag in older terms.
  const schedule = fc.array(fc.record({ leader: fc.constantFrom('n1', 'n2', 'n3'), gapMs: fc.integer({ min: 0, max: 500 }), lenMs: fc.integer({ min: 1, max: 1000 }) }), {
    minLength: 1,
    maxLength: 20,
  });
  const toEvents = (terms: { leader: string; gapMs: number; lenMs: number }[]): NodeEvent[] => {
    const out: NodeEvent[] = [];
    let t = 0;
    terms.forEach((s, i) => {
      const term = i + 1;
      t += s.gapMs;
      out.push(role(t, s.leader, 'leader', term, s.leader));
      for (const n of ['n1', 'n2', 'n3']) if (n !== s.leader) out.push(status(t + 1, n, 'follower', term, s.leader));
      t += s.lenMs;
      out.push(role(t, s.leader, 'follower', term, null));
    });
    return out;
  };

  it('property: one leader per term is always valid', () => {
    fc.assert(
      fc.property(schedule, (terms) => {
        expect(checkElection({ history: [], events: toEvents(terms) }).valid).toBe(true);
      }),
    );
  });

  it('property: a second node claiming any existing term is always caught', () => {
    fc.assert(
      fc.property(schedule, fc.nat(), (terms, pick) => {
        const i = pick % terms.length;
        const intruder = ['n1', 'n2', 'n3'].find((n) => n !== terms[i]!.leader)!;
        const events = [...toEvents(terms), status(999_999, intruder, 'leader', i + 1, intruder)];
        const r = checkElection({ history: [], events });
        expect(r.valid).toBe(false);
        expect(r.violations.map((v) => v.term)).toContain(i + 1);
      }),
    );
  });
});
