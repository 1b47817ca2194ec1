/**
 * Randomized membership changes (the seeded simulator in ./testing/ covers elections,
 * replication, crashes, snapshots and reads; it does not change membership). Each seed
 * runs a schedule of ticks, lossy deliveries, partitions, restarts, proposals and
 * add-learner / promote / remove changes, checking after every step:
 *  - at most one leader per term (election safety),
 *  - every node applies the same entry at each index (state machine safety),
 *  - after healing, a leader is elected and commits a proposal (liveness).
 * RAFT_MEMBERSHIP_SEEDS=N runs N seeds (default 150).
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from './memory-storage.ts';
import { SeededRng } from './rng.ts';
import { TestCluster, data } from './test-cluster.ts';
import type { ConfChange, Entry, NodeId } from './types.ts';
import { ProposalDropped, nodeId } from './types.ts';

const seeds = Number(process.env['RAFT_MEMBERSHIP_SEEDS'] ?? '150');
const firstSeed = Number(process.env['RAFT_MEMBERSHIP_FIRST_SEED'] ?? '1');

function pick<T>(rng: SeededRng, xs: readonly T[]): T | undefined {
  return xs.length === 0 ? undefined : xs[rng.nextInt(xs.length)];
}

function runSchedule(seed: number, steps: number): { changes: number; commits: number } {
  const rng = new SeededRng(seed);
  const c = new TestCluster(['n1', 'n2', 'n3'], { electionTicks: 10, heartbeatTicks: 2 });
  const dec = new TextDecoder();
  const globalApplied = new Map<number, string>();
  const cursors = new Map<NodeId, number>();
  const leaderOfTerm = new Map<number, NodeId>();
  let nextSpare = 4;
  let changes = 0;
  let proposals = 0;
  const trace: string[] = [];

  const fail = (why: string): never => {
    throw new Error(`seed ${seed}: ${why}\nlast steps:\n  ${trace.slice(-25).join('\n  ')}`);
  };

  const check = (): void => {
    for (const [id, node] of c.nodes) {
      const s = node.softState();
      if (s.role === 'leader') {
        const other = leaderOfTerm.get(s.term);
        if (other !== undefined && other !== id) fail(`two leaders in term ${s.term}: ${other} and ${id}`);
        leaderOfTerm.set(s.term, id);
      }
      const applied = c.applied.get(id) as Entry[];
      for (let i = cursors.get(id) ?? 0; i < applied.length; i++) {
        const e = applied[i] as Entry;
        const key = `${e.term}/${e.type}/${dec.decode(e.data)}`;
        const seen = globalApplied.get(e.index);
        if (seen === undefined) globalApplied.set(e.index, key);
        else if (seen !== key) fail(`${id} applied ${key} at ${e.index}, another node applied ${seen}`);
      }
      cursors.set(id, applied.length);
    }
  };

  const leader = (): NodeId | undefined => c.leaders().at(-1);

  for (let step = 0; step < steps; step++) {
    const r = rng.nextInt(100);
    const ids = [...c.nodes.keys()];
    if (r < 35) {
      const id = pick(rng, ids) as NodeId;
      trace.push(`tick ${id}`);
      c.tick(id);
    } else if (r < 60) {
      // Deliver what is queued, losing about one message in ten.
      trace.push('deliver (lossy)');
      c.drop = () => rng.nextInt(10) === 0;
      for (const id of ids) c.processReady(id);
      c.deliverAll();
      c.drop = () => false;
    } else if (r < 70) {
      const l = leader();
      if (l !== undefined) {
        try {
          c.node(l).propose(data(`v${proposals}`));
          trace.push(`propose v${proposals} on ${l}`);
          proposals++;
        } catch (err) {
          if (!(err instanceof ProposalDropped)) throw err;
        }
      }
    } else if (r < 78) {
      const l = leader();
      if (l !== undefined) {
        const conf = c.node(l).confState();
        const kind = rng.nextInt(3);
        let change: ConfChange | undefined;
        if (kind === 0 && nextSpare <= 8) {
          change = { type: 'add-learner', node: nodeId(`n${nextSpare}`) };
        } else if (kind === 1) {
          const learner = pick(rng, conf.learners);
          if (learner !== undefined) change = { type: 'promote', node: learner };
        } else {
          const member = pick(rng, [...conf.voters, ...conf.learners]);
          if (member !== undefined) change = { type: 'remove', node: member };
        }
        if (change !== undefined) {
          try {
            c.node(l).proposeMembershipChange(change);
            trace.push(`propose ${change.type} ${change.node} on ${l}`);
            changes++;
            if (change.type === 'add-learner') {
              c.addNode(change.node, new MemoryStorage());
              nextSpare++;
            }
          } catch (err) {
            if (!(err instanceof ProposalDropped)) throw err;
          }
        }
      }
    } else if (r < 84) {
      if (c.cut.size > 0 && rng.nextInt(2) === 0) {
        trace.push('heal');
        c.heal();
      } else {
        const id = pick(rng, ids) as NodeId;
        trace.push(`isolate ${id}`);
        c.isolate(id);
      }
    } else if (r < 87) {
      // Crash and restart: the node keeps only its storage; its state machine is rebuilt
      // by re-applying from the snapshot (the whole log here).
      const id = pick(rng, ids) as NodeId;
      trace.push(`restart ${id}`);
      c.queue = c.queue.filter((m) => m.to !== id && m.from !== id);
      c.addNode(id, c.storage(id));
      cursors.set(id, 0);
    } else {
      trace.push('stabilize');
      c.stabilize();
    }
    check();
  }

  // Liveness: heal everything, then a leader must emerge and commit.
  c.heal();
  let committed = false;
  for (let round = 0; round < 400 && !committed; round++) {
    c.tickAll();
    c.stabilize();
    check();
    const l = leader();
    if (l === undefined) continue;
    try {
      c.node(l).propose(data('final'));
    } catch (err) {
      if (!(err instanceof ProposalDropped)) throw err;
      continue;
    }
    for (let i = 0; i < 20; i++) {
      c.tickAll();
      c.stabilize();
    }
    check();
    committed = c.appliedData(l).includes('final');
  }
  if (!committed) {
    const state = [...c.nodes].map(([id, n]) => {
      const conf = n.confState();
      return `${id}: ${JSON.stringify(n.softState())} voters=${conf.voters.join(',')} learners=${conf.learners.join(',')} ${JSON.stringify(n.progress())}`;
    });
    fail(`no leader committed a proposal within 400 rounds after healing\n  ${state.join('\n  ')}`);
  }
  return { changes, commits: globalApplied.size };
}

describe('randomized membership changes', () => {
  it(`keeps one leader per term and one entry per index across ${seeds} seeded schedules with add/promote/remove`, () => {
    let changes = 0;
    for (let seed = firstSeed; seed < firstSeed + seeds; seed++) changes += runSchedule(seed, 300).changes;
    // The schedules did change membership, a lot.
    expect(changes).toBeGreaterThan(seeds);
  });
});
