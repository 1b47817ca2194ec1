/** Rule tests for membership changes (thesis §4.1-§4.2), snapshots (§7) and leadership transfer (thesis §3.10). */
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from './memory-storage.ts';
import { TestCluster, data } from './test-cluster.ts';
import type { ConfChange } from './types.ts';
import { ProposalDropped, nodeId } from './types.ts';

const n1 = nodeId('n1');
const n2 = nodeId('n2');
const n3 = nodeId('n3');
const n4 = nodeId('n4');
const VOTERS = ['n1', 'n2', 'n3'];

function change(type: ConfChange['type'], node: string): ConfChange {
  return { type, node: nodeId(node) };
}

/** A 3-node cluster led by n1 with n4 added as a learner and caught up. */
function withLearner(): TestCluster {
  const c = new TestCluster(VOTERS);
  c.elect('n1');
  c.addNode(n4, new MemoryStorage());
  c.node('n1').proposeMembershipChange(change('add-learner', 'n4'));
  c.stabilize();
  return c;
}

describe('membership changes', () => {
  it('a new member joins as a learner, receives the log and learns the configuration from it', () => {
    const c = withLearner();
    c.node('n1').propose(data('a'));
    c.stabilize();
    for (const id of ['n1', 'n2', 'n3', 'n4']) {
      expect(c.node(id).confState()).toEqual({ voters: [n1, n2, n3], learners: [n4] });
      expect(c.appliedData(id)).toEqual(['a']);
    }
  });

  it('learners do not count toward the commit quorum', () => {
    const c = withLearner();
    c.isolate('n2');
    c.isolate('n3');
    c.node('n1').propose(data('x'));
    c.stabilize();
    // n1 and n4 hold x: 2 of 4 members, but only 1 of 3 voters.
    expect(c.node('n4').progress().lastIndex).toBe(c.node('n1').progress().lastIndex);
    expect(c.appliedData('n1')).toEqual([]);
    c.heal();
    c.tickAll();
    c.stabilize();
    expect(c.appliedData('n1')).toEqual(['x']);
  });

  it("a learner is promoted once caught up; peerProgress shows its match index", () => {
    const c = withLearner();
    const p4 = c.node('n1').peerProgress().find((p) => p.id === n4);
    expect(p4).toMatchObject({ isLearner: true, match: c.node('n1').progress().lastIndex });
    c.node('n1').proposeMembershipChange(change('promote', 'n4'));
    c.stabilize();
    for (const id of ['n1', 'n2', 'n3', 'n4']) {
      expect(c.node(id).confState()).toEqual({ voters: [n1, n2, n3, n4], learners: [] });
    }
    // Now n4 counts: with n2 and n3 down, n1 + n4 are 2 of 4 voters, not a quorum (3).
    c.isolate('n2');
    c.isolate('n3');
    c.node('n1').propose(data('y'));
    c.stabilize();
    expect(c.appliedData('n1')).toEqual([]);
  });

  it('one membership change at a time', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    c.node('n1').proposeMembershipChange(change('add-learner', 'n4'));
    expect(() => c.node('n1').proposeMembershipChange(change('add-learner', 'n5'))).toThrow(
      new ProposalDropped('conf-change-pending'),
    );
    c.stabilize();
    c.node('n1').proposeMembershipChange(change('add-learner', 'n5'));
    c.stabilize();
    expect(c.node('n1').confState().learners).toEqual([n4, nodeId('n5')]);
  });

  it('a membership change waits until the leader committed an entry of its own term', () => {
    const c = new TestCluster(VOTERS, { preVote: false });
    c.node('n1').campaign();
    for (let i = 0; i < 10 && c.node('n1').softState().role !== 'leader'; i++) {
      for (const id of VOTERS) c.processReady(id);
      c.deliverAll((m) => m.type !== 'append');
    }
    expect(c.node('n1').softState().role).toBe('leader');
    expect(() => c.node('n1').proposeMembershipChange(change('add-learner', 'n4'))).toThrow(
      new ProposalDropped('conf-change-pending'),
    );
    c.stabilize();
    c.tickAll();
    c.stabilize();
    expect(() => c.node('n1').proposeMembershipChange(change('add-learner', 'n4'))).not.toThrow();
  });

  it('invalid membership changes are refused', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    const invalid = new ProposalDropped('invalid-conf-change');
    expect(() => c.node('n1').proposeMembershipChange(change('add-learner', 'n2'))).toThrow(invalid);
    expect(() => c.node('n1').proposeMembershipChange(change('promote', 'n2'))).toThrow(invalid);
    expect(() => c.node('n1').proposeMembershipChange(change('remove', 'n9'))).toThrow(invalid);
    const solo = new TestCluster(['n1']);
    solo.elect('n1');
    expect(() => solo.node('n1').proposeMembershipChange(change('remove', 'n1'))).toThrow(invalid);
  });

  it('a removed leader takes no proposals once its removal is pending, steps down when it applies, and hands off to an up-to-date voter', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    c.node('n1').proposeMembershipChange(change('remove', 'n1'));
    // Entries after its removal could leave the others needing the vote of a node whose
    // log is longer than theirs.
    expect(() => c.node('n1').propose(data('late'))).toThrow(new ProposalDropped('transferring'));
    c.stabilize();
    expect(c.node('n1').softState().role).toBe('follower');
    expect(c.node('n2').confState().voters).toEqual([n2, n3]);
    // The hand-off (timeout-now) elected a new leader without waiting for a timeout.
    expect(c.sent.some((m) => m.type === 'timeout-now' && m.from === n1)).toBe(true);
    expect(c.leaders().length).toBe(1);
    expect(c.leaders()[0]).not.toBe(n1);
    // The removed node never campaigns again.
    for (let i = 0; i < 50; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.node('n1').softState().role).toBe('follower');
  });

  it('a removed follower stops receiving the log; the others go on committing', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    c.node('n1').proposeMembershipChange(change('remove', 'n3'));
    c.stabilize();
    c.node('n1').propose(data('after'));
    c.stabilize();
    expect(c.appliedData('n1')).toEqual(['after']);
    expect(c.appliedData('n3')).toEqual([]);
    expect(c.node('n1').peerProgress().map((p) => p.id).sort()).toEqual([n1, n2]);
  });

  it('a removed node that missed its removal cannot disrupt the cluster (pre-vote and stickiness)', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    const t = c.node('n1').softState().term;
    c.isolate('n3');
    c.node('n1').proposeMembershipChange(change('remove', 'n3'));
    c.stabilize();
    expect(c.node('n1').confState().voters).toEqual([n1, n2]);
    expect(c.node('n3').confState().voters).toEqual([n1, n2, n3]); // never heard of it
    c.heal();
    for (let i = 0; i < 100; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.sent.some((m) => m.from === n3 && m.type === 'pre-vote')).toBe(true);
    expect(c.node('n1').softState()).toMatchObject({ role: 'leader', term: t });
    expect(c.node('n2').softState()).toMatchObject({ role: 'follower', term: t, leader: n1 });
  });
});

describe('snapshots', () => {
  it('a follower behind the leader\'s compacted log is caught up by a snapshot', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    c.isolate('n3');
    for (let i = 0; i < 20; i++) c.node('n1').propose(data(`p${i}`));
    c.stabilize();
    const leaderStorage = c.storage('n1');
    const applied = c.node('n1').progress().applied;
    leaderStorage.createSnapshot(applied, c.node('n1').confState(), data('state'));
    leaderStorage.compact(applied);
    c.heal();
    for (let i = 0; i < 5; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.sent.some((m) => m.type === 'snapshot' && m.to === n3)).toBe(true);
    expect(c.snapshots.get(n3)?.map((s) => s.metadata.index)).toEqual([applied]);
    expect(c.storage('n3').snapshot().metadata).toMatchObject({ index: applied, confState: { voters: [n1, n2, n3] } });
    c.node('n1').propose(data('after'));
    c.stabilize();
    expect(c.appliedData('n3')).toEqual(['after']);
    expect(c.node('n3').progress()).toEqual(c.node('n1').progress());
  });

  it('a failed snapshot send sends the follower back to probing', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    c.isolate('n3');
    for (let i = 0; i < 5; i++) c.node('n1').propose(data(`p${i}`));
    c.stabilize();
    const applied = c.node('n1').progress().applied;
    c.storage('n1').createSnapshot(applied, c.node('n1').confState(), data('state'));
    c.storage('n1').compact(applied);
    c.heal();
    c.drop = (m) => m.type === 'snapshot'; // lost on the way
    c.tickAll();
    c.stabilize();
    expect(c.node('n1').peerProgress().find((p) => p.id === n3)?.state).toBe('snapshot');
    c.node('n1').reportSnapshot(n3, false);
    expect(c.node('n1').peerProgress().find((p) => p.id === n3)?.state).toBe('probe');
  });
});

describe('leadership transfer', () => {
  it('leadership transfer hands leadership to the target in a new term', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    const t = c.node('n1').softState().term;
    c.node('n1').transferLeadership(n2);
    c.stabilize();
    expect(c.node('n2').softState()).toMatchObject({ role: 'leader', term: t + 1 });
    expect(c.node('n1').softState()).toMatchObject({ role: 'follower', leader: n2 });
  });

  it('a lagging target is caught up before it is told to campaign', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    c.isolate('n3');
    for (let i = 0; i < 5; i++) c.node('n1').propose(data(`p${i}`));
    c.stabilize();
    c.heal();
    c.node('n1').transferLeadership(n3);
    c.stabilize();
    expect(c.node('n3').softState().role).toBe('leader');
    expect(c.appliedData('n3')).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
  });

  it('proposals are dropped while a transfer is in progress, and a transfer that does not finish within an election timeout is aborted', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    c.isolate('n2');
    c.node('n1').transferLeadership(n2);
    expect(() => c.node('n1').propose(data('x'))).toThrow(new ProposalDropped('transferring'));
    for (let i = 0; i < 10; i++) {
      c.tick('n1');
      c.stabilize();
    }
    expect(c.node('n1').softState().role).toBe('leader');
    expect(() => c.node('n1').propose(data('x'))).not.toThrow();
  });
});
