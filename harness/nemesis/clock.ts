/**
 * Clock faults through the system's clock hook (the store: `POST /v1/test/clock`, nodes
 * started with `--enable-fault-injection`): skew one node's clock by a fixed offset, or strobe
 * it back and forth. Stop sets every node's offset back to zero.
 */
import type { ClockChange } from '../systems/system.ts';
import type { Nemesis } from './nemesis.ts';

export interface ClockKnobs {
  /** Largest skew in ms, either direction (default 2000). */
  readonly maxSkewMs: number;
}

export function clockNemesis(k: ClockKnobs = { maxSkewMs: 2000 }): Nemesis {
  return {
    name: 'clock',
    requires: ['clock'],
    async start(ctx) {
      const hook = ctx.system.clock;
      if (hook === undefined) throw new Error(`${ctx.system.system.name} has no clock hook`);
      const node = ctx.rng.pick(ctx.cluster.nodes.map((n) => n.id));
      const strobe = ctx.rng.next() < 0.3;
      const change: ClockChange = strobe
        ? { strobeMs: 1 + ctx.rng.int(k.maxSkewMs), periodMs: 10 + ctx.rng.int(90), durationMs: 5000 }
        : { offsetMs: (ctx.rng.next() < 0.5 ? -1 : 1) * (1 + ctx.rng.int(k.maxSkewMs)) };
      const result = await hook.set(ctx.cluster.node(node), change, ctx.cluster);
      return { node, ...change, result };
    },
    async stop(ctx) {
      const hook = ctx.system.clock;
      if (hook === undefined) throw new Error(`${ctx.system.system.name} has no clock hook`);
      const reset = await Promise.all(
        ctx.cluster.nodes.filter((n) => n.state === 'running').map(async (n) => [n.id, await hook.set(n, { offsetMs: 0 }, ctx.cluster)] as const),
      );
      return { reset: Object.fromEntries(reset) };
    },
  };
}
