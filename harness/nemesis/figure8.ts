/**
 * `figure-8`: drives a Raft cluster through the sequence of the Raft paper's Figure 8 (§5.4.2),
 * the interleaving in which a leader that commits an entry of an earlier term by counting its
 * replicas later loses it. Random faults almost never produce it: it needs two leaders cut off
 * within one network delay of their election or first commit, and a third election steered
 * to a particular node. This nemesis does it on purpose, watching what each node reports of
 * itself (role, term, commit index; only the nodes a step watches) and acting between two polls:
 *
 *  1. every peer link gets `latencyMs` of delay, so a new leader's first appends are still in
 *     flight when the nemesis sees the election and cuts the leader off (in-flight data on a
 *     cut link is lost);
 *  2. the leader A is isolated: clients' writes still reach it and stay on it alone, uncommitted;
 *  3. when another node B is elected, B is isolated at once (its first entry stays on B alone)
 *     and A comes back as the only hub of a star: the others reach A and nobody else, so only A
 *     (whose log is the longest) can win the next election;
 *  4. when A leads again and its commit index first moves, A is isolated at once;
 *  5. B comes back as the hub of a star: B's last entry has a newer term than A's old entries,
 *     so B wins and overwrites them.
 *
 * A correct leader in step 4 commits nothing before its own new-term entry is on a majority
 * (and then B cannot win step 5), so nothing acknowledged is lost. A leader that counts
 * replicas for entries of an earlier term commits A's old entries in step 4 and answers their
 * clients; step 5 then erases acknowledged writes (the set checker's "lost", a register's
 * stale read). Whether step 4 can commit old entries without the new one depends on appends
 * being split (`--system-option max-append-bytes=256` for the store): with the whole suffix
 * in one append the new leader's no-op always rides along.
 *
 * Each step waits at most `stepMs`; a step that times out ends the script, and the faults stay
 * as they are until `stop` heals everything. Timing is exact in simulation; on containers each
 * network change is a Toxiproxy call, and the sequence depends on a cut dropping the append in
 * flight (runtime/toxiproxy-links.ts), which it does since cuts raise a passing toxic's toxicity.
 */
import type { NodeId } from '../runtime/runtime.ts';
import type { NodeStatusSample } from '../systems/system.ts';
import type { Nemesis, NemesisContext } from './nemesis.ts';

export interface Figure8Options {
  /** One-way delay added to every peer link during the script (ms). */
  readonly latencyMs: number;
  /** How often the nodes are asked for their status (ms of the run's clock). */
  readonly pollMs: number;
  /** Longest wait for each step (ms). */
  readonly stepMs: number;
}

export const DEFAULT_FIGURE8: Figure8Options = { latencyMs: 30, pollMs: 5, stepMs: 4000 };

type Statuses = Map<NodeId, NodeStatusSample>;

export function figure8Nemesis(options: Figure8Options = DEFAULT_FIGURE8): Nemesis {
  return {
    name: 'figure-8',
    minNodes: 3,
    async start(ctx) {
      const nodes = ctx.cluster.nodes.map((n) => n.id);
      const steps: string[] = [];
      const done = (why: string): unknown => ({ steps, ended: why });

      // 1-2. Slow the links, find the leader, isolate it.
      const network = new Network(ctx, nodes);
      await network.slow(options.latencyMs);
      const first = await waitFor(ctx, options, nodes, highestLeader);
      if (first === null) return done('no leader to start from');
      const a = first.id;
      await network.shape({ isolated: [a], hub: null });
      steps.push(`isolated leader ${a} (term ${first.term}, commit ${first.commit})`);

      // 3. The first other leader of a newer term: cut it off before its first append lands.
      // Any other node answering as leader while A is cut off was elected after A's term (a
      // system that reports its last applied entry's term, as etcd does, still shows A's).
      const second = await waitFor(ctx, options, nodes.filter((x) => x !== a), highestLeader);
      if (second === null) return done(`no new leader elected without ${a}`);
      const b = second.id;
      await network.shape({ isolated: [b], hub: a });
      steps.push(`isolated new leader ${b} (term ${second.term}); ${a} is the hub of the others`);

      // 4. A leads again; the moment its commit index moves, cut it off.
      const back = await waitFor(ctx, options, [a], (s) => {
        const st = s.get(a);
        return st !== undefined && st.role === 'leader' && newer(st, second.term) ? st : null;
      });
      if (back === null) return done(`${a} did not lead again`);
      steps.push(`${a} leads again (term ${back.term}, commit ${back.commit})`);
      const committed = await waitFor(ctx, options, [a], (s) => {
        const st = s.get(a);
        return st !== undefined && st.commit > back.commit ? st : null;
      });
      await network.shape({ isolated: [a], hub: b });
      steps.push(committed === null ? `${a} committed nothing; isolated it; ${b} is the hub of the others` : `isolated ${a} right after its commit index moved to ${committed.commit}; ${b} is the hub of the others`);

      // 5. B leads the star and overwrites whatever A's old-term entries reached.
      const last = await waitFor(ctx, options, [b], (s) => {
        const st = s.get(b);
        return st !== undefined && st.role === 'leader' && newer(st, back.term) ? st : null;
      });
      steps.push(last === null ? `${b} did not lead` : `${b} leads (term ${last.term})`);
      return done('sequence complete');
    },
    async stop(ctx) {
      await ctx.cluster.network.healAll();
      return 'network healed';
    },
  };
}

interface Shape {
  /** Nodes cut off from every other node. */
  readonly isolated: readonly NodeId[];
  /** When set, the remaining nodes reach only this one (and it reaches them). */
  readonly hub: NodeId | null;
}

/** The links a shape cuts, as `from>to` keys. */
export function shapeCuts(nodes: readonly NodeId[], s: Shape): Set<string> {
  const cuts = new Set<string>();
  for (const from of nodes) {
    for (const to of nodes) {
      if (from === to) continue;
      const isolated = s.isolated.includes(from) || s.isolated.includes(to);
      const spokes = s.hub !== null && from !== s.hub && to !== s.hub;
      if (isolated || spokes) cuts.add(`${from}>${to}`);
    }
  }
  return cuts;
}

/**
 * The peer network, moved from one shape to the next: the new cuts go in before the old ones
 * are healed, so nothing the next shape forbids slips through in between (on containers each
 * change is a Toxiproxy call; a reset would also release the bytes the latency toxics hold).
 */
class Network {
  private current = new Set<string>();

  constructor(
    private readonly ctx: NemesisContext,
    private readonly nodes: readonly NodeId[],
  ) {}

  /** Delay every peer link; the delay stays until `stop` heals everything. */
  async slow(latencyMs: number): Promise<void> {
    for (const from of this.nodes) {
      for (const to of this.nodes) if (from !== to) await this.ctx.cluster.network.addToxic({ from, to }, 'figure-8-latency', { type: 'latency', latencyMs, jitterMs: 0 });
    }
  }

  async shape(s: Shape): Promise<void> {
    const want = shapeCuts(this.nodes, s);
    const net = this.ctx.cluster.network;
    const link = (key: string): { from: NodeId; to: NodeId } => {
      const [from = '', to = ''] = key.split('>');
      return { from, to };
    };
    await Promise.all([...want].filter((k) => !this.current.has(k)).map((k) => net.cut(link(k))));
    await Promise.all([...this.current].filter((k) => !want.has(k)).map((k) => net.heal(link(k))));
    this.current = want;
  }
}

/**
 * Whether a node's status is of a term after `term`. A system whose status gives its last
 * applied entry's term (etcd) shows the new term only once something of it applied: there a
 * node answering as leader again after the network changed is taken as newly elected.
 */
function newer(st: NodeStatusSample, term: number): boolean {
  return st.term > term || st.termIsApplied === true;
}

/** The leader with the highest term among the nodes that answered. */
function highestLeader(s: Statuses): { id: NodeId; term: number; commit: number } | null {
  let best: { id: NodeId; term: number; commit: number } | null = null;
  for (const [id, st] of s) {
    if (st.role !== 'leader') continue;
    if (best === null || st.term > best.term) best = { id, term: st.term, commit: st.commit };
  }
  return best;
}

/**
 * Poll the status of the nodes a step watches (only those: on containers every poll is an
 * HTTP round trip, and the window to act in is one network delay) until `probe` returns
 * non-null, or `stepMs` passes (null).
 */
async function waitFor<T>(ctx: NemesisContext, options: Figure8Options, watched: readonly NodeId[], probe: (s: Statuses) => T | null): Promise<T | null> {
  const clock = ctx.cluster.clock;
  const deadline = clock.now() + options.stepMs;
  for (;;) {
    const running = ctx.cluster.nodes.filter((n) => n.state === 'running' && watched.includes(n.id));
    const answers = await Promise.all(running.map(async (n) => [n.id, await ctx.system.status(n, Math.max(50, options.pollMs * 10), ctx.cluster)] as const));
    const s: Statuses = new Map();
    for (const [id, st] of answers) if (st !== null) s.set(id, st);
    const found = probe(s);
    if (found !== null) return found;
    if (clock.now() >= deadline) return null;
    await clock.sleep(options.pollMs);
  }
}
