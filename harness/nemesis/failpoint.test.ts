import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.ts';
import type { StartedCluster } from '../runtime/runtime.ts';
import type { FailpointControl, PreparedSystem } from '../systems/system.ts';
import { realClock } from '../time.ts';
import { failpointNemesis, PANIC_FAILPOINTS } from './failpoint.ts';
import { parseKnobs, parseNemeses } from './index.ts';
import { fakeNode, type FakeNode } from './fake-node.test-support.ts';
import type { NemesisContext } from './nemesis.ts';

/** A node that "panics" when traffic reaches an armed failpoint: `reached` says which failpoints the traffic hits. */
type FailpointNode = FakeNode & { armed: Map<string, string> };

function failpointNode(id: string, reached: ReadonlySet<string>): FailpointNode {
  const node: FailpointNode = Object.assign(fakeNode(id), {
    armed: new Map<string, string>(),
    waitForExit: () => {
      const hit = [...node.armed.keys()].some((f) => reached.has(f));
      if (hit) node.state = 'killed';
      return Promise.resolve(hit);
    },
  });
  return node;
}

function context(nodes: FailpointNode[], has: readonly string[], seed = 7, leader: string | null = null, named = false, extra: Partial<FailpointControl> = {}): NemesisContext & { downs: string[] } {
  const cluster = { nodes, node: (id: string) => nodes.find((n) => n.id === id), clock: realClock } as unknown as StartedCluster;
  const control: FailpointControl = {
    named,
    available: () => Promise.resolve(has),
    arm: (node, name, action) => Promise.resolve(void (node as FailpointNode).armed.set(name, action)),
    disarm: (node, name) => Promise.resolve(void (node as FailpointNode).armed.delete(name)),
    ...extra,
  };
  const system = { system: { name: 'fake' }, failpoints: control } as unknown as PreparedSystem;
  const downs: string[] = [];
  return { cluster, system, rng: new Rng(seed), clusterSecret: 's', nodeDown: (id) => downs.push(id), log: () => {}, leader: () => Promise.resolve(leader), downs };
}

describe('failpoint nemesis', () => {
  it('arms a panic failpoint the node has; when traffic reaches it the node is down, and stop restarts it', async () => {
    const n1 = failpointNode('n1', new Set(['raftBeforeSave']));
    const ctx = context([n1], ['raftBeforeSave', 'someOtherPoint']);
    const nemesis = failpointNemesis({ sleepMs: 0 });
    const started = await nemesis.start(ctx);
    expect(started).toMatchObject({ node: 'n1', failpoint: 'raftBeforeSave', action: 'panic', triggered: true });
    expect(n1.armed.get('raftBeforeSave')).toBe('panic');
    expect(ctx.downs).toEqual(['n1']);
    expect(n1.state).toBe('killed');
    expect(await nemesis.stop(ctx)).toEqual({ restarted: ['n1'] });
    expect(n1.state).toBe('running');
    expect(n1.starts).toBe(1);
  });

  it('disarms a failpoint the traffic never reached, and then has nothing to restart', async () => {
    const n1 = failpointNode('n1', new Set());
    const ctx = context([n1], ['beforeCommit']);
    const nemesis = failpointNemesis({ triggerTimeoutMs: 1, sleepMs: 0 });
    expect(await nemesis.start(ctx)).toMatchObject({ node: 'n1', failpoint: 'beforeCommit', triggered: false });
    expect(n1.armed.size).toBe(0);
    expect(ctx.downs).toEqual([]);
    expect(await nemesis.stop(ctx)).toEqual({ restarted: [] });
    expect(n1.starts).toBe(0);
  });

  it('says so, and arms nothing, when the node offers no failpoint it knows', async () => {
    const n1 = failpointNode('n1', new Set(['labelRaftDropHeartbeat']));
    const ctx = context([n1], ['labelRaftDropHeartbeat']);
    expect(await failpointNemesis().start(ctx)).toEqual({ skipped: 'no failpoint to arm (the nodes offer: labelRaftDropHeartbeat)' });
    expect(n1.armed.size).toBe(0);
  });

  it("arms a role's own failpoint on a node in that role (the leader's send on the leader, the followers' on a follower)", async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const nodes = ['n1', 'n2', 'n3'].map((id) => failpointNode(id, new Set()));
      const leaderSend = await failpointNemesis({ triggerTimeoutMs: 1 }).start(context(nodes, ['raftBeforeLeaderSend'], seed, 'n2'));
      expect(leaderSend).toMatchObject({ node: 'n2', failpoint: 'raftBeforeLeaderSend' });
      const followerSend = (await failpointNemesis({ triggerTimeoutMs: 1 }).start(context(nodes, ['raftBeforeFollowerSend'], seed, 'n2'))) as { node: string };
      expect(['n1', 'n3']).toContain(followerSend.node);
    }
  });

  it('one fault in three sleeps instead: the member stays up, slow at that point, until stop disarms it', async () => {
    const actions: string[] = [];
    for (let seed = 1; seed <= 30; seed++) {
      const n1 = failpointNode('n1', new Set(['raftBeforeSave']));
      const ctx = context([n1], ['raftBeforeSave'], seed);
      const nemesis = failpointNemesis({ triggerTimeoutMs: 1, sleepMs: 250 });
      const started = (await nemesis.start(ctx)) as { action: string };
      actions.push(started.action);
      if (started.action !== 'sleep(250)') continue;
      expect(started).toEqual({ node: 'n1', failpoint: 'raftBeforeSave', action: 'sleep(250)' });
      expect(n1.armed.get('raftBeforeSave')).toBe('sleep(250)');
      expect(n1.state).toBe('running');
      expect(ctx.downs).toEqual([]);
      expect(await nemesis.stop(ctx)).toEqual({ disarmed: { node: 'n1', failpoint: 'raftBeforeSave' } });
      expect(n1.armed.size).toBe(0);
    }
    const sleeps = actions.filter((a) => a === 'sleep(250)').length;
    expect(sleeps).toBeGreaterThan(3);
    expect(sleeps).toBeLessThan(20);
    expect(actions.filter((a) => a === 'panic').length).toBe(30 - sleeps);
    // --knob failpointSleepMs=0: panics only.
    const [panicsOnly] = parseNemeses('failpoint', parseKnobs(['failpointSleepMs=0']));
    for (let seed = 1; seed <= 10; seed++) expect(await panicsOnly!.start(context([failpointNode('n1', new Set())], ['raftAfterSave'], seed))).toMatchObject({ action: 'panic' });
  });

  it('draws failpoints ordinary traffic never reaches (snapshots, defragmentation) only when the user named them', async () => {
    const has = ['raftBeforeApplySnap', 'defragBeforeCopy'];
    expect(await failpointNemesis().start(context([failpointNode('n1', new Set())], has))).toEqual({ skipped: 'no failpoint to arm (the nodes offer: raftBeforeApplySnap, defragBeforeCopy)' });
    expect(await failpointNemesis({ triggerTimeoutMs: 1 }).start(context([failpointNode('n1', new Set())], has, 7, null, true))).toMatchObject({ triggered: false });
  });

  it("draws one traffic never reaches when the system can trigger it, and runs the trigger once it is armed (etcd: a defrag for defrag*)", async () => {
    // The node reaches defragBeforeCopy only if the trigger ran while it was armed.
    const n1 = failpointNode('n1', new Set());
    const calls: string[] = [];
    let defragmented = false;
    n1.waitForExit = () => {
      const hit = defragmented && n1.armed.get('defragBeforeCopy') === 'panic';
      if (hit) n1.state = 'killed';
      return Promise.resolve(hit);
    };
    const triggerFor: FailpointControl['triggerFor'] = (name) =>
      name.startsWith('defrag')
        ? (node, timeoutMs) => {
            calls.push(`${node.id} ${name} ${timeoutMs}`);
            defragmented = true;
            // The member panics in the defrag: the call fails, and says so in the op.
            return Promise.reject(new Error('14 UNAVAILABLE: Connection dropped'));
          }
        : null;
    const ctx = context([n1], ['raftBeforeApplySnap', 'defragBeforeCopy'], 7, null, false, { triggerFor });
    const started = await failpointNemesis({ sleepMs: 0, triggerTimeoutMs: 500 }).start(ctx);
    expect(started).toMatchObject({ node: 'n1', failpoint: 'defragBeforeCopy', action: 'panic', triggered: true, trigger: 'failed: 14 UNAVAILABLE: Connection dropped' });
    expect(calls).toEqual(['n1 defragBeforeCopy 500']);
    // A failpoint without a trigger is still not drawn unless named.
    const snapOnly = context([failpointNode('n1', new Set())], ['raftBeforeApplySnap'], 7, null, false, { triggerFor });
    expect(await failpointNemesis().start(snapOnly)).toMatchObject({ skipped: expect.stringContaining('no failpoint to arm') as unknown });
  });

  it('--knob failpointWaitMs is how long an armed failpoint waits for traffic (100..600000 ms)', async () => {
    const n1 = failpointNode('n1', new Set());
    const waited: number[] = [];
    n1.waitForExit = (ms: number) => Promise.resolve(void waited.push(ms)).then(() => false);
    const [nemesis] = parseNemeses('failpoint', parseKnobs(['failpointWaitMs=1234']));
    await nemesis!.start(context([n1], ['raftAfterSave']));
    expect(waited[0]).toBe(1234);
    expect(() => parseKnobs(['failpointWaitMs=50'])).toThrow(/failpointWaitMs: expected a number in 100\.\.600000/);
  });

  it('draws node and failpoint from the seed: the same seed the same choice', async () => {
    const draw = async (seed: number): Promise<unknown> => {
      const nodes = ['n1', 'n2', 'n3'].map((id) => failpointNode(id, new Set()));
      return failpointNemesis({ triggerTimeoutMs: 1 }).start(context(nodes, PANIC_FAILPOINTS, seed));
    };
    const draws = await Promise.all([1, 2, 3, 4, 5, 6].map(draw));
    expect(await Promise.all([1, 2, 3, 4, 5, 6].map(draw))).toEqual(draws);
    expect(new Set(draws.map((d) => JSON.stringify(d))).size).toBeGreaterThan(1);
  });
});
