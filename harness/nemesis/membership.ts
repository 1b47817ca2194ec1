/**
 * Membership change through the system's membership hook: ask the leader to remove a node,
 * later to add it back (the store: it rejoins as a learner and is promoted once caught up,
 * impl/API.md). Raft thesis §4: one change at a time, so a stop waits for the removal to
 * have answered.
 */
import type { NodeId } from '../runtime/runtime.ts';
import type { MembershipHook } from '../systems/system.ts';
import type { Nemesis, NemesisContext } from './nemesis.ts';

function hookOf(ctx: NemesisContext): MembershipHook {
  const hook = ctx.system.membership;
  if (hook === undefined) throw new Error(`${ctx.system.system.name} has no membership hook`);
  return hook;
}

export function membershipNemesis(): Nemesis {
  let removed: NodeId | null = null;
  return {
    name: 'membership',
    requires: ['membership'],
    async start(ctx) {
      const leader = await ctx.leader();
      if (leader === null) return { skipped: 'no leader' };
      const candidates = ctx.cluster.nodes.map((n) => n.id).filter((id) => id !== leader);
      const target = ctx.rng.pick(candidates);
      const out = await hookOf(ctx).remove(ctx.cluster, ctx.cluster.node(leader), target);
      if (out.ok) removed = target;
      return { remove: target, via: leader, result: out.detail };
    },
    async stop(ctx) {
      if (removed === null) return { added: null };
      const target = removed;
      // Retry for a little while: right after a removal the leader may still be committing it.
      let last: unknown = 'no leader';
      for (let attempt = 0; attempt < 10; attempt++) {
        const leader = await ctx.leader();
        if (leader !== null) {
          const out = await hookOf(ctx).add(ctx.cluster, ctx.cluster.node(leader), target);
          if (out.ok) {
            removed = null;
            return { add: target, via: leader, result: out.detail };
          }
          last = out.detail;
        }
        await ctx.cluster.clock.sleep(500);
      }
      return { add: target, failed: last };
    },
  };
}
