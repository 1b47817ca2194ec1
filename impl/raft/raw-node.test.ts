import { describe, expect, it } from 'vitest';
import { TestCluster, data } from './test-cluster.ts';
import { nodeId } from './types.ts';

describe('basic operation', () => {
  it('elects a leader and replicates and commits proposals on every node', () => {
    const c = new TestCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    expect(c.leaders()).toEqual([nodeId('n1')]);
    c.node('n1').propose(data('a'));
    c.node('n1').propose(data('b'));
    c.stabilize();
    for (const id of ['n1', 'n2', 'n3']) {
      expect(c.appliedData(id)).toEqual(['a', 'b']);
      expect(c.node(id).softState().leader).toBe('n1');
    }
  });

  it('elects a leader by ticks alone', () => {
    const c = new TestCluster(['n1', 'n2', 'n3']);
    for (let i = 0; i < 100 && c.leaders().length === 0; i++) {
      c.tickAll();
      c.stabilize();
    }
    expect(c.leaders()).toHaveLength(1);
  });

  it('a single-node cluster elects itself and commits', () => {
    const c = new TestCluster(['n1']);
    c.elect('n1');
    c.node('n1').propose(data('x'));
    c.stabilize();
    expect(c.appliedData('n1')).toEqual(['x']);
  });
});

describe('determinism and the Ready contract', () => {
  it('the same seeds and inputs give the same outputs', () => {
    const run = (): string => {
      const c = new TestCluster(['n1', 'n2', 'n3']);
      for (let i = 0; i < 200; i++) {
        c.tickAll();
        c.stabilize();
        const leader = c.leaders()[0];
        if (leader !== undefined && i % 10 === 0) c.node(leader).propose(data(`v${i}`));
      }
      return JSON.stringify(c.sent.map((m) => [m.type, m.from, m.to, m.term, m.index, m.commit, m.entries.length]));
    };
    expect(run()).toEqual(run());
  });

  it('ready() refuses to hand out a second Ready before advance()', () => {
    const c = new TestCluster(['n1']);
    c.node('n1').campaign();
    const rd = c.node('n1').ready();
    expect(c.node('n1').hasReady()).toBe(false);
    expect(() => c.node('n1').ready()).toThrow(/not advanced/);
    expect(() => c.node('n1').advance({ ...rd })).toThrow(/not the Ready/);
    c.node('n1').advance(rd);
  });

  it('a restarted node re-applies committed entries from its snapshot index, or from config.applied', () => {
    const c = new TestCluster(['n1', 'n2', 'n3']);
    c.elect('n1');
    c.node('n1').propose(data('a'));
    c.stabilize();
    const storage = c.storage('n2');
    const fresh = c.addNode(nodeId('n2'), storage);
    expect(fresh.progress().applied).toBe(0);
    const rd = fresh.ready();
    expect(rd.committedEntries.length).toBe(fresh.progress().commit);
    const resumed = c.addNode(nodeId('n2'), storage, { applied: fresh.progress().commit });
    expect(resumed.hasReady()).toBe(false);
    // Membership is the snapshot's plus the conf changes among the already-applied entries.
    expect(resumed.confState().voters).toEqual(['n1', 'n2', 'n3']);
  });
});
