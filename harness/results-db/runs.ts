/**
 * Recording runs and reading them back. A run's row is its summary (setup, verdict, counts,
 * throughput, latency quantiles, availability inside fault windows); `checker_results` keeps
 * each checker's verdict and details. Recording the same run again replaces its rows, so
 * `recordRun` can be retried or re-run after a checker improves.
 */
import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { CheckResult, Validity } from '../../checkers/checker.ts';
import { loadRun, type LoadedRun } from '../report/load-run.ts';
import { perfOf } from '../report/report.ts';
import type { Sql } from './db.ts';

export interface CheckerVerdict {
  readonly valid: Validity;
  readonly summary: string;
}

export interface RunSummary {
  /** Database row id. */
  readonly id: number;
  readonly runId: string;
  /** The system under test: run.json `config.system`, else "raftstore" (the reference store). */
  readonly system: string;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
  readonly workload: string;
  readonly nemesis: string;
  readonly nodes: number | null;
  readonly concurrency: number | null;
  readonly rate: number | null;
  readonly seed: number | null;
  readonly runtime: string | null;
  readonly unsafe: readonly string[];
  readonly gitRevision: string | null;
  readonly storeVersion: string | null;
  readonly harnessVersion: string | null;
  readonly valid: Validity;
  readonly durationS: number | null;
  readonly historyS: number | null;
  readonly ops: number;
  readonly okCount: number;
  readonly failCount: number;
  readonly infoCount: number;
  readonly okPerS: number | null;
  readonly availability: number | null;
  readonly latencyP50Ms: number | null;
  readonly latencyP90Ms: number | null;
  readonly latencyP99Ms: number | null;
  readonly latencyMaxMs: number | null;
  readonly faultCount: number;
  readonly faultAvailability: number | null;
  readonly faultOkPerS: number | null;
  readonly faultP99Ms: number | null;
  /** Failover: the longest time without a leader (the election checker's `leaderless.longest`), ms. */
  readonly leaderlessMaxMs: number | null;
  readonly checkers: Readonly<Record<string, CheckerVerdict>>;
  readonly resultsDir: string;
}

function validityText(v: Validity): 'true' | 'false' | 'unknown' {
  return v === true ? 'true' : v === false ? 'false' : 'unknown';
}

function validityOf(s: string): Validity {
  return s === 'true' ? true : s === 'false' ? false : 'unknown';
}

/** A checker's result for the details column: long arrays cut, so one huge result cannot bloat the table. */
function trimmedDetails(r: CheckResult): unknown {
  const omit = new Set(['checker', 'valid', 'summary']);
  return JSON.parse(
    JSON.stringify(Object.fromEntries(Object.entries(r).filter(([k]) => !omit.has(k))), (_k, v: unknown) =>
      Array.isArray(v) && v.length > 50 ? [...(v as unknown[]).slice(0, 50), `… ${v.length - 50} more`] : v,
    ),
  ) as unknown;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The system a run exercised; every run before systems were named was of the reference store. */
export const DEFAULT_SYSTEM = 'raftstore';

export function systemOf(config: { readonly [k: string]: unknown }): string {
  const s = config.system;
  return typeof s === 'string' && s !== '' ? s : DEFAULT_SYSTEM;
}

/** The election checker's longest leaderless gap in ms: 0 when it saw none, null without the checker. */
function leaderlessMaxMs(election: CheckResult | undefined): number | null {
  const leaderless = (election as { leaderless?: { longest?: { durationMs?: unknown } | null } } | undefined)?.leaderless;
  if (leaderless === undefined) return null;
  return leaderless.longest === null || leaderless.longest === undefined ? 0 : num(leaderless.longest.durationMs);
}

/** Everything a `runs` row holds, computed from a loaded run directory. */
export function summarize(run: LoadedRun): Omit<RunSummary, 'id'> & { readonly config: unknown } {
  const perf = perfOf(run);
  const c = run.run.config;
  const finishedAt = run.run.finishedAt === undefined ? null : new Date(run.run.finishedAt);
  const startedAt = new Date(run.run.startedAt);
  const all = perf.counts.ok + perf.counts.fail + perf.counts.info;
  // Stats over every fault window together, weighted by what completed in each.
  const inFaults = perf.faults.reduce(
    (acc, w) => ({ ok: acc.ok + w.counts.ok, all: acc.all + w.counts.ok + w.counts.fail + w.counts.info, s: acc.s + w.durationS }),
    { ok: 0, all: 0, s: 0 },
  );
  const faultP99 = perf.faults.map((w) => w.latency.p99).filter((x): x is number => x !== null);
  // Throughput over the client phase (first to last client op), not from time 0: set-up
  // (cluster start, first election) precedes the first client op by seconds.
  let first = Infinity;
  let last = -Infinity;
  for (const op of run.history) {
    if (op.process === 'nemesis') continue;
    if (op.time < first) first = op.time;
    if (op.time > last) last = op.time;
  }
  const clientS = last > first ? (last - first) / 1e9 : 0;
  return {
    runId: run.run.runId,
    system: systemOf(c),
    startedAt,
    finishedAt,
    workload: c.workload ?? run.run.workload?.name ?? 'unknown',
    nemesis: c.nemesis ?? (run.run.nemeses ?? []).join(','),
    nodes: num(c.nodes),
    concurrency: num(c.concurrency),
    rate: num(c.rate),
    seed: num(run.run.seed ?? c.seed),
    runtime: typeof c.runtime === 'string' ? c.runtime : null,
    unsafe: Array.isArray(c.unsafe) ? c.unsafe.map(String) : [],
    gitRevision: run.run.versions?.git ?? null,
    storeVersion: run.run.versions?.store ?? null,
    harnessVersion: run.run.versions?.harness ?? null,
    valid: run.results.valid,
    durationS: finishedAt === null ? null : (finishedAt.getTime() - startedAt.getTime()) / 1000,
    historyS: perf.durationS,
    ops: perf.ops,
    okCount: perf.counts.ok,
    failCount: perf.counts.fail,
    infoCount: perf.counts.info,
    okPerS: clientS > 0 ? perf.counts.ok / clientS : null,
    availability: all === 0 ? null : perf.counts.ok / all,
    latencyP50Ms: perf.latency.p50,
    latencyP90Ms: perf.latency.p90,
    latencyP99Ms: perf.latency.p99,
    latencyMaxMs: perf.latency.max,
    faultCount: perf.faults.length,
    faultAvailability: inFaults.all === 0 ? null : inFaults.ok / inFaults.all,
    faultOkPerS: inFaults.s > 0 ? inFaults.ok / inFaults.s : null,
    faultP99Ms: faultP99.length === 0 ? null : Math.max(...faultP99),
    leaderlessMaxMs: leaderlessMaxMs(run.results.checkers.election),
    checkers: Object.fromEntries(Object.values(run.results.checkers).map((r) => [r.checker, { valid: r.valid, summary: r.summary }])),
    resultsDir: run.dir,
    config: c,
  };
}

export interface RecordOutcome {
  readonly id: number;
  readonly runId: string;
  /** false when the run was already recorded and its rows were replaced. */
  readonly inserted: boolean;
}

/** Records (or re-records) the run in `runDir`. Throws RunDirError naming the file for a bad run dir. */
export async function recordRun(sql: Sql, runDir: string): Promise<RecordOutcome> {
  const run = loadRun(runDir);
  const s = summarize(run);
  const checkerRows = Object.values(run.results.checkers);
  return sql.begin(async (tx) => {
    const row = {
      run_id: s.runId,
      system: s.system,
      started_at: s.startedAt,
      finished_at: s.finishedAt,
      workload: s.workload,
      nemesis: s.nemesis,
      nodes: s.nodes,
      concurrency: s.concurrency,
      rate: s.rate,
      seed: s.seed,
      runtime: s.runtime,
      unsafe: [...s.unsafe],
      git_revision: s.gitRevision,
      store_version: s.storeVersion,
      harness_version: s.harnessVersion,
      valid: validityText(s.valid),
      duration_s: s.durationS,
      history_s: s.historyS,
      ops: s.ops,
      ok_count: s.okCount,
      fail_count: s.failCount,
      info_count: s.infoCount,
      ok_per_s: s.okPerS,
      availability: s.availability,
      latency_p50_ms: s.latencyP50Ms,
      latency_p90_ms: s.latencyP90Ms,
      latency_p99_ms: s.latencyP99Ms,
      latency_max_ms: s.latencyMaxMs,
      fault_count: s.faultCount,
      fault_availability: s.faultAvailability,
      fault_ok_per_s: s.faultOkPerS,
      fault_p99_ms: s.faultP99Ms,
      leaderless_max_ms: s.leaderlessMaxMs,
      checkers: tx.json(s.checkers as unknown as postgresJson),
      config: tx.json(s.config as postgresJson),
      results_dir: s.resultsDir,
    };
    const columns = Object.keys(row) as (keyof typeof row)[];
    const updates = columns.filter((k) => k !== 'run_id');
    const [r] = await tx<{ id: number; inserted: boolean }[]>`
      insert into runs ${tx(row, columns)}
      on conflict (run_id) do update set ${tx(row, updates)}, recorded_at = now()
      returning id, (xmax = 0) as inserted`;
    if (r === undefined) throw new Error(`recording ${s.runId}: the insert returned no row`);
    await tx`delete from checker_results where run = ${r.id}`;
    for (const c of checkerRows) {
      await tx`insert into checker_results (run, checker, valid, summary, details)
               values (${r.id}, ${c.checker}, ${validityText(c.valid)}, ${c.summary}, ${tx.json(trimmedDetails(c) as postgresJson)})`;
    }
    return { id: r.id, runId: s.runId, inserted: r.inserted };
  });
}

type postgresJson = Parameters<Sql['json']>[0];

interface RunRow {
  id: number;
  run_id: string;
  system: string;
  started_at: Date;
  finished_at: Date | null;
  workload: string;
  nemesis: string;
  nodes: number | null;
  concurrency: number | null;
  rate: number | null;
  seed: number | null;
  runtime: string | null;
  unsafe: string[];
  git_revision: string | null;
  store_version: string | null;
  harness_version: string | null;
  valid: string;
  duration_s: number | null;
  history_s: number | null;
  ops: number;
  ok_count: number;
  fail_count: number;
  info_count: number;
  ok_per_s: number | null;
  availability: number | null;
  latency_p50_ms: number | null;
  latency_p90_ms: number | null;
  latency_p99_ms: number | null;
  latency_max_ms: number | null;
  fault_count: number;
  fault_availability: number | null;
  fault_ok_per_s: number | null;
  fault_p99_ms: number | null;
  leaderless_max_ms: number | null;
  checkers: Record<string, { valid: Validity; summary: string }>;
  results_dir: string;
}

function fromRow(r: RunRow): RunSummary {
  return {
    id: r.id,
    runId: r.run_id,
    system: r.system,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    workload: r.workload,
    nemesis: r.nemesis,
    nodes: r.nodes,
    concurrency: r.concurrency,
    rate: r.rate,
    seed: r.seed,
    runtime: r.runtime,
    unsafe: r.unsafe,
    gitRevision: r.git_revision,
    storeVersion: r.store_version,
    harnessVersion: r.harness_version,
    valid: validityOf(r.valid),
    durationS: r.duration_s,
    historyS: r.history_s,
    ops: r.ops,
    okCount: r.ok_count,
    failCount: r.fail_count,
    infoCount: r.info_count,
    okPerS: r.ok_per_s,
    availability: r.availability,
    latencyP50Ms: r.latency_p50_ms,
    latencyP90Ms: r.latency_p90_ms,
    latencyP99Ms: r.latency_p99_ms,
    latencyMaxMs: r.latency_max_ms,
    faultCount: r.fault_count,
    faultAvailability: r.fault_availability,
    faultOkPerS: r.fault_ok_per_s,
    faultP99Ms: r.fault_p99_ms,
    leaderlessMaxMs: r.leaderless_max_ms,
    checkers: r.checkers,
    resultsDir: r.results_dir,
  };
}

// seed is bigint in the table (postgres.js returns int8 as a string); seeds fit a double exactly.
const SELECT = 'select runs.*, seed::float8 as seed from runs';

export interface ListOptions {
  readonly workload?: string;
  readonly nemesis?: string;
  readonly system?: string;
  /** Prefix of the git revision. */
  readonly gitRevision?: string;
  /** A release: a git revision prefix, or a store or harness version exactly. */
  readonly release?: string;
  /** Newest first; default 50. */
  readonly limit?: number;
}

export async function listRuns(sql: Sql, options: ListOptions = {}): Promise<RunSummary[]> {
  const rows = await sql.unsafe<RunRow[]>(
    `${SELECT} where ($1::text is null or workload = $1) and ($2::text is null or nemesis = $2) and ($3::text is null or git_revision like $3 || '%')
       and ($5::text is null or system = $5)
       and ($6::text is null or git_revision like $6 || '%' or store_version = $6 or harness_version = $6)
     order by started_at desc, id desc limit $4`,
    [options.workload ?? null, options.nemesis ?? null, options.gitRevision ?? null, options.limit ?? 50, options.system ?? null, options.release ?? null],
  );
  return rows.map(fromRow);
}

export class RunNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunNotFoundError';
  }
}

/**
 * A recorded run by reference: its row id (digits), its run id (run.json `runId`), or its
 * results directory (a path; `results/latest` works, it is resolved).
 */
export async function findRun(sql: Sql, ref: string): Promise<RunSummary> {
  let rows: RunRow[];
  if (/^\d+$/.test(ref)) rows = await sql.unsafe<RunRow[]>(`${SELECT} where id = $1`, [Number(ref)]);
  else {
    const dir = existsSync(ref) ? realpathSync(resolve(ref)) : resolve(ref);
    rows = await sql.unsafe<RunRow[]>(`${SELECT} where run_id = $1 or results_dir = $2 or results_dir = $3 order by id desc limit 1`, [ref, dir, resolve(ref)]);
  }
  const r = rows[0];
  if (r === undefined) throw new RunNotFoundError(`no recorded run matches ${JSON.stringify(ref)} (give a row id, a run id, or a results directory recorded with \`npm run runs -- record DIR\`)`);
  return fromRow(r);
}

/** The newest run whose git revision starts with `rev` (optionally of one workload/nemesis). */
export async function latestRunAt(sql: Sql, rev: string, options: Omit<ListOptions, 'gitRevision' | 'limit'> = {}): Promise<RunSummary> {
  const [r] = await listRuns(sql, { ...options, gitRevision: rev, limit: 1 });
  if (r === undefined) {
    const where = [options.workload !== undefined ? `workload ${options.workload}` : '', options.nemesis !== undefined ? `nemesis ${options.nemesis}` : ''].filter((x) => x !== '').join(', ');
    throw new RunNotFoundError(`no recorded run at git revision ${JSON.stringify(rev)}${where !== '' ? ` (${where})` : ''}`);
  }
  return r;
}

/** Verdicts of one run's checkers with details, from checker_results. */
export async function checkerResults(sql: Sql, id: number): Promise<{ checker: string; valid: Validity; summary: string; details: unknown }[]> {
  const rows = await sql<{ checker: string; valid: string; summary: string; details: unknown }[]>`select checker, valid, summary, details from checker_results where run = ${id} order by checker`;
  return rows.map((r) => ({ checker: r.checker, valid: validityOf(r.valid), summary: r.summary, details: r.details }));
}
