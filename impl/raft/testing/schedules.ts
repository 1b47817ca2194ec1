/**
 * fast-check generators of fault schedules for the simulator, and the runner shared by
 * the property tests and the soak: it prints the seed, the shrunk schedule and a one-line
 * replay command when a schedule breaks a safety or liveness property.
 */
import fc from 'fast-check';
import type { FaultAction, SimulatorOptions } from './simulator.ts';
import { formatAction, Simulator } from './simulator.ts';

/** Schedules stay modest so `npm test` runs thousands of them in seconds. */
export function faultAction(nodes: number, membership = false): fc.Arbitrary<FaultAction> {
  const node = fc.integer({ min: 1, max: nodes });
  const member = fc.record({ kind: fc.constant('member' as const), op: fc.constantFrom('add' as const, 'remove' as const), node });
  const arbitraries: fc.WeightedArbitrary<FaultAction>[] = [
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('run' as const), steps: fc.integer({ min: 1, max: 200 }) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('partition' as const),
        minority: fc.uniqueArray(node, { minLength: 1, maxLength: Math.floor(nodes / 2) }),
      }),
    },
    { weight: 2, arbitrary: fc.constant({ kind: 'heal' as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('crash' as const), node }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('restart' as const), node }) },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant('lossy' as const), dropPct: fc.integer({ min: 0, max: 30 }), dupPct: fc.integer({ min: 0, max: 20 }) }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), node, n: fc.integer({ min: 1, max: 25 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('propose' as const), node }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('read' as const), node }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('compact' as const), node }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('campaign' as const), node }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('transfer' as const), to: node }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'isolate-leader' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'crash-leader' as const }) },
    { weight: 2, arbitrary: fc.record({
        kind: fc.constant('depose-leader' as const),
        steps: fc.integer({ min: 20, max: 200 }),
        proposals: fc.integer({ min: 0, max: 8 }),
      }) },
  ];
  if (membership) arbitraries.push({ weight: 10, arbitrary: member });
  return fc.oneof(...arbitraries);
}

export interface Schedule {
  /** Seeds the simulator's own choices (which message, which node, ...) and the election timers. */
  readonly simSeed: number;
  readonly actions: readonly FaultAction[];
}

export function schedule(nodes: number, maxActions = 24, membership = false): fc.Arbitrary<Schedule> {
  return fc.record({
    simSeed: fc.integer({ min: 0, max: 0x7fffffff }),
    actions: fc.array(faultAction(nodes, membership), { minLength: 1, maxLength: maxActions, size: 'max' }),
  });
}

export const formatSchedule = (s: Schedule): string =>
  `simSeed=${s.simSeed} actions=[${s.actions.map(formatAction).join('; ')}]`;

/**
 * Tick rounds allowed, after every fault healed, for a leader to be elected and commit a
 * proposal on every node (see simulator.test.ts for why this bound).
 */
export const livenessBoundTicks = (electionTicks: number): number => 10 * electionTicks;

/** Run one schedule: safety after every step, then heal and check liveness. */
export function runSchedule(options: Omit<SimulatorOptions, 'seed'>, s: Schedule): Simulator {
  // RAFT_DIRECT_CHECKS=0 leaves only the consequence checks (used to measure how fast the
  // simulator finds the damage itself; see MUTANTS.md).
  const direct = process.env['RAFT_DIRECT_CHECKS'] !== '0';
  const sim = new Simulator({ directChecks: direct, ...options, seed: s.simSeed });
  // Faults strike a working cluster: elect a first leader before the schedule starts.
  sim.settle(livenessBoundTicks(options.electionTicks ?? 5));
  for (const a of s.actions) sim.run(a);
  sim.lastSettleTicks = sim.settle(livenessBoundTicks(options.electionTicks ?? 5));
  return sim;
}

export interface PropertyRun {
  readonly name: string;
  readonly options: Omit<SimulatorOptions, 'seed'>;
  readonly numRuns: number;
  readonly maxActions?: number;
}

/** Counts of what the schedules exercised, to show the runs were not vacuous. */
export interface Coverage {
  schedules: number;
  steps: number;
  committed: number;
  leaders: number;
  crashes: number;
  snapshotsSent: number;
  readsServed: number;
  dropped: number;
  duplicated: number;
  membershipChanges: number;
  /** Most tick rounds any schedule needed, after healing, to elect a leader and commit. */
  maxSettleTicks: number;
}

/**
 * Check a simulator property with fast-check. Replays `RAFT_SEED`/`RAFT_PATH` when set.
 * Throws an error carrying the seed, the shrunk schedule and the replay command.
 */
export function checkProperty(run: PropertyRun, env: NodeJS.ProcessEnv): Coverage {
  const coverage: Coverage = { schedules: 0, steps: 0, committed: 0, leaders: 0, crashes: 0, snapshotsSent: 0, readsServed: 0, dropped: 0, duplicated: 0, membershipChanges: 0, maxSettleTicks: 0 };
  const nodes = run.options.nodes;
  const seedEnv = env['RAFT_SEED'];
  const pathEnv = env['RAFT_PATH'];
  const params: fc.Parameters<[Schedule]> = { numRuns: run.numRuns };
  if (seedEnv !== undefined && seedEnv !== '') {
    const seed = Number(seedEnv);
    if (!Number.isInteger(seed)) throw new Error(`RAFT_SEED must be an integer, got "${seedEnv}"`);
    params.seed = seed;
    if (pathEnv !== undefined && pathEnv !== '') params.path = pathEnv;
  }
  const details = fc.check(
    fc.property(schedule(nodes + (run.options.spareNodes ?? 0), run.maxActions, (run.options.spareNodes ?? 0) > 0), (s) => {
      const sim = runSchedule(run.options, s);
      coverage.schedules++;
      coverage.steps += sim.stats.steps;
      coverage.committed += sim.stats.maxCommitted;
      coverage.leaders += sim.stats.leadersElected;
      coverage.crashes += sim.stats.crashes;
      coverage.snapshotsSent += sim.stats.snapshotsSent;
      coverage.readsServed += sim.stats.readsServed;
      coverage.dropped += sim.stats.dropped;
      coverage.duplicated += sim.stats.duplicated;
      coverage.membershipChanges += sim.stats.membershipChanges;
      coverage.maxSettleTicks = Math.max(coverage.maxSettleTicks, sim.lastSettleTicks);
    }),
    params,
  );
  if (details.failed) {
    const example = details.counterexample?.[0];
    const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    const lines = [
      `${run.name}: a fault schedule broke Raft after ${details.numRuns} runs (${details.numShrinks} shrinks)`,
      `fast-check seed=${details.seed} path=${details.counterexamplePath ?? ''}`,
      `shrunk schedule: ${example === undefined ? '(none)' : formatSchedule(example)}`,
      `replay: RAFT_SEED=${details.seed} RAFT_PATH=${details.counterexamplePath ?? ''} npx vitest run impl/raft/testing -t ${JSON.stringify(run.name)}`,
      cause,
    ];
    throw new Error(lines.join('\n'));
  }
  return coverage;
}
