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
