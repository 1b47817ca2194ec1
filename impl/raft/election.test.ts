/** Rule tests for leader election (§5.2, §5.4.1, thesis §4.2.3, §6.2, §9.6). One rule per test. */
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from './memory-storage.ts';
import { encodeConfChange } from './conf-change.ts';
import { TRANSFER_CONTEXT } from './raw-node.ts';
import { SeededRng } from './rng.ts';
import { Solo, TestCluster, data, msg, storageWithLog } from './test-cluster.ts';
import type { Message } from './types.ts';
import { index, nodeId, term } from './types.ts';

const n1 = nodeId('n1');
const n2 = nodeId('n2');
const n3 = nodeId('n3');
const VOTERS = ['n1', 'n2', 'n3'];

function voteResponses(out: readonly Message[], to = n2): Message[] {
  return out.filter((m) => (m.type === 'vote-resp' || m.type === 'pre-vote-resp') && m.to === to);
}

describe('voting', () => {
  it('a node grants at most one vote per term', () => {
    const s = new Solo(MemoryStorage.bootstrap([n1, n2, n3]), 'n1');
    const first = s.step({ type: 'vote', from: n2, term: term(2), index: index(6), logTerm: term(1) });
    expect(voteResponses(first, n2).map((m) => m.reject)).toEqual([false]);
    const second = s.step({ type: 'vote', from: n3, term: term(2), index: index(6), logTerm: term(1) });
    expect(voteResponses(second, n3).map((m) => m.reject)).toEqual([true]);
    // Asking again for the same candidate is answered the same way (a retransmission).
    const again = s.step({ type: 'vote', from: n2, term: term(2), index: index(6), logTerm: term(1) });
    expect(voteResponses(again, n2).map((m) => m.reject)).toEqual([false]);
    expect(s.storage.getHardState().vote).toBe(n2);
  });

  it("a candidate's log must be at least as up-to-date (last term, then last index) to get a vote", () => {
    // Voter's log: bootstrap (1..6, term 1), then terms 2, 3, 3 at 7..9.
    const cases: [lastTerm: number, lastIndex: number, granted: boolean][] = [
      [2, 20, false], // longer log but older last term: length alone must not win
      [3, 8, false], // same last term, shorter
      [3, 9, true], // same last term, same length
      [3, 12, true],
      [4, 7, true], // newer last term wins even when shorter
    ];
    for (const [lastTerm, lastIndex, granted] of cases) {
      const s = new Solo(storageWithLog(VOTERS, [2, 3, 3]), 'n1');
      const out = s.step({ type: 'vote', from: n2, term: term(5), index: index(lastIndex), logTerm: term(lastTerm) });
      expect(voteResponses(out).map((m) => !m.reject), `lastTerm ${lastTerm} lastIndex ${lastIndex}`).toEqual([granted]);
    }
  });

  it('vote grants are only sent after the vote is persisted', () => {
    const node = new Solo(MemoryStorage.bootstrap([n1, n2, n3]), 'n1').node;
    node.step(msg({ type: 'vote', from: n2, to: n1, term: term(2), index: index(6), logTerm: term(1) }));
    const rd = node.ready();
    expect(rd.messages.filter((m) => m.type === 'vote-resp')).toEqual([]);
    expect(rd.persistedMessages.map((m) => [m.type, m.to, m.reject])).toEqual([['vote-resp', n2, false]]);
    // ...and the vote they depend on is in the same Ready's hard state.
    expect(rd.hardState).toMatchObject({ term: 2, vote: n2 });
  });

  it('pre-vote responses change neither term nor vote, so they may leave before persisting', () => {
    const s = new Solo(MemoryStorage.bootstrap([n1, n2, n3]), 'n1');
    s.node.step(msg({ type: 'pre-vote', from: n2, to: n1, term: term(5), index: index(6), logTerm: term(1) }));
    const rd = s.node.ready();
    expect(rd.hardState).toBeNull();
    expect(rd.messages.map((m) => [m.type, m.term, m.reject])).toEqual([['pre-vote-resp', 5, false]]);
    expect(s.node.softState().term).toBe(1);
  });

  it('a candidate counts its own vote only once it is persisted', () => {
    const s = new Solo(MemoryStorage.bootstrap([n1]), 'n1', { preVote: false });
    s.node.campaign();
    expect(s.node.softState().role).toBe('candidate');
    const rd = s.node.ready();
    expect(rd.hardState).toMatchObject({ term: 2, vote: n1 });
    expect(s.node.softState().role).toBe('candidate');
    s.storage.setHardState(rd.hardState ?? s.storage.getHardState());
    s.node.advance(rd);
    expect(s.node.softState().role).toBe('leader');
  });

  it('a restarted node keeps its term and vote, and does not vote twice in that term', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    const t = c.node('n2').softState().term;
    expect(c.storage('n2').getHardState()).toMatchObject({ term: t, vote: n1 });
    const restarted = c.addNode(n2, c.storage('n2'));
    expect(restarted.hardState()).toMatchObject({ term: t, vote: n1 });
    restarted.step(msg({ type: 'vote', from: n3, to: n2, term: t, index: index(100), logTerm: term(t) }));
    const rd = restarted.ready();
    expect(rd.persistedMessages.map((m) => [m.type, m.reject])).toEqual([['vote-resp', true]]);
  });
});

describe('election timer', () => {
  it('the election timer resets only on a valid message from the leader, an election, or a granted vote', () => {
    /** Ticks until `n1` campaigns, after `poke` at tick 5. */
    const ticksToCampaign = (poke: (s: Solo) => void): number => {
      const s = new Solo(storageWithLog(VOTERS, [], 5), 'n1', { rng: new SeededRng(3) });
      for (let i = 1; i <= 100; i++) {
        if (i === 5) poke(s);
        s.node.tick();
        if (s.node.softState().role !== 'follower') return i;
      }
      return -1;
    };
    const baseline = ticksToCampaign(() => undefined);
    expect(baseline).toBeGreaterThan(5);
    // A stale leader's append (older term) is not from the current leader.
    expect(ticksToCampaign((s) => s.step({ type: 'append', from: n2, term: term(3), index: index(6), logTerm: term(1) }))).toBe(baseline);
    // A vote request we reject (its log is behind ours) does not reset the timer.
    expect(ticksToCampaign((s) => s.step({ type: 'vote', from: n3, term: term(5), index: index(1), logTerm: term(1) }))).toBe(baseline);
    // A heartbeat from the current term's leader does.
    expect(ticksToCampaign((s) => s.step({ type: 'heartbeat', from: n2, term: term(5) }))).toBeGreaterThan(baseline);
    // So does granting a vote.
    expect(ticksToCampaign((s) => s.step({ type: 'vote', from: n3, term: term(5), index: index(6), logTerm: term(1) }))).toBeGreaterThan(baseline);
  });

  it('a node with a committed but not yet applied membership change does not campaign', () => {
    const s = new Solo(MemoryStorage.bootstrap([n1, n2, n3]), 'n1');
    const cc = { term: term(2), index: index(7), type: 'conf-change' as const, data: encodeConfChange({ type: 'add-learner', node: nodeId('n4') }) };
    s.node.step(msg({ type: 'append', from: n2, to: n1, term: term(2), index: index(6), logTerm: term(1), entries: [cc], commit: index(7) }));
    s.node.campaign(); // the change could alter who may vote: wait until it is applied
    expect(s.node.softState().role).toBe('follower');
    s.drain();
    s.node.campaign();
    expect(s.node.softState().role).toBe('pre-candidate');
  });
});

describe('terms', () => {
  it('a node that sees a higher term adopts it and becomes a follower', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    const t = c.node('n1').softState().term;
    c.node('n1').step(msg({ type: 'append-resp', from: n2, to: n1, term: term(t + 3) }));
    expect(c.node('n1').softState()).toEqual({ role: 'follower', term: t + 3, leader: null });
    expect(c.node('n1').hardState().vote).toBeNull();
  });

  it('a stale leader rejoining learns the newer term from a response and steps down; its uncommitted entries are overwritten', () => {
    const c = new TestCluster(VOTERS, { checkQuorum: false });
    c.elect('n1');
    c.isolate('n1');
    c.node('n1').propose(data('lost'));
    c.stabilize();
    c.elect('n2');
    expect(c.node('n2').softState().role).toBe('leader');
    expect(c.node('n1').softState().role).toBe('leader'); // still thinks so
    c.node('n2').propose(data('kept'));
    c.stabilize();
    c.heal();
    c.tick('n1'); // heartbeat from the stale term
    c.stabilize();
    expect(c.node('n1').softState()).toMatchObject({ role: 'follower', term: c.node('n2').softState().term });
    c.tick('n2');
    c.stabilize();
    for (const id of VOTERS) expect(c.appliedData(id)).toEqual(['kept']);
    expect(c.storage('n1').allEntries().some((e) => new TextDecoder().decode(e.data) === 'lost')).toBe(false);
  });

  it('randomized election timeouts come from the injected RNG and lie in [electionTicks, 2*electionTicks)', () => {
    const timeouts: number[] = [];
    for (let seed = 1; seed <= 30; seed++) {
      const s = new Solo(MemoryStorage.bootstrap([n1, n2, n3]), 'n1', { rng: new SeededRng(seed) });
      let i = 1;
      for (; i <= 100; i++) {
        s.node.tick();
        if (s.node.softState().role !== 'follower') break;
      }
      timeouts.push(i);
    }
    for (const t of timeouts) {
      expect(t).toBeGreaterThanOrEqual(10);
      expect(t).toBeLessThan(20);
    }
    expect(new Set(timeouts).size).toBeGreaterThan(3);
  });
});

describe('pre-vote and check-quorum', () => {
  it('pre-vote does not increase terms: a partitioned node cannot disrupt the cluster when it rejoins', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    const t = c.node('n1').softState().term;
    c.isolate('n3');
    for (let i = 0; i < 100; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.node('n3').softState().term).toBe(t);
    c.heal();
    for (let i = 0; i < 30; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.node('n1').softState()).toMatchObject({ role: 'leader', term: t });
    expect(c.node('n3').softState()).toMatchObject({ role: 'follower', term: t, leader: n1 });
  });

  it('without pre-vote, a partitioned node inflates its term and deposes the leader when it rejoins', () => {
    // The contrast that shows what pre-vote buys.
    const c = new TestCluster(VOTERS, { preVote: false, checkQuorum: false });
    c.elect('n1');
    const t = c.node('n1').softState().term;
    c.isolate('n3');
    for (let i = 0; i < 100; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.node('n3').softState().term).toBeGreaterThan(t);
    c.heal();
    for (let i = 0; i < 30; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.node('n1').softState().term).toBeGreaterThan(t);
  });

  it('a follower that heard from a live leader ignores vote requests (leader stickiness)', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    const t = c.node('n2').softState().term;
    for (const type of ['vote', 'pre-vote'] as const) {
      c.node('n2').step(msg({ type, from: n3, to: n2, term: term(t + 1), index: index(1000), logTerm: term(t) }));
      expect(c.node('n2').softState()).toMatchObject({ term: t, leader: n1 });
      expect(c.node('n2').hasReady()).toBe(false);
    }
  });

  it('a leadership-transfer campaign overrides leader stickiness', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    const t = c.node('n2').softState().term;
    c.node('n2').step(msg({ type: 'vote', from: n3, to: n2, term: term(t + 1), index: index(1000), logTerm: term(t), context: TRANSFER_CONTEXT }));
    const rd = c.node('n2').ready();
    expect(rd.persistedMessages.map((m) => [m.type, m.to, m.reject])).toEqual([['vote-resp', n3, false]]);
  });

  it('check-quorum: a leader that does not hear from a quorum within an election timeout steps down', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    c.isolate('n1');
    for (let i = 0; i < 2 * 10 + 1; i++) {
      c.tick('n1');
      c.stabilize();
    }
    expect(c.node('n1').softState().role).toBe('follower');
  });

  it('check-quorum: a leader that hears from a quorum stays leader', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    const t = c.node('n1').softState().term;
    c.isolate('n3'); // one follower down: still a quorum
    for (let i = 0; i < 100; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.node('n1').softState()).toMatchObject({ role: 'leader', term: t });
  });

  it('a candidate that gathers a quorum of rejections returns to follower', () => {
    const c = new TestCluster(VOTERS, { preVote: false, checkQuorum: false });
    c.elect('n1');
    c.isolate('n3');
    c.node('n1').propose(data('x')); // n3 lacks this entry: its log is behind
    c.stabilize();
    c.heal();
    c.node('n3').campaign();
    const t = c.node('n3').softState().term;
    c.stabilize();
    expect(c.node('n3').softState()).toMatchObject({ role: 'follower', term: t });
    expect(c.leaders()).toEqual([]);
  });
});
