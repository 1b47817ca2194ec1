/**
 * Shrinking a failing simulated run: fast-check searches for a smaller run that still comes
 * out invalid, starting from the original (given as fast-check's first example, so its
 * shrinkers work on the real failure, not on a random draw). What shrinks:
 *
 * - the fault schedule: any subarray of the planned faults (harness/nemesis/planned.ts gives
 *   every fault its own seed, so dropping one leaves the others doing exactly what they did);
 * - when the faults come: the kept faults move together so that the first starts `leadMs`
 *   into the main phase (a fault found late in a run usually fails as well early in it, and
 *   then the operations before it can go too);
 * - the operation count: `--max-ops`, the client operations of the main phase;
 *
 * and, following them, the main phase: it ends a nemesis interval after the last fault left
 * or `--max-ops` made clients stop, whichever is later (a run with fewer ops is shorter to
 * read, not only to check).
 *
 * Why fast-check rather than a delta-debugging loop of our own: its subarray and integer
 * shrinkers are the well-tried kind, and `examples` with `numRuns: 1` give exactly "start
 * from this counterexample and shrink it", with a budget (tries, `interruptAfterTimeLimit`).
 *
 * Every try is a full simulated run (seconds of wall time): tries go to a scratch folder and
 * are deleted; the smallest failing run is run once more into `<original>/shrunk/`, with its
 * schedule file, its own report and the command that replays it.
 */
import fc from 'fast-check';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { RunConfig, RunOutcome } from '../run.ts';
import { runTest } from '../run.ts';
import type { PlannedFault } from '../nemesis/planned.ts';
import { writeRunReport } from '../report/report.ts';
import { replayCommand } from './replay.ts';

export interface ShrinkOptions {
  /** At most this many tries (simulated runs) after the original. Default 60. */
  readonly maxTries?: number;
  /** Stop trying after this much wall time, ms. Default 5 minutes. */
  readonly timeLimitMs?: number;
  readonly log?: (line: string) => void;
}

export interface ShrunkRun {
  readonly faults: readonly PlannedFault[];
  readonly maxOps: number;
  readonly timeLimitS: number;
  readonly dir: string;
  readonly replay: string;
  /** Runs tried while shrinking (the original not counted). */
  readonly tries: number;
  readonly outcome: RunOutcome;
}

/** The kept faults moved together so the first starts at `leadMs` (their spacing kept). */
export function movedFaults(faults: readonly PlannedFault[], leadMs: number): PlannedFault[] {
  const first = faults[0];
  if (first === undefined) return [];
  const shift = first.atMs - leadMs;
  return faults.map((f) => ({ ...f, atMs: f.atMs - shift }));
}

/** Faults never start before this far into the main phase: the cluster has a leader and clients have begun. */
export const MIN_LEAD_MS = 1_000;

/** The smaller run's config: its faults, op budget and a main phase that ends soon after them. */
export function shrunkConfig(original: RunConfig, faults: readonly PlannedFault[], maxOps: number, originalMainOps: number): RunConfig {
  const intervalMs = original.nemesisIntervalS * 1000;
  const lastFaultEnd = faults.reduce((m, f) => Math.max(m, f.atMs + f.durationMs), 0);
  // Ops arrive at roughly the run's rate; an op budget of k ends the clients about k/rate s in.
  const opsShare = originalMainOps === 0 ? 1 : Math.min(1, maxOps / originalMainOps);
  const opsEndMs = opsShare * original.timeLimitS * 1000;
  const timeLimitS = Math.max(1, Math.min(original.timeLimitS, Math.ceil((Math.max(lastFaultEnd, opsEndMs) + intervalMs) / 1000)));
  const { scheduleFile: _replaced, ...rest } = original;
  return { ...rest, schedule: faults.filter((f) => f.atMs < timeLimitS * 1000), maxOps, timeLimitS };
}

/** Shrinks an invalid simulated run; null when no smaller failing run was found (or it did not fail again). */
export async function shrinkRun(config: RunConfig, original: RunOutcome, options: ShrinkOptions = {}): Promise<ShrunkRun | null> {
  if (original.valid !== false || original.schedule === null) return null;
  const log = options.log ?? (() => {});
  const faults = original.schedule;
  const mainOps = Math.max(1, original.mainOps);
  const scratch = join(original.dir, 'shrink-tries');
  mkdirSync(scratch, { recursive: true });
  let tries = 0;
  let best: { faults: readonly PlannedFault[]; maxOps: number } = { faults, maxOps: mainOps };
  // Smaller = fewer faults, then fewer ops, then an earlier end.
  const size = (c: { faults: readonly PlannedFault[]; maxOps: number }): number => c.faults.length * 1e12 + c.maxOps * 1e6 + c.faults.reduce((m, f) => Math.max(m, f.atMs + f.durationMs), 0) / 1000;

  const firstAt = faults[0]?.atMs ?? MIN_LEAD_MS;
  const candidate = fc
    .record({ kept: fc.subarray([...faults]), leadMs: fc.integer({ min: Math.min(MIN_LEAD_MS, firstAt), max: firstAt }), maxOps: fc.integer({ min: 1, max: mainOps }) })
    .map(
      ({ kept, leadMs, maxOps }) => ({ faults: movedFaults(kept, leadMs), maxOps }),
      // fast-check needs the way back to shrink an example it did not generate.
      (v) => {
        const c = v as { faults: PlannedFault[]; maxOps: number };
        return { kept: c.faults, leadMs: c.faults[0]?.atMs ?? firstAt, maxOps: c.maxOps };
      },
    );
  const maxTries = options.maxTries ?? 60;
  const property = fc.asyncProperty(candidate, async (c) => {
    // Out of budget: every further candidate "passes" without a run, so fast-check's
    // shrinking ends at once with the smallest failure found so far.
    if (tries >= maxTries) return true;
    tries++;
    const dir = join(scratch, `try-${tries}`);
    const out = await runTest(shrunkConfig(config, c.faults, c.maxOps, original.mainOps), { quiet: true, publish: false, dir });
    rmSync(dir, { recursive: true, force: true });
    const fails = out.valid === false;
    if (fails && size(c) < size(best)) {
      best = c;
      log(`shrink: try ${tries}: still invalid with ${c.faults.length} fault(s) (first at ${(c.faults[0]?.atMs ?? 0) / 1000} s) and ${c.maxOps} ops`);
    }
    return !fails;
  });
  await fc.check(property, {
    examples: [[{ faults: [...faults], maxOps: mainOps }]],
    numRuns: 1, // the example only: the search is fast-check's shrinking of it
    maxSkipsPerRun: 0,
    interruptAfterTimeLimit: options.timeLimitMs ?? 300_000,
    markInterruptAsFailure: false,
    seed: config.seed,
  });
  rmSync(scratch, { recursive: true, force: true });

  // The smallest failing run, again, where people find it: next to the original.
  const dir = join(original.dir, 'shrunk');
  const final = { ...shrunkConfig(config, best.faults, best.maxOps, original.mainOps), scheduleFile: join(dir, 'schedule.json') };
  const replay = replayCommand(final);
  // Report only: a database client left in this process (postgres backs off with
  // Math.random on a closed socket) would trip the next simulation's real-I/O guard. The
  // caller records runs in the database once no simulation follows.
  const outcome = await runTest(final, { quiet: true, publish: false, dir, replay });
  await writeRunReport(dir);
  if (outcome.valid !== false) {
    log(`shrink: the smallest failing candidate came out ${String(outcome.valid)} when run again; keeping the original`);
    return null;
  }
  return { faults: best.faults, maxOps: best.maxOps, timeLimitS: final.timeLimitS, dir, replay, tries, outcome };
}
