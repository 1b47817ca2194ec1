/**
 * The `failpoint` nemesis: crash a node at an exact point in its code, as etcd's robustness
 * tests do with gofail (tests/robustness/failpoint): arm a failpoint with `panic` on one node,
 * wait (bounded) until traffic reaches it and the process dies there, and bring the node back
 * when the fault stops. A kill lands anywhere; a failpoint lands between two steps that must
 * not be separated by a crash — after a write was acknowledged and before it was saved
 * (etcd#14370: `raftBeforeSave` on a one-member cluster loses acknowledged writes), between
 * the backend's commit and the consistent index (`beforeCommit`, `afterCommit`), around
 * snapshots. One fault in three arms `sleep(ms)` instead: the member stays up, slow at that
 * point, until the fault stops.
 *
 * Which failpoint: the system lists what the node's binary has (narrowed by the user: etcd's
 * `--system-option failpoints=a,b`); the nemesis draws one of those that is also in
 * PANIC_FAILPOINTS, and not in NEEDS_A_TRIGGER unless named or the system can trigger it, from
 * the seed. For one ordinary traffic does not reach, the system's trigger runs right after
 * arming (etcd: a defragmentation of that member for `defrag*`). A failpoint not reached within
 * `triggerTimeoutMs` is disarmed again and the op says `triggered: false`.
 */
import type { NodeHandle, NodeId } from '../runtime/runtime.ts';
import type { FailpointControl } from '../systems/system.ts';
import type { Nemesis, NemesisContext } from './nemesis.ts';

/**
 * Failpoints worth a panic, in the order drawn from: where a crash splits something a restart
 * must make whole again.
 */
export const PANIC_FAILPOINTS: readonly string[] = [
  'raftBeforeSave',
  'raftAfterSave',
  'beforeCommit',
  'afterCommit',
  'raftBeforeLeaderSend',
  'raftBeforeFollowerSend',
  'raftBeforeSaveSnap',
  'raftAfterSaveSnap',
  'raftBeforeApplySnap',
  'raftAfterApplySnap',
  'raftAfterWALRelease',
  'raftBeforeWALSaveSnaphot',
  'defragBeforeCopy',
  'defragBeforeRename',
  // In a compaction (mvcc; 3.5.14+ has the first, 3.6 all): between its batches and the
  // revision it records as finished (etcd#17780, #19179 were crashes here).
  'compactBeforeSetFinishedCompact',
  'compactAfterSetFinishedCompact',
  'compactBeforeCommitScheduledCompact',
  'compactAfterCommitScheduledCompact',
  'compactBeforeCommitBatch',
  'compactAfterCommitBatch',
  // 3.6 names of the backend's hooks.
  'commitBeforePreCommitHook',
  'commitAfterPreCommitHook',
  'beforeStartDBTxn',
  'afterStartDBTxn',
  'beforeWritebackBuf',
  'afterWritebackBuf',
];

/**
 * Failpoints ordinary traffic never reaches: the snapshot ones run on a member receiving a
 * snapshot from the leader (one that fell behind the leader's compacted log), the
 * defragmentation ones during a defrag, the compaction ones during a compaction. Drawn only
 * when named (`failpoints=`) or when the system has a trigger for them
 * (FailpointControl.triggerFor); otherwise they only used up fault windows (7 of 30 draws in
 * the first exploration runs).
 */
export const NEEDS_A_TRIGGER: ReadonlySet<string> = new Set([
  'raftBeforeSaveSnap',
  'raftAfterSaveSnap',
  'raftBeforeApplySnap',
  'raftAfterApplySnap',
  'raftAfterWALRelease',
  'defragBeforeCopy',
  'defragBeforeRename',
  ...PANIC_FAILPOINTS.filter((f) => f.startsWith('compact')),
]);

/** Failpoints only one role reaches (etcdserver/raft.go): armed elsewhere they would wait in vain. */
const ROLE_OF_FAILPOINT: Readonly<Record<string, 'leader' | 'follower'>> = { raftBeforeLeaderSend: 'leader', raftBeforeFollowerSend: 'follower' };

export interface FailpointOptions {
  /** How long an armed failpoint may wait for traffic to reach it. Default 10 s. */
  readonly triggerTimeoutMs?: number;
  /**
   * One fault in three, instead of a panic, the failpoint sleeps this long each time it is
   * reached, until the fault stops: one slow member (a slow fsync with `raftBeforeSave`, a slow
   * backend commit with `beforeCommit`), as etcd's robustness tests' sleep failpoints. 0: panics
   * only. Default 100 ms.
   */
  readonly sleepMs?: number;
  /** Timeout of each call to the node's failpoint endpoint. Default 3 s. */
  readonly callTimeoutMs?: number;
}

function control(ctx: NemesisContext): FailpointControl {
  const c = ctx.system.failpoints;
  if (c === undefined) throw new Error(`${ctx.system.system.name} was not started with failpoints`);
  return c;
}

export function failpointNemesis(options: FailpointOptions = {}): Nemesis {
  const triggerTimeoutMs = options.triggerTimeoutMs ?? 10_000;
  const callTimeoutMs = options.callTimeoutMs ?? 3_000;
  const sleepMs = options.sleepMs ?? 100;
  let crashed: NodeId | null = null;
  let sleeping: { readonly node: NodeId; readonly failpoint: string } | null = null;
  return {
    name: 'failpoint',
    requires: ['failpoints'],
    async start(ctx: NemesisContext) {
      const fp = control(ctx);
      const running = ctx.cluster.nodes.filter((n) => n.state === 'running');
      if (running.length === 0) return { skipped: 'no running node' };
      // Every member runs the same build: what one offers, all do.
      const has = new Set(await fp.available(ctx.rng.pick(running), callTimeoutMs));
      const candidates = PANIC_FAILPOINTS.filter((f) => has.has(f) && (fp.named || !NEEDS_A_TRIGGER.has(f) || (fp.triggerFor?.(f) ?? null) !== null));
      if (candidates.length === 0) return { skipped: `no failpoint to arm (the nodes offer: ${[...has].join(', ') || 'none'})` };
      const failpoint = ctx.rng.pick(candidates);
      // A role's own failpoint goes to a node in that role; any other, half the time to the
      // leader (the write path reaches it there first), else to any node.
      const role = ROLE_OF_FAILPOINT[failpoint];
      const leader = role !== undefined || ctx.rng.int(2) === 0 ? await ctx.leader() : null;
      const followers = running.filter((n) => n.id !== leader);
      let target: NodeHandle;
      if (role === 'follower') target = followers.length > 0 ? ctx.rng.pick(followers) : ctx.rng.pick(running);
      else target = running.find((n) => n.id === leader) ?? ctx.rng.pick(running);
      // What makes the node reach it, when traffic does not: started once it is armed, not awaited
      // (a panic there cuts it off); what it did goes into the op.
      const trigger = fp.triggerFor?.(failpoint) ?? null;
      const pull = (): Promise<string> | null => (trigger === null ? null : trigger(target, triggerTimeoutMs).catch((e: unknown) => `failed: ${e instanceof Error ? e.message : String(e)}`));
      if (sleepMs > 0 && ctx.rng.int(3) === 0) {
        const action = `sleep(${sleepMs})`;
        await fp.arm(target, failpoint, action, callTimeoutMs);
        sleeping = { node: target.id, failpoint };
        const pulled = pull();
        return { node: target.id, failpoint, action, ...(pulled !== null ? { trigger: await pulled } : {}) };
      }
      await fp.arm(target, failpoint, 'panic', callTimeoutMs);
      const clock = ctx.cluster.clock;
      const armedAt = clock.now();
      const pulled = pull();
      const exitedWithin = async (ms: number): Promise<boolean> => target.waitForExit !== undefined && (await target.waitForExit(ms));
      let triggered = await exitedWithin(triggerTimeoutMs);
      if (!triggered) {
        await fp.disarm(target, failpoint, callTimeoutMs).catch(() => {});
        // Reached between the wait and the disarm: it crashed all the same.
        triggered = await exitedWithin(0);
      }
      const by = pulled !== null ? { trigger: await pulled } : {};
      if (triggered) {
        crashed = target.id;
        ctx.nodeDown(target.id);
        return { node: target.id, failpoint, action: 'panic', triggered: true, afterMs: Math.round(clock.now() - armedAt), ...by };
      }
      return { node: target.id, failpoint, action: 'panic', triggered: false, waitedMs: triggerTimeoutMs, ...by };
    },
    async stop(ctx: NemesisContext) {
      const slow = sleeping;
      sleeping = null;
      if (slow !== null) {
        const node = ctx.cluster.node(slow.node);
        // A member restarted meanwhile (another nemesis) lost its armed failpoints already.
        if (node.state === 'running') await control(ctx).disarm(node, slow.failpoint, callTimeoutMs).catch(() => {});
        return { disarmed: { node: slow.node, failpoint: slow.failpoint } };
      }
      const id = crashed;
      crashed = null;
      if (id === null) return { restarted: [] };
      const node = ctx.cluster.node(id);
      if (node.state === 'killed') await node.start();
      return { restarted: [id] };
    },
  };
}
