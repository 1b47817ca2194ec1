/**
 * Network faults, all through Toxiproxy (every ordered pair of nodes has its own proxy, so
 * any single direction of any link can be cut or degraded). Stopping any of them heals
 * every link, so faults never leak into the next period.
 */
import type { Rng } from '../rng.ts';
import type { Link, LinkToxic, NodeId } from '../runtime/runtime.ts';
import type { Nemesis, NemesisContext } from './nemesis.ts';

/** Cut every link between nodes in different groups, both directions. */
export async function cutBetween(ctx: NemesisContext, groups: readonly (readonly NodeId[])[]): Promise<Link[]> {
  const cut: Link[] = [];
  for (let i = 0; i < groups.length; i++) {
    for (let j = 0; j < groups.length; j++) {
      if (i === j) continue;
      for (const from of groups[i] ?? []) for (const to of groups[j] ?? []) cut.push({ from, to });
    }
  }
  await Promise.all(cut.map((l) => ctx.cluster.network.cut(l)));
  return cut;
}

function ids(ctx: NemesisContext): NodeId[] {
  return ctx.cluster.nodes.map((n) => n.id);
}

/** Split into a random minority and majority (Jepsen's `partition-random-halves`). */
export function randomHalves(rng: Rng, nodes: readonly NodeId[]): [NodeId[], NodeId[]] {
  const s = rng.shuffle(nodes);
  const k = Math.floor(nodes.length / 2);
  return [s.slice(0, k).sort(), s.slice(k).sort()];
}

async function healed(ctx: NemesisContext): Promise<unknown> {
  await ctx.cluster.network.healAll();
  return 'network healed';
}

export const partition: Nemesis = {
  name: 'partition',
  async start(ctx) {
    const [minority, majority] = randomHalves(ctx.rng, ids(ctx));
    await cutBetween(ctx, [minority, majority]);
    return { minority, majority };
  },
  stop: healed,
};

/**
 * Every node sees a majority, but no two nodes see the same majority (Jepsen's
 * `partition-majorities-ring`): on a shuffled ring each node keeps the links to its nearest
 * neighbours on both sides.
 */
export function majoritiesRing(rng: Rng, nodes: readonly NodeId[]): Map<NodeId, NodeId[]> {
  const ring = rng.shuffle(nodes);
  const n = ring.length;
  const majority = Math.floor(n / 2) + 1;
  const reach = Math.ceil((majority - 1) / 2);
  const view = new Map<NodeId, NodeId[]>();
  ring.forEach((id, i) => {
    const seen: NodeId[] = [];
    for (let d = -reach; d <= reach; d++) if (d !== 0) seen.push(ring[(((i + d) % n) + n) % n] as NodeId);
    view.set(id, [...new Set(seen)].sort());
  });
  return view;
}

export const partitionMajoritiesRing: Nemesis = {
  name: 'partition-majorities-ring',
  async start(ctx) {
    const view = majoritiesRing(ctx.rng, ids(ctx));
    const cuts: Link[] = [];
    for (const [from, seen] of view) for (const to of ids(ctx)) if (to !== from && !seen.includes(to)) cuts.push({ from, to });
    await Promise.all(cuts.map((l) => ctx.cluster.network.cut(l)));
    return { sees: Object.fromEntries(view) };
  },
  stop: healed,
};

/** Two halves joined only through one bridge node (Jepsen's `bridge`). */
export const bridge: Nemesis = {
  name: 'bridge',
  async start(ctx) {
    const s = ctx.rng.shuffle(ids(ctx));
    const bridgeNode = s[0] as NodeId;
    const rest = s.slice(1);
    const half = Math.ceil(rest.length / 2);
    const a = rest.slice(0, half).sort();
    const b = rest.slice(half).sort();
    await cutBetween(ctx, [a, b]);
    return { bridge: bridgeNode, sides: [a, b] };
  },
  stop: healed,
};

export const isolateLeader: Nemesis = {
  name: 'isolate-leader',
  async start(ctx) {
    const leader = (await ctx.leader()) ?? ctx.rng.pick(ids(ctx));
    const others = ids(ctx).filter((x) => x !== leader);
    await cutBetween(ctx, [[leader], others]);
    return { isolated: leader, others };
  },
  stop: healed,
};

/** One node's outbound (or inbound) links cut while the other direction flows. */
export const partitionOneWay: Nemesis = {
  name: 'partition-one-way',
  async start(ctx) {
    const node = ctx.rng.pick(ids(ctx));
    const direction = ctx.rng.next() < 0.5 ? 'outbound' : 'inbound';
    const others = ids(ctx).filter((x) => x !== node);
    const links = others.map((o) => (direction === 'outbound' ? { from: node, to: o } : { from: o, to: node }));
    await Promise.all(links.map((l) => ctx.cluster.network.cut(l)));
    return { node, direction, cut: links.map((l) => `${l.from}->${l.to}`) };
  },
  stop: healed,
};

function toxicNemesis(name: string, make: (rng: Rng) => LinkToxic[], fraction: number): Nemesis {
  return {
    name,
    async start(ctx) {
      const all: Link[] = [];
      for (const from of ids(ctx)) for (const to of ids(ctx)) if (from !== to) all.push({ from, to });
      const chosen = fraction >= 1 ? all : ctx.rng.shuffle(all).slice(0, Math.max(1, Math.round(all.length * fraction)));
      const toxics = make(ctx.rng);
      for (const l of chosen) for (const [i, t] of toxics.entries()) await ctx.cluster.network.addToxic(l, `${name}-${i}`, t);
      return { links: chosen.map((l) => `${l.from}->${l.to}`), toxics };
    },
    stop: healed,
  };
}

export interface NetworkKnobs {
  /** latency: base delay and jitter in ms (default 50 ± 25). */
  readonly latencyMs: number;
  readonly jitterMs: number;
  /** slow: bandwidth in KB/s (default 64) and slicer packet size (default 64 bytes). */
  readonly rateKBps: number;
  readonly sliceBytes: number;
  /** flaky: fraction of links affected (default 0.5) and of connections reset (default 0.3). */
  readonly flakyLinks: number;
  readonly flakyToxicity: number;
}

export const DEFAULT_NETWORK_KNOBS: NetworkKnobs = { latencyMs: 50, jitterMs: 25, rateKBps: 64, sliceBytes: 64, flakyLinks: 0.5, flakyToxicity: 0.3 };

export function networkNemeses(k: NetworkKnobs = DEFAULT_NETWORK_KNOBS): Nemesis[] {
  return [
    partition,
    partitionMajoritiesRing,
    bridge,
    isolateLeader,
    partitionOneWay,
    toxicNemesis('latency', () => [{ type: 'latency', latencyMs: k.latencyMs, jitterMs: k.jitterMs }], 1),
    toxicNemesis(
      'slow',
      () => [
        { type: 'bandwidth', rateKBps: k.rateKBps },
        { type: 'slicer', averageSize: k.sliceBytes, sizeVariation: Math.floor(k.sliceBytes / 2), delayUs: 500 },
      ],
      1,
    ),
    toxicNemesis(
      'flaky',
      (rng) => [rng.next() < 0.5 ? { type: 'reset_peer', timeoutMs: 200, toxicity: k.flakyToxicity } : { type: 'timeout', timeoutMs: 500, toxicity: k.flakyToxicity }],
      k.flakyLinks,
    ),
  ];
}
