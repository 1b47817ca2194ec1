/**
 * What changed between two recorded runs (typically the latest run of a release and of the
 * next): verdicts, each checker's verdict, throughput, latency and availability during
 * faults. Throughput or latency worse by more than `threshold` (default 10 %), an
 * availability down more than 2 percentage points, or the share of indeterminate ops up more
 * than 1 point is a regression; a verdict that got worse always is. Pure: no database.
 */
import type { Validity } from '../../checkers/checker.ts';
import type { RunSummary } from './runs.ts';

export type Direction = 'higher-is-better' | 'lower-is-better';

export interface MetricChange {
  readonly metric: string;
  readonly unit: string;
  readonly base: number | null;
  readonly head: number | null;
  /** head − base; null when either is missing. */
  readonly delta: number | null;
  /** (head − base) / base; null when base is 0 or missing. */
  readonly relative: number | null;
  readonly direction: Direction;
  readonly change: 'better' | 'worse' | 'same' | 'n/a';
  /** Worse by more than the threshold. */
  readonly regression: boolean;
}

export interface VerdictChange {
  readonly checker: string;
  /** null: that run had no such checker. */
  readonly base: Validity | null;
  readonly head: Validity | null;
  readonly changed: boolean;
  readonly regression: boolean;
}

export interface RunComparison {
  readonly base: RunSummary;
  readonly head: RunSummary;
  /** Setup fields that differ (workload, nemesis, nodes ...): figures may not be comparable. */
  readonly setupDifferences: readonly string[];
  readonly verdict: VerdictChange;
  readonly checkers: readonly VerdictChange[];
  readonly metrics: readonly MetricChange[];
  /** One line per regression, worst first: verdicts, then metrics. */
  readonly regressions: readonly string[];
}

export interface CompareOptions {
  /** Relative change of throughput or latency counted as a regression (default 0.1). */
  readonly threshold?: number;
  /** Percentage points an availability may drop before it is a regression (default 2). */
  readonly pointsThreshold?: number;
  /** Latency changes below this many ms are never a regression (default 10). */
  readonly latencyFloorMs?: number;
}

function rankValidity(v: Validity | null): number {
  return v === true ? 2 : v === 'unknown' ? 1 : v === false ? 0 : -1;
}

export function showValidity(v: Validity | null): string {
  return v === null ? 'absent' : v === true ? 'valid' : v === false ? 'invalid' : 'unknown';
}

function verdictChange(checker: string, base: Validity | null, head: Validity | null): VerdictChange {
  // A checker that vanished or got worse is a regression; a new checker is not.
  const regression = base !== null && rankValidity(head) < rankValidity(base);
  return { checker, base, head, changed: base !== head, regression };
}

/**
 * How far a figure must move the wrong way to be a regression: by more than `relative` of
 * its base AND by more than `absolute` in its unit (so 1.0 → 1.2 ms latency, or 0 → 1 info
 * op in ten thousand, is noise, not news).
 */
interface Tolerance {
  readonly relative: number;
  readonly absolute: number;
}

function metric(name: string, unit: string, base: number | null, head: number | null, direction: Direction, tol: Tolerance): MetricChange {
  if (base === null || head === null) return { metric: name, unit, base, head, delta: null, relative: null, direction, change: 'n/a', regression: false };
  const delta = head - base;
  const relative = base === 0 ? null : delta / Math.abs(base);
  const signed = direction === 'higher-is-better' ? delta : -delta;
  const change = Math.abs(delta) < 1e-9 ? 'same' : signed > 0 ? 'better' : 'worse';
  const regression = change === 'worse' && Math.abs(delta) > tol.absolute && (relative === null || Math.abs(relative) > tol.relative);
  return { metric: name, unit, base, head, delta, relative, direction, change, regression };
}

export function compareRuns(base: RunSummary, head: RunSummary, options: CompareOptions = {}): RunComparison {
  const threshold = options.threshold ?? 0.1;
  const setupDifferences: string[] = [];
  const setup: [string, unknown, unknown][] = [
    ['system', base.system, head.system],
    ['workload', base.workload, head.workload],
    ['nemesis', base.nemesis, head.nemesis],
    ['nodes', base.nodes, head.nodes],
    ['concurrency', base.concurrency, head.concurrency],
    ['rate', base.rate, head.rate],
    ['runtime', base.runtime, head.runtime],
    ['unsafe', base.unsafe.join(',') || 'none', head.unsafe.join(',') || 'none'],
  ];
  for (const [k, a, b] of setup) if (a !== b) setupDifferences.push(`${k}: ${String(a)} → ${String(b)}`);

  const names = [...new Set([...Object.keys(base.checkers), ...Object.keys(head.checkers)])].sort();
  const checkers = names.map((n) => verdictChange(n, base.checkers[n]?.valid ?? null, head.checkers[n]?.valid ?? null));
  const verdict = verdictChange('overall', base.valid, head.valid);
  const pct = (x: number | null): number | null => (x === null ? null : x * 100);
  const rel = { relative: threshold, absolute: 0 };
  // Latency: on a shared box a p99 of a few ms moves by several ms between identical runs
  // (a second nightly measured the same store's pause run at p99 8 ms, then 16 ms), so a
  // latency is worse only past both the relative threshold and this many ms.
  const latency = { relative: threshold, absolute: options.latencyFloorMs ?? 10 };
  // Percentages: in percentage points, whatever the base.
  const points = { relative: 0, absolute: options.pointsThreshold ?? 2 };
  const infoShare = (r: RunSummary): number | null => {
    const all = r.okCount + r.failCount + r.infoCount;
    return all === 0 ? null : (r.infoCount / all) * 100;
  };
  const metrics = [
    metric('throughput (ok/s)', 'ops/s', base.okPerS, head.okPerS, 'higher-is-better', rel),
    metric('latency p50', 'ms', base.latencyP50Ms, head.latencyP50Ms, 'lower-is-better', latency),
    metric('latency p99', 'ms', base.latencyP99Ms, head.latencyP99Ms, 'lower-is-better', latency),
    metric('availability', '%', pct(base.availability), pct(head.availability), 'higher-is-better', points),
    metric('availability during faults', '%', pct(base.faultAvailability), pct(head.faultAvailability), 'higher-is-better', points),
    metric('throughput during faults (ok/s)', 'ops/s', base.faultOkPerS, head.faultOkPerS, 'higher-is-better', rel),
    metric('latency p99 during faults', 'ms', base.faultP99Ms, head.faultP99Ms, 'lower-is-better', latency),
    metric('indeterminate (info) ops', '%', infoShare(base), infoShare(head), 'lower-is-better', { relative: 0, absolute: 1 }),
    // Failover: an election takes a few hundred ms, so under 250 ms more is noise.
    metric('longest time without a leader', 'ms', base.leaderlessMaxMs, head.leaderlessMaxMs, 'lower-is-better', { relative: threshold, absolute: 250 }),
  ];
  const regressions: string[] = [];
  if (verdict.regression) regressions.push(`verdict ${showValidity(verdict.base)} → ${showValidity(verdict.head)}`);
  for (const c of checkers) if (c.regression) regressions.push(`${c.checker} ${showValidity(c.base)} → ${showValidity(c.head)}`);
  for (const m of metrics) if (m.regression) regressions.push(`${m.metric} ${fmt(m.base, m.unit)} → ${fmt(m.head, m.unit)}${movement(m)}`);
  return { base, head, setupDifferences, verdict, checkers, metrics, regressions };
}

/** " (+50.0%)", or for a percentage " (-20.0 points)": a relative change of a percentage misleads. */
function movement(m: MetricChange): string {
  if (m.delta === null) return '';
  if (m.unit === '%') return ` (${sign(m.delta)} points)`;
  return m.relative === null ? '' : ` (${sign(m.relative * 100)}%)`;
}

function sign(x: number): string {
  return `${x >= 0 ? '+' : ''}${x.toFixed(1)}`;
}

/** A figure as the comparison prints it: "15 ops/s", "9.91 %", "–" when missing. */
export function formatFigure(v: number | null, unit: string): string {
  return fmt(v, unit);
}

/**
 * The change column as the comparison prints it ("+20.0 (+50.0%) worse  REGRESSION",
 * "(-20.0 points) worse"), empty when either side is missing. The terminal and the
 * `runs serve` page both print this, so they show the same numbers.
 */
export function formatChange(m: MetricChange): string {
  if (m.change === 'n/a') return '';
  return `${m.unit === '%' ? '' : m.delta !== null ? sign(m.delta) : ''}${movement(m)} ${m.change}${m.regression ? '  REGRESSION' : ''}`.trim();
}

function fmt(v: number | null, unit: string): string {
  if (v === null) return '–';
  const n = Number.isInteger(v) || Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${n} ${unit}`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** The comparison as a person reads it in a terminal. */
export function formatComparison(c: RunComparison): string {
  const id = (r: RunSummary): string => `#${r.id} ${r.runId} @ ${r.gitRevision?.slice(0, 12) ?? '?'} (${r.system} ${r.workload}/${r.nemesis}, ${r.startedAt.toISOString()})`;
  const lines: string[] = [`base ${id(c.base)}`, `head ${id(c.head)}`];
  if (c.setupDifferences.length > 0) lines.push(`setup differs (figures may not be comparable): ${c.setupDifferences.join('; ')}`);
  lines.push('');
  lines.push(`${pad('verdict', 34)}${pad(showValidity(c.verdict.base), 14)}${pad(showValidity(c.verdict.head), 14)}${c.verdict.regression ? 'REGRESSION' : c.verdict.changed ? 'changed' : ''}`);
  for (const ch of c.checkers) lines.push(`${pad(`  ${ch.checker}`, 34)}${pad(showValidity(ch.base), 14)}${pad(showValidity(ch.head), 14)}${ch.regression ? 'REGRESSION' : ch.changed ? 'changed' : ''}`);
  lines.push('');
  lines.push(`${pad('metric', 34)}${pad('base', 14)}${pad('head', 14)}change`);
  for (const m of c.metrics) lines.push(`${pad(m.metric, 34)}${pad(fmt(m.base, m.unit), 14)}${pad(fmt(m.head, m.unit), 14)}${formatChange(m)}`);
  lines.push('');
  lines.push(c.regressions.length === 0 ? 'no regressions' : `${c.regressions.length} regression(s): ${c.regressions.join('; ')}`);
  return lines.join('\n');
}
