/**
 * Process faults through the runtime: SIGKILL then a restart on the same data directory,
 * and SIGSTOP/SIGCONT (container pause). Which nodes: one, a minority or a majority,
 * drawn from the seed, or the current leader.
 */
import type { Rng } from '../rng.ts';
import type { NodeHandle, NodeId } from '../runtime/runtime.ts';
import type { Nemesis, NemesisContext } from './nemesis.ts';

export type TargetSize = 'one' | 'minority' | 'majority';

export function pickTargets(rng: Rng, nodes: readonly NodeId[], size: TargetSize): NodeId[] {
  const n = nodes.length;
  const count = size === 'one' ? 1 : size === 'minority' ? Math.max(1, Math.floor((n - 1) / 2)) : Math.floor(n / 2) + 1;
  return rng.shuffle(nodes).slice(0, count).sort();
}

type Action = 'kill' | 'pause';

function apply(node: NodeHandle, action: Action): Promise<void> {
  return action === 'kill' ? node.kill() : node.pause();
}
function undo(node: NodeHandle, action: Action): Promise<void> {
  return action === 'kill' ? node.start() : node.resume();
}

function processNemesis(name: string, action: Action, choose: (ctx: NemesisContext) => Promise<NodeId[]>): Nemesis {
  let targets: NodeId[] = [];
  return {
    name,
    async start(ctx) {
      targets = await choose(ctx);
      await Promise.all(
        targets.map(async (id) => {
          await apply(ctx.cluster.node(id), action);
          ctx.nodeDown(id);
        }),
      );
      return { [action === 'kill' ? 'killed' : 'paused']: targets };
    },
    async stop(ctx) {
      const undone = targets.filter((id) => ctx.cluster.node(id).state !== 'running');
      await Promise.all(undone.map((id) => undo(ctx.cluster.node(id), action)));
      targets = [];
      return { [action === 'kill' ? 'restarted' : 'resumed']: undone };
    },
  };
}

const running = (ctx: NemesisContext): NodeId[] => ctx.cluster.nodes.filter((n) => n.state === 'running').map((n) => n.id);

/**
 * `sizes`: which target sizes `kill` and `pause` draw from (default all three, as Jepsen's
 * kill nemesis). `kill-majority` always takes a majority down, so that what only a minority
 * of nodes had (an entry acknowledged before it committed) is likely gone from every
 * survivor; `kill-all` kills every node at the same moment, the power loss a store must
 * survive without losing an acknowledged write (and that `--unsafe no-fsync` cannot).
 */
export function processNemeses(sizes: readonly TargetSize[] = ['one', 'minority', 'majority']): Nemesis[] {
  const drawn = (ctx: NemesisContext): Promise<NodeId[]> => Promise.resolve(pickTargets(ctx.rng, running(ctx), ctx.rng.pick(sizes)));
  const leader = async (ctx: NemesisContext): Promise<NodeId[]> => [(await ctx.leader()) ?? ctx.rng.pick(running(ctx))];
  return [
    processNemesis('kill', 'kill', drawn),
    processNemesis('pause', 'pause', drawn),
    processNemesis('kill-leader', 'kill', leader),
    processNemesis('kill-majority', 'kill', (ctx) => Promise.resolve(pickTargets(ctx.rng, running(ctx), 'majority'))),
    processNemesis('kill-all', 'kill', (ctx) => Promise.resolve(running(ctx))),
    processNemesis('pause-leader', 'pause', leader),
  ];
}
