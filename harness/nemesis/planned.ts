/**
 * The fault schedule as a value: which nemesis starts when, for how long, with which seed
 * for its own choices (targets, halves, offsets). `runSchedule` (index.ts) draws faults as it
 * goes from one stream, so removing one fault would change every later one; a planned
 * schedule gives each fault its own seed, so any subset of it, moved or shortened, is still
 * a well-defined schedule. That is what makes a simulated run's faults replayable from a file
 * (`--replay-schedule`) and shrinkable (harness/explore/shrink.ts).
 *
 * `planSchedule` draws the same shape `runSchedule` runs (a fault every other interval,
 * none started with less than MIN_FAULT_MS of the main phase left); `runPlannedSchedule`
 * runs one fault at a time, in order of start time, each started no earlier than the
 * previous one stopped.
 */
import type { HistoryWriter } from '../history-writer.ts';
import { Rng } from '../rng.ts';
import { MIN_FAULT_MS, recorded } from './index.ts';
import type { Nemesis, NemesisContext } from './nemesis.ts';

export interface PlannedFault {
  /** Start, in ms after the main phase began. */
  readonly atMs: number;
  readonly nemesis: string;
  /** How long the fault stays before it is stopped (a fault still on at the deadline is stopped by the heal). */
  readonly durationMs: number;
  /** Seed of the fault's own choices (the nemesis's `ctx.rng`). */
  readonly seed: number;
}

/**
 * Composed (`--compose`, Jepsen's composed nemesis packages): every nemesis on a timeline of
 * its own (a random phase, then faults and gaps of about an interval each), so
 * faults of different nemeses overlap — a power loss in the middle of an election starved by
 * a partition, say — while one nemesis never overlaps itself.
 */
export function planComposedSchedule(seed: number, nemeses: readonly Nemesis[], intervalMs: number, timeLimitMs: number): PlannedFault[] {
  const out: PlannedFault[] = [];
  const root = new Rng(seed).fork(0xc0de);
  nemeses.forEach((n, lane) => {
    const rng = root.fork(lane + 1);
    // Gaps and durations drawn from 0.5–1.5 intervals: lanes drift against each other, so a
    // kill lands at every phase of a partition over a run, not always at the same one.
    const around = (): number => Math.round(intervalMs * (0.5 + rng.next()));
    let t = Math.floor(rng.next() * intervalMs);
    for (;;) {
      t += around();
      const remaining = timeLimitMs - t;
      if (remaining < MIN_FAULT_MS) break;
      const durationMs = Math.min(around(), remaining);
      out.push({ atMs: t, nemesis: n.name, durationMs, seed: Math.floor(rng.next() * 2 ** 31) });
      t += durationMs;
    }
  });
  return out.sort((a, b) => a.atMs - b.atMs || a.nemesis.localeCompare(b.nemesis));
}

/** The faults a run with this seed gets: the shape of `runSchedule`, each fault with its own seed. */
export function planSchedule(seed: number, nemeses: readonly Nemesis[], intervalMs: number, timeLimitMs: number): PlannedFault[] {
  if (nemeses.length === 0) return [];
  const rng = new Rng(seed).fork(0x5ced);
  const out: PlannedFault[] = [];
  let t = 0;
  for (;;) {
    t = Math.min(t + intervalMs, timeLimitMs);
    const remaining = timeLimitMs - t;
    if (remaining < MIN_FAULT_MS) return out;
    const n = rng.pick(nemeses);
    const durationMs = Math.min(intervalMs, remaining);
    out.push({ atMs: t, nemesis: n.name, durationMs, seed: Math.floor(rng.next() * 2 ** 31) });
    t += durationMs;
  }
}

/** Problems with a schedule read from a file (empty when it is usable with these nemeses). */
export function scheduleProblems(faults: unknown, nemeses: readonly Nemesis[], where: string): string[] {
  if (!Array.isArray(faults)) return [`${where}: expected an array of faults ({ atMs, nemesis, durationMs, seed })`];
  const known = new Set(nemeses.map((n) => n.name));
  const problems: string[] = [];
  faults.forEach((f: unknown, i) => {
    const at = `${where}: fault ${i}`;
    if (f === null || typeof f !== 'object') {
      problems.push(`${at}: expected an object`);
      return;
    }
    const o = f as Record<string, unknown>;
    for (const k of ['atMs', 'durationMs', 'seed'] as const) {
      if (typeof o[k] !== 'number' || !Number.isInteger(o[k]) || (o[k] as number) < 0) problems.push(`${at}: ${k} must be a non-negative integer, got ${JSON.stringify(o[k])}`);
    }
    if (typeof o.nemesis !== 'string') problems.push(`${at}: nemesis must be a name, got ${JSON.stringify(o.nemesis)}`);
    else if (!known.has(o.nemesis)) problems.push(`${at}: nemesis "${o.nemesis}" is not one of this run's (--nemesis gives ${[...known].join(', ') || 'none'})`);
  });
  return problems;
}

export interface PlannedScheduleOptions {
  readonly faults: readonly PlannedFault[];
  readonly nemeses: readonly Nemesis[];
  readonly ctx: NemesisContext;
  readonly history: HistoryWriter;
  /** When the main phase began and when it ends (ms on the cluster's clock). */
  readonly start: number;
  readonly deadline: number;
  readonly signal: AbortSignal;
  readonly onActive: (active: string | null) => void;
  /**
   * Faults of different nemeses may overlap (`--compose`): one lane per nemesis, each running
   * its own faults in order and stopping the last one by the deadline.
   */
  readonly composed?: boolean;
}

/** Runs the planned faults until the deadline; returns the fault still active (the heal phase stops it). */
export async function runPlannedSchedule(o: PlannedScheduleOptions): Promise<Nemesis | null> {
  if (o.composed === true) {
    const active = new Set<string>();
    const show = (): void => o.onActive(active.size === 0 ? null : [...active].sort().join('+'));
    const lanes = [...new Set(o.faults.map((f) => f.nemesis))].map(async (name) => {
      const left = await runPlannedSchedule({
        ...o,
        composed: false,
        faults: o.faults.filter((f) => f.nemesis === name),
        onActive: (a) => {
          if (a === null) active.delete(name);
          else active.add(name);
          show();
        },
      });
      // Each lane stops its own last fault: the heal afterwards restores everything else.
      if (left !== null) {
        await recorded(o.history, `stop-${left.name}`, () => left.stop({ ...o.ctx }));
        active.delete(name);
        show();
      }
    });
    await Promise.all(lanes);
    return null;
  }
  const clock = o.ctx.cluster.clock;
  const byName = new Map(o.nemeses.map((n) => [n.name, n]));
  const ordered = [...o.faults].sort((a, b) => a.atMs - b.atMs);
  for (const f of ordered) {
    const n = byName.get(f.nemesis);
    if (n === undefined) throw new Error(`planned fault names nemesis "${f.nemesis}", not one of this run's`);
    const at = o.start + f.atMs;
    if (at >= o.deadline) return null;
    await clock.sleep(Math.max(0, at - clock.now()), o.signal);
    if (o.signal.aborted || clock.now() >= o.deadline) return null;
    const ctx: NemesisContext = { ...o.ctx, rng: new Rng(f.seed) };
    await recorded(o.history, `start-${n.name}`, () => n.start(ctx));
    o.onActive(n.name);
    const stopAt = at + f.durationMs;
    if (stopAt >= o.deadline) {
      await clock.sleep(Math.max(0, o.deadline - clock.now()), o.signal);
      return n;
    }
    await clock.sleep(Math.max(0, stopAt - clock.now()), o.signal);
    if (o.signal.aborted) return n;
    await recorded(o.history, `stop-${n.name}`, () => n.stop(ctx));
    o.onActive(null);
  }
  return null;
}
