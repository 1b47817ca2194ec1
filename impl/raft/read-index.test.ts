/** Rule tests for linearizable reads by ReadIndex (thesis §6.4). */
import { describe, expect, it } from 'vitest';
import { TestCluster, msg } from './test-cluster.ts';
import { nodeId } from './types.ts';

const n1 = nodeId('n1');
const n2 = nodeId('n2');
const VOTERS = ['n1', 'n2', 'n3'];

/** Elect n1 by delivering the election's messages by hand, stopping before its no-op commits. */
function electWithoutCommitting(c: TestCluster): void {
  c.node('n1').campaign();
  for (let i = 0; i < 10 && c.node('n1').softState().role !== 'leader'; i++) {
    for (const id of VOTERS) c.processReady(id);
    c.deliverAll((m) => m.type !== 'append');
  }
  expect(c.node('n1').softState().role).toBe('leader');
  c.queue = c.queue.filter((m) => m.type !== 'append');
}

describe('ReadIndex', () => {
  it('ReadIndex waits for a heartbeat quorum round started after the request', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    const leader = c.node('n1');
    const t = leader.softState().term;
    leader.readIndex('r1');
    // An acknowledgement of a heartbeat round that carried no read (sent before the
    // request) confirms nothing about it.
    leader.step(msg({ type: 'heartbeat-resp', from: n2, to: n1, term: t }));
    expect(c.processReady('n1')?.readStates ?? []).toEqual([]);
    const heartbeats = c.queue.filter((m) => m.type === 'heartbeat' && m.context !== null);
    expect(heartbeats.map((m) => m.to).sort()).toEqual(['n2', 'n3']);
    c.stabilize();
    expect(c.readStates.get(n1)).toEqual([{ requestId: 'r1', index: leader.progress().commit }]);
  });

  it('a new leader serves ReadIndex only after committing an entry of its term', () => {
    const c = new TestCluster(VOTERS, { preVote: false });
    electWithoutCommitting(c);
    const leader = c.node('n1');
    const noop = leader.progress().lastIndex;
    expect(leader.progress().commit).toBeLessThan(noop);
    leader.readIndex('r1');
    c.processReady('n1');
    // No confirmation round may start yet: the commit index is not known.
    expect(c.queue.filter((m) => m.type === 'heartbeat' && m.context !== null)).toEqual([]);
    c.tick('n1'); // heartbeats trigger the probes that replicate the no-op
    c.stabilize();
    expect(c.readStates.get(n1)).toEqual([{ requestId: 'r1', index: noop }]);
  });

  it("a follower's ReadIndex is forwarded to the leader and answered with the leader's commit index", () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    c.node('n2').readIndex('f1');
    c.stabilize();
    expect(c.readStates.get(n2)).toEqual([{ requestId: 'f1', index: c.node('n1').progress().commit }]);
    expect(c.sent.some((m) => m.type === 'read-index' && m.from === n2 && m.to === n1)).toBe(true);
    expect(c.sent.some((m) => m.type === 'read-index-resp' && m.from === n1 && m.to === n2)).toBe(true);
  });

  it('requests with the same id from different nodes are kept apart', () => {
    const c = new TestCluster(VOTERS);
    c.elect('n1');
    c.node('n1').readIndex('same');
    c.node('n2').readIndex('same');
    c.stabilize();
    expect(c.readStates.get(n1)?.map((r) => r.requestId)).toEqual(['same']);
    expect(c.readStates.get(n2)?.map((r) => r.requestId)).toEqual(['same']);
  });

  it('a partitioned leader cannot complete a ReadIndex', () => {
    const c = new TestCluster(VOTERS, { checkQuorum: false });
    c.elect('n1');
    c.isolate('n1');
    c.node('n1').readIndex('stale');
    for (let i = 0; i < 30; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.readStates.get(n1)).toEqual([]);
  });

  it('ReadIndex needs acknowledgements from a quorum, not just one follower', () => {
    const ids = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const c = new TestCluster(ids, { checkQuorum: false });
    c.elect('n1');
    c.isolate('n3');
    c.isolate('n4');
    c.isolate('n5');
    c.node('n1').readIndex('r');
    for (let i = 0; i < 30; i++) {
      c.tickAll();
      c.stabilize();
    }
    // n1 and n2 are 2 of 5: leadership is not confirmed.
    expect(c.readStates.get(n1)).toEqual([]);
    c.heal();
    c.tickAll();
    c.stabilize();
    expect(c.readStates.get(n1)?.map((r) => r.requestId)).toEqual(['r']);
  });

  it('a read without a known leader is dropped (the application times it out)', () => {
    const c = new TestCluster(VOTERS);
    c.node('n2').readIndex('r');
    expect(c.node('n2').hasReady()).toBe(false);
  });
});
