/**
 * Clock faults through the node's fault-injection endpoint (`POST /v1/test/clock`, nodes
 * started with `--enable-fault-injection`): skew one node's clock by a fixed offset, or
 * strobe it back and forth. Stop sets every node's offset back to zero.
 */
import { call } from '../store-http.ts';
import type { Nemesis, NeedsFaultInjection } from './nemesis.ts';

export interface ClockKnobs {
  /** Largest skew in ms, either direction (default 2000). */
  readonly maxSkewMs: number;
}

export function clockNemesis(k: ClockKnobs = { maxSkewMs: 2000 }): Nemesis & NeedsFaultInjection {
  return {
    name: 'clock',
    needsFaultInjection: true,
    async start(ctx) {
      const node = ctx.rng.pick(ctx.cluster.nodes.map((n) => n.id));
      const strobe = ctx.rng.next() < 0.3;
      const body = strobe
        ? { strobeMs: 1 + ctx.rng.int(k.maxSkewMs), periodMs: 10 + ctx.rng.int(90), durationMs: 5000 }
        : { offsetMs: (ctx.rng.next() < 0.5 ? -1 : 1) * (1 + ctx.rng.int(k.maxSkewMs)) };
      const out = await call(ctx.cluster.node(node).clientUrl, '/v1/test/clock', {
        method: 'POST',
        body,
        headers: { 'x-cluster-secret': ctx.clusterSecret },
        timeoutMs: 3000,
      });
      return { node, ...body, result: out.kind === 'ok' ? 'ok' : out.code };
    },
    async stop(ctx) {
      const reset = await Promise.all(
        ctx.cluster.nodes
          .filter((n) => n.state === 'running')
          .map(async (n) => {
            const out = await call(n.clientUrl, '/v1/test/clock', {
              method: 'POST',
              body: { offsetMs: 0 },
              headers: { 'x-cluster-secret': ctx.clusterSecret },
              timeoutMs: 3000,
            });
            return [n.id, out.kind === 'ok' ? 'ok' : out.code] as const;
          }),
      );
      return { reset: Object.fromEntries(reset) };
    },
  };
}
