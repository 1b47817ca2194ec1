/**
 * `npm run jepsen:nightly [-- --config FILE] [--base REV] [--results-dir DIR] [--dry-run]`:
 * the nightly matrix (harness/nightly/nightly.yml by default) run end to end: every entry
 * checked first (exit 64 naming the file, line and reason), then each run in turn with a
 * progress line, each recorded (report.html, PostgreSQL), then a summary table and a
 * comparison of every run with the same system × workload × nemesis at the previous release
 * (the newest recorded run at another git revision, or at `--base REV`).
 *
 * An entry with `expect: invalid` is a known bug the harness must keep finding: its seeds run
 * one after another until one comes out invalid (at most `attempts`), and it is not compared
 * with the previous release (a reproduction is not a performance baseline).
 *
 * Exit status: 0 all valid (known bugs reproduced) and no regression; 1 an invalid verdict, a
 * known bug not reproduced, or a regression; 2 a run ended unknown (and nothing worse); 64 a
 * bad matrix; 69 a missing prerequisite; 70 the harness failed; 130 interrupted.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import type { Validity } from '../../checkers/checker.ts';
import { PrerequisiteError, UsageError } from '../errors.ts';
import { loadRun } from '../report/load-run.ts';
import { compareRuns, showValidity } from '../results-db/compare.ts';
import type { RunComparison } from '../results-db/compare.ts';
import { connect, databaseUrlFromEnv, withDefaultDatabase } from '../results-db/db.ts';
import type { Sql } from '../results-db/db.ts';
import { listRuns, summarize } from '../results-db/runs.ts';
import type { RunSummary } from '../results-db/runs.ts';
import { migrate } from '../results-db/schema.ts';
import { REPO_ROOT, runTest } from '../run.ts';
import { makeRuntime } from '../runtime/index.ts';
import { systemByName } from '../systems/index.ts';
import { parseNemeses } from '../nemesis/index.ts';
import { needsFaultInjection } from '../nemesis/nemesis.ts';
import type { NightlyPlan, NightlyRun } from './config.ts';
import { loadNightlyPlan } from './config.ts';

export const DEFAULT_CONFIG = join(REPO_ROOT, 'harness', 'nightly', 'nightly.yml');

export interface NightlyRow {
  readonly run: NightlyRun;
  readonly valid: Validity | 'error';
  readonly dir: string | null;
  readonly error?: string;
  readonly summary: Omit<RunSummary, 'id'> | null;
  readonly wallS: number;
  readonly comparison: RunComparison | null;
  /** Why there is no comparison. */
  readonly noComparison?: string;
  /** Runs it took: 1, or for a known bug (`expect: invalid`) the attempts until it reproduced. */
  readonly attemptsRun?: number;
  /** The seed of the last attempt (the reproducing one, when it reproduced). */
  readonly seed?: number;
  /** A known bug with a `finding`: the invalid checker's "checker: summary" that matched it, or null when none did. */
  readonly found?: string | null;
}

/**
 * Seconds the runs still to go should take: `typical` with every known bug reproducing at its
 * first attempt, `worst` with each taking all its attempts. Each attempt is estimated from the
 * attempts done so far on the same runtime (a simulated run takes seconds, a container run
 * its time limit and more), else from its settings: the time limit, recovery and ~15 s of
 * set-up and checking in containers; a 20th of that plus 5 s in simulation.
 */
export function estimateRemainingS(toGo: readonly NightlyRun[], done: readonly NightlyRow[]): { typical: number; worst: number } {
  const isSim = (r: NightlyRun): boolean => r.config.runtime === 'sim';
  const perAttempt = (r: NightlyRun): number => {
    const same = done.filter((d) => isSim(d.run) === isSim(r));
    const attempts = same.reduce((n, d) => n + (d.attemptsRun ?? 1), 0);
    if (attempts > 0) return same.reduce((t, d) => t + d.wallS, 0) / attempts;
    const settings = r.config.timeLimitS + r.config.recoveryS + 15;
    return isSim(r) ? settings / 20 + 5 : settings;
  };
  let typical = 0;
  let worst = 0;
  for (const r of toGo) {
    const each = perAttempt(r);
    typical += each;
    worst += each * (r.expect === 'invalid' ? r.attempts : 1);
  }
  return { typical, worst };
}

/** Whether a row came out as its entry expects: valid, or (a known bug) invalid. */
export function asExpected(row: NightlyRow): boolean {
  return row.run.expect === 'invalid' ? reproduced(row) : row.valid === true;
}

/** A known bug's attempt reproduced it: invalid, and (with a `finding`) for that reason. */
function reproduced(row: NightlyRow): boolean {
  return row.valid === false && (row.run.finding === undefined || (row.found ?? null) !== null);
}

function stripDirty(rev: string | null): string | null {
  return rev === null ? null : rev.replace(/-dirty$/, '');
}

/**
 * The run to compare with: the newest at another revision (or at `base`) of the same cell run
 * the same way — system, workload, nemesis, nodes, concurrency, rate, runtime, unsafe switches
 * and seed (the fault schedule follows the seed) — so a figure that moved is the release's
 * doing, not the setup's. A run of the same cell set up differently is not a baseline.
 */
export async function previousRelease(sql: Sql, head: Omit<RunSummary, 'id'>, base: string | undefined): Promise<RunSummary | null> {
  const candidates = await listRuns(sql, { system: head.system, workload: head.workload, nemesis: head.nemesis, limit: 200, ...(base !== undefined ? { gitRevision: base } : {}) });
  const headRev = stripDirty(head.gitRevision);
  return (
    candidates.find(
      (r) =>
        r.runId !== head.runId &&
        (base !== undefined || stripDirty(r.gitRevision) !== headRev) &&
        r.seed === head.seed &&
        compareRuns(r, { ...head, id: -1 }).setupDifferences.length === 0,
    ) ?? null
  );
}

function fmt(n: number | null, digits = 0): string {
  return n === null ? '–' : n.toFixed(digits);
}

function verdictCell(r: NightlyRow): string {
  if (r.valid === 'error') return `ERROR: ${r.error ?? ''}`;
  if (r.run.expect !== 'invalid') return showValidity(r.valid);
  const tried = `${r.attemptsRun ?? 1} of ${r.run.attempts}`;
  if (reproduced(r)) return `reproduced: invalid at attempt ${tried} (seed ${r.seed ?? '?'})`;
  const other = r.valid === false && r.run.finding !== undefined ? `, but nothing matched /${r.run.finding.source}/` : '';
  return `NOT REPRODUCED in ${tried} attempts (last: ${showValidity(r.valid)}${other})`;
}

export function summaryTable(rows: readonly NightlyRow[]): string {
  const header = ['#', 'system', 'workload', 'nemesis', 'verdict', 'ok ops', 'ok/s', 'p99 ms', 'time', 'vs previous release'];
  const lines = rows.map((r, i) => {
    const s = r.summary;
    const cmp = r.comparison;
    const vs =
      cmp === null
        ? (r.noComparison ?? '–')
        : `${(cmp.base.gitRevision ?? '?').slice(0, 10)}: ${showValidity(cmp.base.valid)} → ${showValidity(cmp.head.valid)}${cmp.regressions.length > 0 ? `; REGRESSED: ${cmp.regressions.join('; ')}` : '; no regression'}`;
    return [
      String(i + 1),
      r.run.system,
      r.run.workload,
      r.run.nemesis,
      verdictCell(r),
      s === null ? '–' : String(s.okCount),
      fmt(s?.okPerS ?? null, 1),
      fmt(s?.latencyP99Ms ?? null),
      `${r.wallS.toFixed(0)} s`,
      vs,
    ];
  });
  const all = [header, ...lines];
  const widths = header.map((_, c) => Math.max(...all.map((l) => (l[c] ?? '').length)));
  const row = (l: readonly string[]): string => `| ${l.map((x, c) => x.padEnd(widths[c] ?? 0)).join(' | ')} |`;
  return [row(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(row)].join('\n');
}

/**
 * 1 on an invalid verdict, a known bug not reproduced, or a regression; 2 on an unknown (or a
 * harness error); else 0.
 */
export function nightlyExitStatus(rows: readonly NightlyRow[]): number {
  const known = rows.filter((r) => r.run.expect === 'invalid');
  const usual = rows.filter((r) => r.run.expect !== 'invalid');
  if (usual.some((r) => r.valid === false || (r.comparison?.regressions.length ?? 0) > 0)) return 1;
  if (known.some((r) => r.valid !== 'error' && !reproduced(r))) return 1;
  if (rows.some((r) => (r.run.expect !== 'invalid' && r.valid === 'unknown') || r.valid === 'error')) return 2;
  return 0;
}

function buildProgram(): Command {
  return new Command('jepsen:nightly')
    .description('Run the nightly matrix of systems × workloads × nemeses, record every run, compare with the previous release.')
    .addOption(new Option('--config <file>', 'the matrix (YAML)').default(DEFAULT_CONFIG))
    .addOption(new Option('--base <rev>', 'compare with the runs at this git revision (default: the newest run at another revision)'))
    .addOption(new Option('--results-dir <dir>', 'where runs and the summary go').default(join(REPO_ROOT, 'results')))
    .option('--dry-run', 'check the matrix and list the runs, run nothing', false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
}

async function openDatabase(log: (l: string) => void): Promise<Sql | null> {
  const env = withDefaultDatabase(process.env);
  if ((env.JEPSEN_DATABASE_URL ?? '').trim() === '') {
    log('nightly: JEPSEN_DATABASE_URL is empty: runs are not recorded and not compared with the previous release');
    return null;
  }
  try {
    const sql = await connect(databaseUrlFromEnv(env), { connectTimeoutS: 5 });
    await migrate(sql);
    return sql;
  } catch (e) {
    log(`nightly: warning: no results database (${(e as Error).message}): runs are not compared with the previous release`);
    return null;
  }
}

/** One run of a matrix cell: run, summarise, compare with the previous release (not for a known bug's reproduction). */
async function runOnce(sql: Sql | null, plan: NightlyPlan, run: NightlyRun, config: NightlyRun['config'], opts: { base?: string; signal?: AbortSignal }): Promise<NightlyRow> {
  const started = performance.now();
  try {
    const out = await runTest(config, { quiet: true, ...(opts.signal !== undefined ? { signal: opts.signal } : {}) });
    let summary: Omit<RunSummary, 'id'> | null = null;
    let comparison: RunComparison | null = null;
    let noComparison: string | undefined;
    try {
      summary = summarize(loadRun(out.dir));
    } catch (e) {
      // The run has its verdict; only its figures (and so the comparison) are missing.
      noComparison = `no summary: ${(e as Error).message}`;
    }
    if (summary === null) {
      // noComparison says why
    } else if (run.expect === 'invalid') noComparison = "a known bug's reproduction: not compared";
    else if (sql === null) noComparison = 'no results database';
    else {
      const base = await previousRelease(sql, summary, opts.base);
      if (base === null) noComparison = opts.base !== undefined ? `no run set up the same way at ${opts.base}` : 'no earlier release run the same way';
      else comparison = compareRuns(base, { ...summary, id: -1 }, { threshold: plan.regressionThreshold });
    }
    const finding = run.finding;
    const found = finding === undefined ? undefined : (out.results.filter((r) => r.valid === false).map((r) => `${r.checker}: ${r.summary}`).find((line) => finding.test(line)) ?? null);
    return { run, valid: out.valid, dir: out.dir, summary, wallS: (performance.now() - started) / 1000, comparison, ...(noComparison !== undefined ? { noComparison } : {}), ...(found !== undefined ? { found } : {}) };
  } catch (e) {
    if (e instanceof UsageError || e instanceof PrerequisiteError) throw e;
    return { run, valid: 'error', dir: null, error: (e as Error).message.split('\n')[0] ?? '', summary: null, wallS: (performance.now() - started) / 1000, comparison: null, noComparison: 'the run failed' };
  }
}

export async function runNightly(plan: NightlyPlan, opts: { base?: string; summaryDir: string; signal?: AbortSignal; log?: (l: string) => void }): Promise<{ rows: NightlyRow[]; exit: number; table: string }> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const sql = await openDatabase(log);
  const rows: NightlyRow[] = [];
  const t0 = performance.now();
  const aborted = (): boolean => opts.signal?.aborted === true;
  try {
    for (const [i, run] of plan.runs.entries()) {
      if (aborted()) break;
      const elapsed = (performance.now() - t0) / 1000;
      const left = estimateRemainingS(plan.runs.slice(i), rows);
      const eta = `, about ${Math.round(left.typical)} s left${left.worst > left.typical + 1 ? ` (at most ${Math.round(left.worst)} s if the known bugs take every attempt)` : ''}`;
      log(`[${i + 1}/${plan.runs.length}] ${run.system} ${run.workload} ${run.nemesis} (${run.where}; ${Math.round(elapsed)} s elapsed${eta})`);
      const started = performance.now();
      let row: NightlyRow | null = null;
      for (let attempt = 1; attempt <= run.attempts; attempt++) {
        if (attempt > 1 && aborted()) break;
        const seed = run.config.seed + attempt - 1;
        if (run.expect === 'invalid') log(`      attempt ${attempt} of ${run.attempts} (seed ${seed}): expecting invalid (a known bug)`);
        row = { ...(await runOnce(sql, plan, run, { ...run.config, seed }, opts)), attemptsRun: attempt, seed, wallS: (performance.now() - started) / 1000 };
        if (run.expect !== 'invalid' || reproduced(row)) break;
        const other = row.valid === false ? ` (not this bug: nothing matched /${run.finding?.source ?? ''}/)` : '';
        log(`      → ${row.valid === 'error' ? `harness error: ${row.error ?? ''}` : showValidity(row.valid)}${other}: not reproduced yet`);
      }
      if (row === null) break;
      rows.push(row);
      const regressions = row.comparison?.regressions ?? [];
      log(`      → ${row.valid === 'error' ? `harness error: ${row.error ?? ''}` : verdictCell(row)}${row.summary !== null ? `, ${row.summary.okCount} ok ops` : ''}, ${row.wallS.toFixed(0)} s${regressions.length > 0 ? `; REGRESSED vs ${row.comparison?.base.gitRevision?.slice(0, 10) ?? '?'}: ${regressions.join('; ')}` : ''}${row.dir !== null ? `  ${row.dir}` : ''}`);
    }
  } finally {
    await sql?.end({ timeout: 5 });
  }
  const table = summaryTable(rows);
  const exit = nightlyExitStatus(rows);
  mkdirSync(opts.summaryDir, { recursive: true });
  writeFileSync(join(opts.summaryDir, 'summary.md'), `# Nightly ${new Date().toISOString()}\n\nmatrix: ${plan.file}\n\n${table}\n\nexit status ${exit}\n`);
  writeFileSync(
    join(opts.summaryDir, 'summary.json'),
    `${JSON.stringify(
      {
        matrix: plan.file,
        exit,
        runs: rows.map((r) => ({
          system: r.run.system,
          workload: r.run.workload,
          nemesis: r.run.nemesis,
          valid: r.valid,
          expect: r.run.expect,
          asExpected: asExpected(r),
          attempts: r.run.attempts,
          attemptsRun: r.attemptsRun ?? 1,
          seed: r.seed ?? null,
          dir: r.dir,
          error: r.error,
          okOps: r.summary?.okCount ?? null,
          okPerS: r.summary?.okPerS ?? null,
          p99Ms: r.summary?.latencyP99Ms ?? null,
          wallS: Number(r.wallS.toFixed(1)),
          base: r.comparison === null ? null : { gitRevision: r.comparison.base.gitRevision, valid: r.comparison.base.valid, resultsDir: r.comparison.base.resultsDir },
          regressions: r.comparison?.regressions ?? [],
          noComparison: r.noComparison ?? null,
        })),
      },
      null,
      2,
    )}\n`,
  );
  return { rows, exit, table };
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  let o: { config: string; base?: string; resultsDir: string; dryRun: boolean };
  try {
    program.parse(argv as string[], { from: 'user' });
    o = program.opts();
  } catch (e) {
    if (e instanceof CommanderError) return e.code === 'commander.helpDisplayed' ? 0 : 64;
    throw e;
  }
  const resultsDir = resolve(o.resultsDir);
  let plan: NightlyPlan;
  try {
    plan = loadNightlyPlan(resolve(o.config), resultsDir);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`jepsen:nightly: ${e.message}\n`);
      return 64;
    }
    throw e;
  }
  process.stderr.write(`jepsen:nightly: ${plan.runs.length} runs from ${plan.file}\n`);
  if (o.dryRun) {
    for (const [i, r] of plan.runs.entries()) {
      const known = r.expect === 'invalid' ? `; a known bug: expect invalid${r.finding !== undefined ? ` (/${r.finding.source}/)` : ''} within ${r.attempts} attempts from seed ${r.config.seed}` : '';
      process.stdout.write(`${i + 1}. ${r.system} ${r.workload} ${r.nemesis} (${r.config.timeLimitS} s, ${r.config.nodes} nodes, ${r.config.runtime}${known}; ${r.where})\n`);
    }
    return 0;
  }
  // Prerequisites once, before the first run (the host set-up runs here as root if needed).
  for (const name of new Set(plan.runs.map((r) => r.config.runtime))) {
    try {
      await makeRuntime(name).checkPrerequisites();
    } catch (e) {
      if (e instanceof PrerequisiteError) {
        process.stderr.write(`jepsen:nightly: ${e.message}\n`);
        return 69;
      }
      throw e;
    }
  }
  // What the runs need built (an etcd release by name), once and with progress, before the first run.
  const preflights = new Map<string, () => Promise<void>>();
  for (const r of plan.runs) {
    const preflight = systemByName(r.system).preflight;
    const options = r.config.systemOptions ?? {};
    const run = { faultInjection: parseNemeses(r.config.nemesis).some(needsFaultInjection) };
    if (preflight !== undefined) preflights.set(`${r.system} ${JSON.stringify(options)} ${String(run.faultInjection)}`, () => preflight(options, (line) => process.stderr.write(`jepsen:nightly: ${r.system}: ${line}\n`), run));
  }
  for (const preflight of preflights.values()) {
    try {
      await preflight();
    } catch (e) {
      if (e instanceof PrerequisiteError || e instanceof UsageError) {
        process.stderr.write(`jepsen:nightly: ${e.message}\n`);
        return e instanceof UsageError ? 64 : 69;
      }
      throw e;
    }
  }
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const summaryDir = join(resultsDir, 'nightly', stamp);
  try {
    const { table, exit } = await runNightly(plan, { ...(o.base !== undefined ? { base: o.base } : {}), summaryDir, signal: abort.signal });
    process.stdout.write(`\n${table}\n\nsummary: ${join(summaryDir, 'summary.md')}\n`);
    return abort.signal.aborted ? 130 : exit;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`jepsen:nightly: ${e.message}\n`);
      return 64;
    }
    if (e instanceof PrerequisiteError) {
      process.stderr.write(`jepsen:nightly: ${e.message}\n`);
      return 69;
    }
    process.stderr.write(`jepsen:nightly: harness failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 70;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (process.argv[1]?.endsWith('harness/nightly/cli.ts') === true) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`jepsen:nightly: harness failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(70);
    },
  );
}
