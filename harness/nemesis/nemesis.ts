/**
 * Fault injection. A nemesis starts one fault and later stops it; the scheduler
 * (schedule.ts) records each start and stop in the history as an operation of process
 * "nemesis" (an invoke, then an info saying what was done to whom), as Jepsen does.
 */
import type { Rng } from '../rng.ts';
import type { NodeId, StartedCluster } from '../runtime/runtime.ts';
import type { PreparedSystem, SystemFeature } from '../systems/system.ts';

export interface NemesisContext {
  readonly cluster: StartedCluster;
  /** The system under test: its hooks (clock, membership, admin, data files). */
  readonly system: PreparedSystem;
  readonly rng: Rng;
  /** The current leader, asked of the nodes now (null when none answers as leader). */
  leader(): Promise<NodeId | null>;
  readonly clusterSecret: string;
  /** Record that a node was killed or paused (a `role: "down"` node event). */
  readonly nodeDown: (id: NodeId) => void;
  readonly log: (line: string) => void;
}

export interface Nemesis {
  /** The fault's name: history ops are `start-<name>` and `stop-<name>`. */
  readonly name: string;
  /** Start the fault; resolves with what was done (recorded as the op's value). */
  start(ctx: NemesisContext): Promise<unknown>;
  /** Undo what `start` did; resolves with what was undone. */
  stop(ctx: NemesisContext): Promise<unknown>;
  /** What the system must support for this fault; the harness refuses the run (exit 64) otherwise. */
  readonly requires?: readonly SystemFeature[];
  /** The smallest cluster the fault means anything on; the harness refuses a smaller one (exit 64). */
  readonly minNodes?: number;
}

/** A fault that needs the nodes built or started with their fault-injection hooks on (the clock, failpoints). */
export function needsFaultInjection(n: Nemesis): boolean {
  return n.requires?.includes('clock') === true || n.requires?.includes('failpoints') === true;
}
