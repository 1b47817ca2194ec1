import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { NodeEvent } from '../history/types.ts';
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

  it("reports a term going backwards in a node's role log, invalid only when asked", () => {
    const events = [role(0, 'n1', 'follower', 5, null), role(100, 'n1', 'follower', 3, null)];
    const r = checkElection({ history: [], events });
    expect(r.valid).toBe(true);
    expect(r.termRegressions).toEqual([{ kind: 'term-regression', node: 'n1', time: 100 * MS, fromTerm: 5, toTerm: 3 }]);
    expect(checkElection({ history: [], events }, { termRegressionInvalid: true }).valid).toBe(false);
  });

  it('a late status sample from an older term neither regresses the term nor reopens leadership', () => {
    const r = checkElection({
      history: [],
      events: [
        role(0, 'n1', 'leader', 1, 'n1'),
        role(500, 'n1', 'follower', 2, 'n2'),
        role(500, 'n2', 'leader', 2, 'n2'),
        status(520, 'n1', 'leader', 1, 'n1'), // taken before 500, arrived after
        status(1000, 'n2', 'leader', 2, 'n2'),
      ],
    });
    expect(r.termRegressions).toEqual([]);
    expect(r.staleSamples).toBe(1);
    expect(r.overlapCount).toBe(0);
    expect(r.valid).toBe(true);
  });

  it("a harness 'down' event ends leadership without counting as a term", () => {
    const r = checkElection({ history: [], events: [role(0, 'n1', 'leader', 4, 'n1'), role(300, 'n1', 'down', 0, null), role(400, 'n1', 'follower', 4, null)] });
    expect(r.leaderIntervals).toEqual([{ node: 'n1', term: 4, from: 0, to: 300 * MS }]);
    expect(r.termRegressions).toEqual([]);
  });

  it('orders events by time regardless of log order', () => {
    const r = checkElection({ history: [], events: [role(800, 'n1', 'follower', 2, null), role(0, 'n1', 'leader', 1, 'n1')] });
    expect(r.leaderIntervals).toEqual([{ node: 'n1', term: 1, from: 0, to: 800 * MS }]);
  });

  it('ignores digest events and rejects malformed ones by position', () => {
    expect(checkElection({ history: [], events: [{ kind: 'digest', time: 0, node: 'n1', entries: [] }] }).valid).toBe('unknown');
    const bad = { kind: 'role', time: 0, node: 'n1', role: 'leader', term: -1, leader: 'n1' } as NodeEvent;
    expect(() => checkElection({ history: [], events: [role(0, 'n1', 'follower', 1, null), bad] })).toThrow(/event 1 \(role\): term/);
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
