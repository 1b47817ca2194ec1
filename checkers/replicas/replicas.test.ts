import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { NodeEvent } from '../history/types.ts';
import { ReplicasChecker, checkReplicas } from './replicas.ts';

type Entry = { index: number; term: number; hash: string };
const digest = (time: number, node: string, entries: Entry[]): NodeEvent => ({ kind: 'digest', time, node, entries });
const log = (from: number, to: number, term = 1, salt = ''): Entry[] => Array.from({ length: to - from + 1 }, (_, k) => ({ index: from + k, term, hash: `h${from + k}${salt}` }));

describe('replicas checker', () => {
  it('no digests: unknown', () => {
    const r = checkReplicas({ history: [], events: [{ kind: 'role', time: 0, node: 'n1', role: 'leader', term: 1, leader: 'n1' }] });
    expect(r.valid).toBe('unknown');
    expect(r.summary).toBe('no digest events to check');
    expect(new ReplicasChecker().name).toBe('replicas');
  });

  it('one digest of one node compares nothing: unknown', () => {
    expect(checkReplicas({ history: [], events: [digest(0, 'n1', log(1, 5))] }).valid).toBe('unknown');
    // The other members of a 3-member cluster gave nothing: still unknown, not "agreement".
    expect(checkReplicas({ history: [], events: [digest(0, 'n1', log(1, 5))], clusterSize: 3 }).valid).toBe('unknown');
  });

  it('a one-member cluster has no replicas to compare: valid, said plainly, unless its own log changed', () => {
    for (const events of [[], [digest(0, 'n1', log(1, 5))]]) {
      const r = checkReplicas({ history: [], events, clusterSize: 1 });
      expect(r.valid).toBe(true);
      expect(r.summary).toBe('a one-member cluster: no replicas to compare');
    }
    const rewritten = checkReplicas({ history: [], events: [digest(0, 'n1', log(1, 5)), digest(1, 'n1', [...log(1, 3), ...log(4, 5, 2, 'x')])], clusterSize: 1 });
    expect(rewritten.valid).toBe(false);
    expect(rewritten.summary).toMatch(/^n1's applied entry 4 changed/);
  });

  it('nodes agreeing on their shared prefix are valid, whatever their lengths', () => {
    const r = checkReplicas({ history: [], events: [digest(0, 'n1', log(1, 10)), digest(0, 'n2', log(1, 7)), digest(0, 'n3', log(4, 12))] });
    expect(r.valid).toBe(true);
    expect(r.sharedIndexes).toBe(7 + 3); // 1..7 on n1+n2 (4..7 also n3), 8..10 on n1+n3
    expect(r.nodes).toEqual([
      { node: 'n1', digests: 10, minIndex: 1, maxIndex: 10 },
      { node: 'n2', digests: 7, minIndex: 1, maxIndex: 7 },
      { node: 'n3', digests: 9, minIndex: 4, maxIndex: 12 },
    ]);
  });

  it('reports the first divergent index with each node term and hash', () => {
    const n2 = [...log(1, 5), ...log(6, 8, 2, 'x')];
    const r = checkReplicas({ history: [], events: [digest(0, 'n1', log(1, 8)), digest(0, 'n2', n2), digest(0, 'n3', log(1, 8))] });
    expect(r.valid).toBe(false);
    expect(r.divergentCount).toBe(3);
    expect(r.firstDivergence).toEqual({
      kind: 'divergent',
      index: 6,
      nodes: [
        { node: 'n1', term: 1, hash: 'h6', time: 0 },
        { node: 'n2', term: 2, hash: 'h6x', time: 0 },
        { node: 'n3', term: 1, hash: 'h6', time: 0 },
      ],
    });
    expect(r.summary).toMatch(/^logs diverge at index 6: n1 term 1 hash h6, n2 term 2 hash h6x/);
  });

  it('same term but different data is divergence too', () => {
    const r = checkReplicas({ history: [], events: [digest(0, 'n1', [{ index: 3, term: 2, hash: 'a' }]), digest(0, 'n2', [{ index: 3, term: 2, hash: 'b' }])] });
    expect(r.valid).toBe(false);
  });

  it("a node's own digest of an index changing over time is invalid", () => {
    const r = checkReplicas({ history: [], events: [digest(10, 'n1', log(1, 4)), digest(20, 'n1', [...log(1, 3), { index: 4, term: 3, hash: 'other' }])] });
    expect(r.valid).toBe(false);
    expect(r.changed).toEqual([{ kind: 'changed', node: 'n1', index: 4, first: { term: 1, hash: 'h4', time: 10 }, later: { term: 3, hash: 'other', time: 20 } }]);
  });

  it('repeated identical digests of one node are valid', () => {
    expect(checkReplicas({ history: [], events: [digest(10, 'n1', log(1, 4)), digest(20, 'n1', log(3, 6))] }).valid).toBe(true);
  });

  it('rejects malformed entries, naming the event and entry', () => {
    expect(() => checkReplicas({ history: [], events: [digest(0, 'n1', [{ index: 0, term: 1, hash: 'a' }])] })).toThrow(/event 0 \(digest of "n1"\), entry 0: index/);
  });

  it('property: digests of prefixes of one log always agree; changing any one shared entry is caught', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 60 }), fc.array(fc.tuple(fc.constantFrom('n1', 'n2', 'n3'), fc.nat(), fc.nat()), { minLength: 2, maxLength: 12 }), fc.nat(), (len, samples, pick) => {
        const truth = log(1, len);
        const events = samples.map(([node, a, b], k) => {
          const lo = 1 + (a % len);
          const hi = lo + (b % (len - lo + 1));
          return digest(k, node, truth.slice(lo - 1, hi));
        });
        const ok = checkReplicas({ history: [], events });
        expect(ok.valid).not.toBe(false);
        // Corrupt one entry that some other sample also covers.
        const k = pick % events.length;
        const ev = events[k] as Extract<NodeEvent, { kind: 'digest' }>;
        const target = ev.entries[pick % ev.entries.length]!;
        const coveredElsewhere = events.some((e, j) => j !== k && e.kind === 'digest' && e.entries.some((x) => x.index === target.index));
        fc.pre(coveredElsewhere);
        const bad = events.map((e, j) => (j === k && e.kind === 'digest' ? digest(e.time, e.node, e.entries.map((x) => (x.index === target.index ? { ...x, hash: 'corrupt' } : x))) : e));
        expect(checkReplicas({ history: [], events: bad }).valid).toBe(false);
      }),
    );
  });
});
