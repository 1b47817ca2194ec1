/**
 * Performance figures from a history: counts by type and f, latency quantiles, throughput and
 * availability over time and inside each fault window. Never judges: valid unless there is
 * nothing to measure. Output series are plain arrays the HTML report can chart directly.
 */
import type { CheckInput, CheckResult, Checker } from '../checker.ts';
import { pairOps } from '../history/pair.ts';
import type { CompletedOp, Op } from '../history/types.ts';

export interface PerfOptions {
  /** Width of a time-series bucket in ms (default 1000). */
  readonly bucketMs?: number;
}

export interface TypeCounts {
  readonly ok: number;
  readonly fail: number;
  readonly info: number;
}

export interface LatencyQuantiles {
  /** Ops measured (ok ops). */
  readonly count: number;
  /** Milliseconds; null when count is 0. */
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  readonly max: number | null;
  readonly mean: number | null;
}

export interface SeriesPoint {
  /** Bucket start, seconds since the test started. */
  readonly t: number;
  readonly okPerSec: number;
  readonly failPerSec: number;
  readonly infoPerSec: number;
  /** ok / all completions in the bucket; null when none completed. */
  readonly availability: number | null;
  /** Latency (ms) of ok ops completing in the bucket; null when none. */
  readonly p50: number | null;
  readonly p99: number | null;
}

export interface WindowStats {
  readonly counts: TypeCounts;
  /** ok / (ok + fail + info); null when nothing completed. */
  readonly availability: number | null;
  readonly okPerSec: number;
  readonly latency: LatencyQuantiles;
}

export interface FaultWindow extends WindowStats {
  /** What follows `start-` in the nemesis op's f ("partition" for start-partition). */
  readonly name: string;
  /** ns, when the start op completed (the fault in effect) ... */
  readonly from: number;
  /** ... until the stop op completed, or the end of the history (`closed: false`). */
  readonly to: number;
  readonly closed: boolean;
  readonly durationS: number;
  /** The start op's value (what was broken: nodes, links ...). */
  readonly value: unknown;
}

export interface PerfResult extends CheckResult {
  readonly checker: 'perf';
  readonly ops: number;
  readonly counts: TypeCounts;
  readonly countsByF: Readonly<Record<string, TypeCounts>>;
  readonly latency: LatencyQuantiles;
  readonly latencyByF: Readonly<Record<string, LatencyQuantiles>>;
  readonly durationS: number;
  readonly bucketMs: number;
  readonly series: readonly SeriesPoint[];
  readonly faults: readonly FaultWindow[];
  /** Everything that completed outside every fault window, for comparison. */
  readonly outsideFaults: WindowStats;
  /** Nemesis ops that are not start-/stop- pairs (kill, pause, ...): chart markers. */
  readonly nemesisEvents: readonly { readonly f: string; readonly time: number; readonly value: unknown }[];
  readonly warnings: readonly string[];
}

interface Measured {
  readonly f: string;
  readonly type: 'ok' | 'fail' | 'info';
  /** Completion time (ns); for an invocation never completed, its invocation time. */
  readonly at: number;
  /** ms, ok ops only. */
  readonly latencyMs: number | null;
}

const NS_PER_MS = 1e6;

export function checkPerf(input: CheckInput, options: PerfOptions = {}): PerfResult {
  const bucketMs = options.bucketMs ?? 1000;
  if (!(bucketMs > 0)) throw new Error(`perf: bucketMs must be positive, got ${bucketMs}`);
  const timeOf = new Map<number, number>();
  for (const op of input.history) timeOf.set(op.index, op.time);
  const measured = pairOps(input.history).map((op) => measure(op, timeOf));
  const end = input.history.reduce((m, op) => Math.max(m, op.time), 0);
  const { faults: rawFaults, events: nemesisEvents, warnings } = faultWindows(input.history, end);

  const countsByF: Record<string, TypeCounts> = {};
  const latByF = new Map<string, number[]>();
  for (const m of measured) {
    const c = countsByF[m.f] ?? { ok: 0, fail: 0, info: 0 };
    countsByF[m.f] = { ...c, [m.type]: c[m.type] + 1 };
    if (m.latencyMs !== null) {
      let l = latByF.get(m.f);
      if (l === undefined) latByF.set(m.f, (l = []));
      l.push(m.latencyMs);
    }
  }
  const latencyByF: Record<string, LatencyQuantiles> = {};
  for (const f of Object.keys(countsByF).sort()) latencyByF[f] = latencyQuantiles(latByF.get(f) ?? []);

  const series = buildSeries(measured, end, bucketMs);
  const faults: FaultWindow[] = rawFaults.map((w) => ({ ...w, durationS: (w.to - w.from) / 1e9, ...windowStats(measured.filter((m) => m.at >= w.from && m.at < w.to), (w.to - w.from) / 1e9) }));
  const inAnyFault = (m: Measured): boolean => rawFaults.some((w) => m.at >= w.from && m.at < w.to);
  const outside = measured.filter((m) => !inAnyFault(m));
  const inside = measured.filter(inAnyFault);
  const faultTime = unionLength(rawFaults.map((w) => [w.from, w.to] as const));
  const outsideFaults = windowStats(outside, Math.max(0, end - faultTime) / 1e9);

  const all = windowStats(measured, end / 1e9);
  const durationS = end / 1e9;
  const summary =
    measured.length === 0
      ? 'empty history: nothing to measure'
      : `${measured.length} ops in ${durationS.toFixed(1)} s: ${all.counts.ok} ok, ${all.counts.fail} fail, ${all.counts.info} info; ` +
        `availability ${pct(all.availability)}, p50 ${fmt(all.latency.p50)} ms, p99 ${fmt(all.latency.p99)} ms` +
        (faults.length > 0 ? `; ${faults.length} fault windows, availability inside them ${pct(windowStats(inside, 0).availability)}, outside ${pct(outsideFaults.availability)}` : '');

  return {
    checker: 'perf',
    valid: measured.length === 0 ? 'unknown' : true,
    summary,
    ops: measured.length,
    counts: all.counts,
    countsByF,
    latency: all.latency,
    latencyByF,
    durationS,
    bucketMs,
    series,
    faults,
    outsideFaults,
    nemesisEvents,
    warnings,
  };
}

export class PerfChecker implements Checker {
  readonly name = 'perf';
  constructor(private readonly options: PerfOptions = {}) {}
  check(input: CheckInput): PerfResult {
    return checkPerf(input, this.options);
  }
}

/** Nearest-rank quantiles of latencies in ms. */
export function latencyQuantiles(xs: readonly number[]): LatencyQuantiles {
  if (xs.length === 0) return { count: 0, p50: null, p90: null, p99: null, max: null, mean: null };
  const s = Float64Array.from(xs).sort();
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  let sum = 0;
  for (const x of s) sum += x;
  return { count: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[s.length - 1]!, mean: sum / s.length };
}

function measure(op: CompletedOp, timeOf: ReadonlyMap<number, number>): Measured {
  const completedAt = op.completeIndex === null ? undefined : timeOf.get(op.completeIndex);
  const at = completedAt ?? op.start;
  return { f: op.f, type: op.type, at, latencyMs: op.type === 'ok' ? (op.end - op.start) / NS_PER_MS : null };
}

function windowStats(ms: readonly Measured[], seconds: number): WindowStats {
  const counts = { ok: 0, fail: 0, info: 0 };
  const lat: number[] = [];
  for (const m of ms) {
    counts[m.type] += 1;
    if (m.latencyMs !== null) lat.push(m.latencyMs);
  }
  const total = counts.ok + counts.fail + counts.info;
  return { counts, availability: total === 0 ? null : counts.ok / total, okPerSec: seconds > 0 ? counts.ok / seconds : 0, latency: latencyQuantiles(lat) };
}

function buildSeries(measured: readonly Measured[], end: number, bucketMs: number): SeriesPoint[] {
  if (measured.length === 0) return [];
  const width = bucketMs * NS_PER_MS;
  const n = Math.floor(end / width) + 1;
  const buckets = Array.from({ length: n }, () => ({ ok: 0, fail: 0, info: 0, lat: [] as number[] }));
  for (const m of measured) {
    const b = buckets[Math.min(n - 1, Math.max(0, Math.floor(m.at / width)))]!;
    b[m.type] += 1;
    if (m.latencyMs !== null) b.lat.push(m.latencyMs);
  }
  const perSec = 1000 / bucketMs;
  return buckets.map((b, i) => {
    const total = b.ok + b.fail + b.info;
    const q = latencyQuantiles(b.lat);
    return { t: (i * bucketMs) / 1000, okPerSec: b.ok * perSec, failPerSec: b.fail * perSec, infoPerSec: b.info * perSec, availability: total === 0 ? null : b.ok / total, p50: q.p50, p99: q.p99 };
  });
}

/**
 * Fault windows from the nemesis process (Jepsen's convention): an op whose f is `start-X`
 * opens window X, `stop-X` closes it; each recorded as an invoke and an `info` completion.
 * The window runs from the start's completion (or invocation, if it never completed) to the
 * stop's completion; one still open at the end runs to the end of the history.
 */
function faultWindows(history: readonly Op[], end: number): { faults: Omit<FaultWindow, keyof WindowStats | 'durationS'>[]; events: { f: string; time: number; value: unknown }[]; warnings: string[] } {
  const faults: Omit<FaultWindow, keyof WindowStats | 'durationS'>[] = [];
  const events: { f: string; time: number; value: unknown }[] = [];
  const warnings: string[] = [];
  const open = new Map<string, { from: number; value: unknown }>();
  let pending: Op | null = null;
  const happened = (f: string, time: number, value: unknown, index: number): void => {
    if (f.startsWith('start-')) {
      const name = f.slice('start-'.length);
      if (open.has(name)) warnings.push(`op ${index}: ${f} while ${name} is already open (ignored)`);
      else open.set(name, { from: time, value });
    } else if (f.startsWith('stop-')) {
      const name = f.slice('stop-'.length);
      const w = open.get(name);
      if (w === undefined) warnings.push(`op ${index}: ${f} with no open ${name} window (ignored)`);
      else {
        faults.push({ name, from: w.from, to: time, closed: true, value: w.value });
        open.delete(name);
      }
    } else {
      events.push({ f, time, value });
    }
  };
  for (const op of history) {
    if (op.process !== 'nemesis') continue;
    if (op.type === 'invoke') {
      if (pending !== null) happened(pending.f, pending.time, pending.value, pending.index);
      pending = op;
      continue;
    }
    if (pending !== null && pending.f === op.f) {
      // The completion's value often says what was done; fall back to the invocation's.
      happened(op.f, op.time, op.value ?? pending.value, op.index);
      pending = null;
    } else {
      if (pending !== null) happened(pending.f, pending.time, pending.value, pending.index);
      pending = null;
      happened(op.f, op.time, op.value, op.index);
    }
  }
  if (pending !== null) happened(pending.f, pending.time, pending.value, pending.index);
  for (const [name, w] of open) faults.push({ name, from: w.from, to: Math.max(end, w.from), closed: false, value: w.value });
  faults.sort((a, b) => a.from - b.from);
  return { faults, events, warnings };
}

function unionLength(spans: readonly (readonly [number, number])[]): number {
  const s = [...spans].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let curFrom = -Infinity;
  let curTo = -Infinity;
  for (const [from, to] of s) {
    if (from > curTo) {
      if (curTo > curFrom) total += curTo - curFrom;
      curFrom = from;
      curTo = to;
    } else curTo = Math.max(curTo, to);
  }
  if (curTo > curFrom) total += curTo - curFrom;
  return total;
}

const pct = (x: number | null): string => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
const fmt = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(1));
