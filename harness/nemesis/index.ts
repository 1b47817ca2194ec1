/**
 * Nemeses by name (`--nemesis a,b,...`), and the schedule that runs them: every
 * `intervalMs` a fault drawn from the seed starts, and `intervalMs` later it stops, until
 * the main phase ends. `all` mixes every nemesis; `none` injects nothing.
 */
import type { HistoryWriter } from '../history-writer.ts';
import { clockNemesis } from './clock.ts';
import { membershipNemesis } from './membership.ts';
import type { Nemesis, NemesisContext } from './nemesis.ts';
import { DEFAULT_NETWORK_KNOBS, networkNemeses } from './network.ts';
import type { NetworkKnobs } from './network.ts';
import type { ClockKnobs } from './clock.ts';
import { processNemeses } from './process.ts';
import { DEFAULT_FIGURE8, figure8Nemesis } from './figure8.ts';
import { adminNemesis, fileNemeses } from './files.ts';
import { failpointNemesis } from './failpoint.ts';
import type { SystemSupport } from '../systems/system.ts';

/** Every nemesis knob (`--knob name=value`), with its default and its allowed range. */
export type NemesisKnobs = NetworkKnobs & ClockKnobs & { readonly figure8LatencyMs: number; readonly failpointWaitMs: number; readonly failpointSleepMs: number };

export const DEFAULT_KNOBS: NemesisKnobs = { ...DEFAULT_NETWORK_KNOBS, maxSkewMs: 2000, figure8LatencyMs: DEFAULT_FIGURE8.latencyMs, failpointWaitMs: 10_000, failpointSleepMs: 100 };

const KNOB_RANGES: { readonly [K in keyof NemesisKnobs]: readonly [number, number, string] } = {
  latencyMs: [0, 60_000, 'latency: base delay added to every peer link (ms)'],
  jitterMs: [0, 60_000, 'latency: jitter around the base delay (ms)'],
  rateKBps: [1, 1_000_000, 'slow: bandwidth of every peer link (KB/s)'],
  sliceBytes: [1, 1_000_000, 'slow: slicer packet size (bytes)'],
  flakyLinks: [0, 1, 'flaky: fraction of peer links affected'],
  flakyToxicity: [0, 1, 'flaky: fraction of connections reset or stalled on an affected link'],
  maxSkewMs: [1, 3_600_000, 'clock: largest skew or strobe amplitude (ms)'],
  figure8LatencyMs: [1, 10_000, 'figure-8: delay on every peer link while the script runs (ms): the window in which a new leader is cut off before its first append lands'],
  failpointWaitMs: [100, 600_000, 'failpoint: how long an armed failpoint may wait for traffic to reach it before it is disarmed (ms)'],
  failpointSleepMs: [0, 60_000, 'failpoint: one fault in three, the failpoint sleeps this long each time it is reached, until the fault stops (a slow member; 0: panics only) (ms)'],
};

/** One line per knob, for `--help` and the README. */
export function describeKnobs(): string {
  return Object.entries(KNOB_RANGES)
    .map(([name, [lo, hi, what]]) => `${name}=${String(DEFAULT_KNOBS[name as keyof NemesisKnobs])} (${lo}..${hi}) ${what}`)
    .join('; ');
}

/** Parse `--knob name=value` settings over the defaults; throws naming the bad one. */
export function parseKnobs(settings: readonly string[]): NemesisKnobs {
  const out: Record<string, number> = { ...DEFAULT_KNOBS };
  for (const setting of settings) {
    const m = /^([A-Za-z][A-Za-z0-9]*)=(.+)$/.exec(setting.trim());
    if (m === null) throw new Error(`--knob: expected name=value, got "${setting}"`);
    const [, name = '', raw = ''] = m;
    const range = KNOB_RANGES[name as keyof NemesisKnobs] as (typeof KNOB_RANGES)[keyof NemesisKnobs] | undefined;
    if (range === undefined) throw new Error(`--knob: unknown knob "${name}" (known: ${Object.keys(KNOB_RANGES).join(', ')})`);
    const value = Number(raw);
    if (!Number.isFinite(value) || value < range[0] || value > range[1]) {
      throw new Error(`--knob ${name}: expected a number in ${range[0]}..${range[1]}, got "${raw}"`);
    }
    out[name] = value;
  }
  return out as unknown as NemesisKnobs;
}

export function allNemeses(knobs: NemesisKnobs = DEFAULT_KNOBS): Nemesis[] {
  return [...networkNemeses(knobs), ...processNemeses(), membershipNemesis(), clockNemesis(knobs), ...fileNemeses(), adminNemesis()];
}

/**
 * Named explicitly and never drawn by `all` (adding one to `all` would change what every
 * existing seed draws): scripted scenarios, each steering the cluster through one
 * known-dangerous interleaving (figure8.ts) rather than a fault at random, and failpoints,
 * which need the system built with them (failpoint.ts).
 */
export function scenarioNemeses(knobs: NemesisKnobs = DEFAULT_KNOBS): Nemesis[] {
  return [figure8Nemesis({ ...DEFAULT_FIGURE8, latencyMs: knobs.figure8LatencyMs }), failpointNemesis({ triggerTimeoutMs: knobs.failpointWaitMs, sleepMs: knobs.failpointSleepMs })];
}

export const NEMESIS_NAMES: readonly string[] = [...allNemeses().map((n) => n.name), ...scenarioNemeses().map((n) => n.name), 'all', 'none'];

/**
 * Parse `--nemesis` into nemeses; throws naming an unknown one. With `system`, `all` means
 * every nemesis that system supports (the ones it does not are left out, not refused: naming
 * one explicitly is what gets refused, by harness/validate.ts).
 */
export function parseNemeses(spec: string, knobs: NemesisKnobs = DEFAULT_KNOBS, system?: SystemSupport): Nemesis[] {
  const names = spec.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new Error('--nemesis: empty list');
  const known = new Map([...allNemeses(knobs), ...scenarioNemeses(knobs)].map((n) => [n.name, n]));
  const out: Nemesis[] = [];
  for (const name of names) {
    if (name === 'none') continue;
    if (name === 'all') {
      out.push(...allNemeses(knobs).filter((n) => system === undefined || (n.requires ?? []).every((f) => system.features.has(f))));
      continue;
    }
    const n = known.get(name);
    if (n === undefined) throw new Error(`--nemesis: unknown nemesis "${name}" (known: ${NEMESIS_NAMES.join(', ')})`);
    out.push(n);
  }
  return out;
}

export interface ScheduleOptions {
  readonly nemeses: readonly Nemesis[];
  readonly ctx: NemesisContext;
  readonly history: HistoryWriter;
  readonly intervalMs: number;
  /** Stop starting faults once too little remains before this (ms on the cluster's clock). */
  readonly deadline: number;
  readonly signal: AbortSignal;
  readonly onActive: (active: string | null) => void;
}

/** Record one nemesis operation: an invoke, then an info with what was done (or the error). */
export async function recorded(history: HistoryWriter, f: string, act: () => Promise<unknown>): Promise<void> {
  history.record({ process: 'nemesis', type: 'invoke', f, value: null });
  try {
    const value = await act();
    history.record({ process: 'nemesis', type: 'info', f, value });
  } catch (e) {
    history.record({ process: 'nemesis', type: 'info', f, value: null, error: e instanceof Error ? e.message : String(e) });
  }
}

/** Runs faults until the deadline; returns the fault still active (the heal phase stops it). */
/** The shortest fault worth starting before the main phase ends. */
export const MIN_FAULT_MS = 2_000;

export async function runSchedule(o: ScheduleOptions): Promise<Nemesis | null> {
  if (o.nemeses.length === 0) return null;
  const clock = o.ctx.cluster.clock;
  const remaining = (): number => Math.max(0, o.deadline - clock.now());
  for (;;) {
    await clock.sleep(Math.min(o.intervalMs, remaining()), o.signal);
    // Start a fault whenever enough of the main phase is left for it to matter, even if less
    // than a whole interval: a fault still active at the deadline is stopped by the heal
    // phase (the caller passes the returned nemesis to healAll). Requiring a whole interval
    // meant a 20 s run with the default 10 s interval never injected anything.
    if (o.signal.aborted || remaining() < MIN_FAULT_MS) return null;
    const n = o.ctx.rng.pick(o.nemeses);
    await recorded(o.history, `start-${n.name}`, () => n.start(o.ctx));
    o.onActive(n.name);
    await clock.sleep(Math.min(o.intervalMs, remaining()), o.signal);
    if (o.signal.aborted || remaining() === 0) return n;
    await recorded(o.history, `stop-${n.name}`, () => n.stop(o.ctx));
    o.onActive(null);
  }
}

/** Stop a fault left active, then heal everything: links, paused and killed nodes. */
export async function healAll(ctx: NemesisContext, history: HistoryWriter, active: Nemesis | null): Promise<void> {
  if (active !== null) await recorded(history, `stop-${active.name}`, () => active.stop(ctx));
  await recorded(history, 'heal', async () => {
    await ctx.cluster.network.healAll();
    const resumed: string[] = [];
    const restarted: string[] = [];
    for (const n of ctx.cluster.nodes) {
      if (n.state === 'paused') {
        await n.resume();
        resumed.push(n.id);
      } else if (n.state === 'killed') {
        await n.start();
        restarted.push(n.id);
      }
    }
    return { network: 'healed', resumed, restarted };
  });
}
