/** Rule tests for log replication and commitment (§5.3, §5.4.2 Figure 8) and flow control. */
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from './memory-storage.ts';
import { Solo, TestCluster, data, msg, storageWithLog } from './test-cluster.ts';
import type { Message } from './types.ts';
import { InvariantViolation, ProposalDropped, index, nodeId, term } from './types.ts';

const n1 = nodeId('n1');
const n2 = nodeId('n2');
const n3 = nodeId('n3');
const VOTERS = ['n1', 'n2', 'n3'];

function appendResponses(out: readonly Message[]): Message[] {
  return out.filter((m) => m.type === 'append-resp');
}

/** n1 elected leader of term `t` by hand (votes stepped directly), its own state persisted. */
function soloLeader(terms: number[], hsTerm: number): Solo {
  const s = new Solo(storageWithLog(VOTERS, terms, hsTerm), 'n1', { preVote: false });
  s.node.campaign();
  s.drain();
  const t = s.node.softState().term;
  s.step({ type: 'vote-resp', from: n2, term: t });
  expect(s.node.softState().role).toBe('leader');
  return s;
}

describe('commitment', () => {
  it('a leader only commits entries from its current term by counting replicas (Figure 8)', () => {
    // Log: bootstrap 1..6 (term 1), index 7 from term 2; the leader is elected in term 4 and
    // appends its no-op at 8.
    const s = soloLeader([2], 3);
    expect(s.node.softState().term).toBe(4);
    expect(s.node.logTerm(8)).toBe(4);
    expect(s.node.progress().commit).toBe(6);
    // n2 acknowledges up to 7: index 7 is now on a majority (n1, n2), but from term 2.
    s.step({ type: 'append-resp', from: n2, term: term(4), index: index(7) });
    expect(s.node.progress().commit).toBe(6);
    // Once the term-4 entry is on a majority, it commits, and index 7 with it.
    s.step({ type: 'append-resp', from: n2, term: term(4), index: index(8) });
    expect(s.node.progress().commit).toBe(8);
  });

  it('a new leader appends a no-op entry of its term', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n2');
    const last = c.storage('n2').allEntries().at(-1);
    expect(last).toMatchObject({ type: 'noop', term: c.node('n2').softState().term });
    expect(c.node('n2').progress().commit).toBe(last?.index);
  });

  it("the leader counts its own entries toward the commit quorum only once they are persisted", () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    c.isolate('n3');
    const leader = c.node('n1');
    leader.propose(data('x'));
    const x = leader.progress().lastIndex;
    const rd = leader.ready();
    for (const m of rd.messages) if (m.to === n2) c.node('n2').step(m);
    c.processReady('n2');
    c.deliverAll((m) => m.to === n1);
    // Only n2 holds x durably; n1 has not persisted it yet, so 1 of 3 is not a quorum.
    expect(leader.progress().commit).toBeLessThan(x);
    c.storage('n1').append(rd.entries);
    leader.advance(rd);
    expect(leader.progress().commit).toBe(x);
  });

  it('a leader elected before persisting its log does not count its unpersisted entries', () => {
    const s = new Solo(MemoryStorage.bootstrap([n1, n2, n3]), 'n1', { preVote: false });
    // Entry 7 arrives but is not persisted (no Ready handled) before n1 wins an election.
    s.node.step(msg({ type: 'append', from: n2, to: n1, term: term(2), index: index(6), logTerm: term(1), entries: [{ term: term(2), index: index(7), type: 'normal', data: data('a') }] }));
    s.node.campaign();
    for (const from of [n2, n3]) s.node.step(msg({ type: 'vote-resp', from, to: n1, term: term(3) }));
    expect(s.node.softState().role).toBe('leader');
    expect(s.node.progress().lastIndex).toBe(8); // 7 and the no-op, neither persisted
    expect(s.node.peerProgress().find((p) => p.id === n1)?.match).toBe(6);
    s.node.step(msg({ type: 'append-resp', from: n2, to: n1, term: term(3), index: index(8) }));
    expect(s.node.progress().commit).toBe(6);
    s.drain();
    expect(s.node.progress().commit).toBe(8);
  });

  it('an unsent acknowledgement is dropped when a newer term truncates the entries it vouches for', () => {
    // Follower: bootstrap, then 7 and 8 in term 2, persisted.
    const s = new Solo(storageWithLog(VOTERS, [2, 2]), 'n2');
    s.node.step(msg({ type: 'append', from: n1, to: n2, term: term(2), index: index(8), logTerm: term(2) }));
    // Before that ack leaves, a term-3 leader replaces 8.
    s.node.step(msg({ type: 'append', from: n3, to: n2, term: term(3), index: index(7), logTerm: term(2), entries: [{ term: term(3), index: index(8), type: 'noop', data: new Uint8Array(0) }] }));
    const rd = s.node.ready();
    expect(rd.persistedMessages.map((m) => [m.to, m.term, m.index])).toEqual([[n3, 3, 8]]);
  });

  it('append acknowledgements are only sent after the entries are persisted', () => {
    const s = new Solo(MemoryStorage.bootstrap([n1, n2, n3]), 'n2');
    s.node.step(msg({ type: 'append', from: n1, to: n2, term: term(2), index: index(6), logTerm: term(1), entries: [{ term: term(2), index: index(7), type: 'normal', data: data('a') }] }));
    const rd = s.node.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([7]);
    expect(rd.messages.filter((m) => m.type === 'append-resp')).toEqual([]);
    expect(rd.persistedMessages.map((m) => [m.type, m.index, m.reject])).toEqual([['append-resp', 7, false]]);
  });
});

describe('follower log rules (Figure 2, AppendEntries receiver)', () => {
  it('a follower truncates only on a real conflict', () => {
    // Follower: bootstrap, then 7..9 in term 2.
    const s = new Solo(storageWithLog(VOTERS, [2, 2, 2]), 'n2');
    // A delayed append that matches what we have must not erase 8 and 9.
    const out = s.step({ type: 'append', from: n1, term: term(2), index: index(6), logTerm: term(1), entries: [{ term: term(2), index: index(7), type: 'normal', data: data('t2-7') }] });
    expect(appendResponses(out).map((m) => [m.index, m.reject])).toEqual([[7, false]]);
    expect(s.node.progress().lastIndex).toBe(9);
    expect(s.storage.lastIndex()).toBe(9);
    // A real conflict at 8 (term 3 vs 2) replaces 8 and drops 9.
    s.step({ type: 'append', from: n1, term: term(3), index: index(7), logTerm: term(2), entries: [{ term: term(3), index: index(8), type: 'normal', data: data('new') }] });
    expect(s.storage.allEntries().slice(6).map((e) => [e.index, e.term])).toEqual([[7, 2], [8, 3]]);
  });

  it('follower commit is min(leader commit, index of the last new entry)', () => {
    // The follower holds stale 8 and 9 (term 2) that the leader's log may not have.
    const s = new Solo(storageWithLog(VOTERS, [2, 2, 2]), 'n2');
    s.step({ type: 'append', from: n1, term: term(3), index: index(6), logTerm: term(1), commit: index(9), entries: [{ term: term(2), index: index(7), type: 'normal', data: data('t2-7') }] });
    expect(s.node.progress().commit).toBe(7);
    // A heartbeat-only append also only commits what it proved: here, up to its prev index.
    s.step({ type: 'append', from: n1, term: term(3), index: index(7), logTerm: term(2), commit: index(9) });
    expect(s.node.progress().commit).toBe(7);
  });

  it('a follower rejects an append whose previous entry does not match, with a conflict hint', () => {
    // Follower: 7, 8 in term 2; 9, 10 in term 3.
    const s = new Solo(storageWithLog(VOTERS, [2, 2, 3, 3]), 'n2');
    let resp = appendResponses(s.step({ type: 'append', from: n1, term: term(5), index: index(9), logTerm: term(2) }));
    // Our entry at 9 has term 3 > 2; the last index whose term is <= 2 is 8.
    expect(resp.map((m) => [m.reject, m.index, m.rejectHint, m.rejectHintTerm])).toEqual([[true, 9, 8, 2]]);
    // Beyond our log: the hint is our last index.
    resp = appendResponses(s.step({ type: 'append', from: n1, term: term(5), index: index(20), logTerm: term(5) }));
    expect(resp.map((m) => [m.reject, m.rejectHint, m.rejectHintTerm])).toEqual([[true, 10, 3]]);
    expect(s.node.progress().lastIndex).toBe(10);
  });

  it('the leader skips a whole conflicting term per round trip using the hint', () => {
    const many = (t: number): number[] => Array.from({ length: 50 }, () => t);
    const c = new TestCluster(VOTERS, {}, {
      n1: storageWithLog(VOTERS, many(3)),
      n2: storageWithLog(VOTERS, many(2)),
      n3: storageWithLog(VOTERS, many(3)),
    });
    c.elect('n1');
    c.tickAll();
    c.stabilize();
    const rejections = c.sent.filter((m) => m.type === 'append-resp' && m.from === n2 && m.reject);
    // Decrementing next one index at a time would need ~50 round trips.
    expect(rejections.length).toBeGreaterThan(0);
    expect(rejections.length).toBeLessThanOrEqual(2);
    expect(c.storage('n2').allEntries().map((e) => e.term)).toEqual(c.storage('n1').allEntries().map((e) => e.term));
  });

  it('a heartbeat never advances a follower\'s commit beyond what the leader knows it holds', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    c.isolate('n3');
    for (let i = 0; i < 5; i++) c.node('n1').propose(data(`p${i}`));
    c.stabilize();
    c.tick('n1');
    c.processReady('n1');
    const match3 = c.node('n1').peerProgress().find((p) => p.id === n3)?.match ?? -1;
    const hb = c.sent.filter((m) => m.type === 'heartbeat' && m.to === n3).at(-1);
    expect(hb?.commit).toBe(match3);
    expect(match3).toBeLessThan(c.node('n1').progress().commit);
  });

  it('two leaders in one term are an invariant violation', () => {
    const s = new Solo(MemoryStorage.bootstrap([n1, n2, n3]), 'n2');
    s.step({ type: 'heartbeat', from: n1, term: term(2) });
    expect(() => s.step({ type: 'heartbeat', from: n3, term: term(2) })).toThrow(/two leaders in term 2/);
  });

  it('log terms never decrease along the log (a malformed append is an invariant violation)', () => {
    const s = new Solo(MemoryStorage.bootstrap([n1, n2, n3]), 'n2');
    const entries = [
      { term: term(3), index: index(7), type: 'normal' as const, data: data('a') },
      { term: term(2), index: index(8), type: 'normal' as const, data: data('b') },
    ];
    expect(() => s.step({ type: 'append', from: n1, term: term(3), index: index(6), logTerm: term(1), entries })).toThrow(InvariantViolation);
  });

  it('commit beyond the last log index is an invariant violation', () => {
    const s = new Solo(MemoryStorage.bootstrap([n1, n2, n3]), 'n2');
    expect(() => s.step({ type: 'heartbeat', from: n1, term: term(2), commit: index(100) })).toThrow(InvariantViolation);
  });
});

describe('flow control', () => {
  it('a probing follower gets one append per round trip', () => {
    const c = new TestCluster(VOTERS);
    c.cut.add('n2->n1'); // n2's answers are lost: n1 keeps probing it
    c.elect('n1');
    for (let i = 0; i < 5; i++) {
      c.node('n1').propose(data(`p${i}`));
      c.stabilize();
    }
    // Only the election's probe (carrying the no-op): it is still unanswered.
    const toN2 = c.sent.filter((m) => m.type === 'append' && m.to === n2);
    expect(toN2).toHaveLength(1);
    expect(c.node('n1').peerProgress().find((p) => p.id === n2)?.state).toBe('probe');
  });

  it('at most maxInflightMsgs appends are in flight to a replicating follower', () => {
    const c = new TestCluster(VOTERS, { maxInflightMsgs: 2 });
    c.elect('n1');
    expect(c.node('n1').peerProgress().find((p) => p.id === n2)?.state).toBe('replicate');
    c.cut.add('n2->n1');
    const before = c.sent.length;
    for (let i = 0; i < 6; i++) {
      c.node('n1').propose(data(`p${i}`));
      c.stabilize();
    }
    const toN2 = c.sent.slice(before).filter((m) => m.type === 'append' && m.to === n2 && m.entries.length > 0);
    expect(toN2).toHaveLength(2);
    // Once the acks flow again, the rest is streamed.
    c.heal();
    c.tickAll();
    c.stabilize();
    expect(c.appliedData('n2')).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5']);
  });

  it('at most maxInflightBytes of entries are in flight to a replicating follower', () => {
    const c = new TestCluster(VOTERS, { maxInflightBytes: 100, maxMsgBytes: 100 });
    c.elect('n1');
    c.cut.add('n2->n1');
    const before = c.sent.length;
    for (let i = 0; i < 6; i++) {
      c.node('n1').propose(new Uint8Array(60));
      c.stabilize();
    }
    const toN2 = c.sent.slice(before).filter((m) => m.type === 'append' && m.to === n2 && m.entries.length > 0);
    expect(toN2).toHaveLength(2); // 60 + 60 >= 100
  });

  it('an append carries at most maxMsgBytes of entries; a proposal above maxProposalBytes is refused', () => {
    const c = new TestCluster(VOTERS, { maxMsgBytes: 100, maxProposalBytes: 100 });
    c.elect('n1');
    c.isolate('n2');
    for (let i = 0; i < 5; i++) c.node('n1').propose(new Uint8Array(60));
    c.stabilize();
    c.heal();
    c.node('n1').reportUnreachable(n2);
    const before = c.sent.length;
    for (let i = 0; i < 5; i++) {
      c.tickAll();
      c.stabilize();
    }
    const toN2 = c.sent.slice(before).filter((m) => m.type === 'append' && m.to === n2 && m.entries.length > 0);
    expect(toN2.length).toBeGreaterThanOrEqual(5);
    for (const m of toN2) expect(m.entries.reduce((n, e) => n + e.data.byteLength, 0)).toBeLessThanOrEqual(100);
    expect(c.node('n2').progress().lastIndex).toBe(c.node('n1').progress().lastIndex);
    expect(() => c.node('n1').propose(new Uint8Array(101))).toThrow(new ProposalDropped('too-large'));
  });

  it('a proposal larger than maxMsgBytes (within maxProposalBytes) travels alone in its append and commits everywhere', () => {
    const c = new TestCluster(VOTERS, { maxMsgBytes: 100 });
    c.elect('n1');
    c.node('n1').propose(new Uint8Array(40));
    c.node('n1').propose(new Uint8Array(300));
    c.node('n1').propose(new Uint8Array(40));
    const before = c.sent.length;
    c.stabilize();
    const toN2 = c.sent.slice(before).filter((m) => m.type === 'append' && m.to === n2 && m.entries.length > 0);
    const big = toN2.filter((m) => m.entries.some((e) => e.data.byteLength === 300));
    expect(big).toHaveLength(1);
    expect(big[0]!.entries).toHaveLength(1);
    for (const id of VOTERS) expect(c.appliedData(id).length).toBeGreaterThanOrEqual(3);
    expect(c.node('n3').progress().commit).toBe(c.node('n1').progress().lastIndex);
    expect(() => c.node('n1').propose(new Uint8Array(1024 * 1024 + 1))).toThrow(new ProposalDropped('too-large'));
  });

  it('reportUnreachable sends a replicating follower back to probing', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    expect(c.node('n1').peerProgress().find((p) => p.id === n3)?.state).toBe('replicate');
    c.node('n1').reportUnreachable(n3);
    expect(c.node('n1').peerProgress().find((p) => p.id === n3)?.state).toBe('probe');
  });

  it('proposals on a follower are refused with not-leader', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    expect(() => c.node('n2').propose(data('x'))).toThrow(new ProposalDropped('not-leader'));
  });
});

describe('a follower that lost entries it acknowledged (a truncated WAL)', () => {
  it('the leader stops counting them, probes down from the follower\'s hint and sends them again: no probe ping-pong', () => {
    // Log: bootstrap 1..6 (term 1), 7..9 from term 2; n1 leads term 4 and appends its no-op at 10.
    const s = soloLeader([2, 2, 2], 3);
    s.step({ type: 'append-resp', from: n2, term: term(4), index: index(10) });
    expect(s.node.peerProgress().find((p) => p.id === n2)).toMatchObject({ match: 10 });
    // n2 restarts with its log cut back to 7 (the transport reported it unreachable meanwhile:
    // probe state, next = match + 1), and refuses the probe at 10, with its hint.
    s.node.reportUnreachable(n2);
    s.drain();
    const out = s.step({ type: 'append-resp', from: n2, term: term(4), index: index(10), reject: true, rejectHint: index(7), rejectHintTerm: term(2) });
    const probe = out.find((m) => m.type === 'append' && m.to === n2);
    // Before the fix the leader probed at 10 again (next clamped to match + 1), forever.
    expect(probe?.index).toBe(7);
    expect(probe?.entries.map((e) => e.index)).toEqual([8, 9, 10]);
    expect(s.node.peerProgress().find((p) => p.id === n2)?.match).toBe(0);
    // Its acknowledgement counts again.
    s.step({ type: 'append-resp', from: n2, term: term(4), index: index(10) });
    expect(s.node.peerProgress().find((p) => p.id === n2)).toMatchObject({ match: 10 });
    expect(s.node.progress().commit).toBe(10);
  });
});
