/**
 * Nemeses by name (`--nemesis a,b,...`), and the schedule that runs them: every
 * `intervalMs` a fault drawn from the seed starts, and `intervalMs` later it stops, until
 * the main phase ends. `all` mixes every nemesis; `none` injects nothing.
 */
import type { HistoryWriter } from '../history-writer.ts';
import { clockNemesis } from './clock.ts';
import { membershipNemesis } from './membership.ts';
import type { Nemesis, NemesisContext } from './nemesis.ts';
import { networkNemeses } from './network.ts';
import { processNemeses } from './process.ts';
import { setTimeout as delay } from 'node:timers/promises';

export function allNemeses(): Nemesis[] {
  return [...networkNemeses(), ...processNemeses(), membershipNemesis(), clockNemesis()];
}

export const NEMESIS_NAMES: readonly string[] = [...allNemeses().map((n) => n.name), 'all', 'none'];

/** Parse `--nemesis` into nemeses; throws naming an unknown one. */
export function parseNemeses(spec: string): Nemesis[] {
  const names = spec.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new Error('--nemesis: empty list');
  const known = new Map(allNemeses().map((n) => [n.name, n]));
  const out: Nemesis[] = [];
  for (const name of names) {
    if (name === 'none') continue;
    if (name === 'all') {
      out.push(...allNemeses());
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
  /** Stop starting faults once fewer than `intervalMs` remain before this (Date.now() ms). */
  readonly deadline: number;
  readonly signal: AbortSignal;
  readonly onActive: (active: string | null) => void;
}

/** Record one nemesis operation: an invoke, then an info with what was done (or the error). */
async function recorded(history: HistoryWriter, f: string, act: () => Promise<unknown>): Promise<void> {
  history.record({ process: 'nemesis', type: 'invoke', f, value: null });
  try {
    const value = await act();
    history.record({ process: 'nemesis', type: 'info', f, value });
  } catch (e) {
    history.record({ process: 'nemesis', type: 'info', f, value: null, error: e instanceof Error ? e.message : String(e) });
  }
}

/** Wait `ms`, or less if `signal` aborts first (resolves either way). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => undefined);
}

/** Runs faults until the deadline; returns the fault still active (the heal phase stops it). */
/** The shortest fault worth starting before the main phase ends. */
const MIN_FAULT_MS = 2_000;

export async function runSchedule(o: ScheduleOptions): Promise<Nemesis | null> {
  if (o.nemeses.length === 0) return null;
  const remaining = (): number => Math.max(0, o.deadline - Date.now());
  for (;;) {
    await sleep(Math.min(o.intervalMs, remaining()), o.signal);
    // Start a fault whenever enough of the main phase is left for it to matter, even if less
    // than a whole interval: a fault still active at the deadline is stopped by the heal
    // phase (the caller passes the returned nemesis to healAll). Requiring a whole interval
    // meant a 20 s run with the default 10 s interval never injected anything.
    if (o.signal.aborted || remaining() < MIN_FAULT_MS) return null;
    const n = o.ctx.rng.pick(o.nemeses);
    await recorded(o.history, `start-${n.name}`, () => n.start(o.ctx));
    o.onActive(n.name);
    await sleep(Math.min(o.intervalMs, remaining()), o.signal);
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
