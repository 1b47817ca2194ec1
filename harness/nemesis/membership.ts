/**
 * Membership change: ask the leader to remove a node, later to add it back (it rejoins as
 * a learner and is promoted once caught up, impl/API.md). Raft thesis §4: one change at a
 * time, so a stop waits for the removal to have answered.
 */
import { call } from '../store-http.ts';
import type { NodeId } from '../runtime/runtime.ts';
import type { Nemesis, NemesisContext } from './nemesis.ts';

async function leaderUrl(ctx: NemesisContext): Promise<{ id: NodeId; url: string } | null> {
  const id = await ctx.leader();
  return id === null ? null : { id, url: ctx.cluster.node(id).clientUrl };
}

export function membershipNemesis(): Nemesis {
  let removed: NodeId | null = null;
  return {
    name: 'membership',
    async start(ctx) {
      const leader = await leaderUrl(ctx);
      if (leader === null) return { skipped: 'no leader' };
      const candidates = ctx.cluster.nodes.map((n) => n.id).filter((id) => id !== leader.id);
      const target = ctx.rng.pick(candidates);
      const out = await call(leader.url, '/v1/members/remove', { method: 'POST', body: { id: target }, timeoutMs: 5000 });
      if (out.kind === 'ok') removed = target;
      return { remove: target, via: leader.id, result: out.kind === 'ok' ? out.body : out.code };
    },
    async stop(ctx) {
      if (removed === null) return { added: null };
      const target = removed;
      // Retry for a little while: right after a removal the leader may still be committing it.
      let last = 'no leader';
      for (let attempt = 0; attempt < 10; attempt++) {
        const leader = await leaderUrl(ctx);
        if (leader !== null) {
          const out = await call(leader.url, '/v1/members/add', { method: 'POST', body: { id: target }, timeoutMs: 5000 });
          if (out.kind === 'ok') {
            removed = null;
            return { add: target, via: leader.id, result: out.body };
          }
          last = out.code;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
      return { add: target, failed: last };
    },
  };
}
