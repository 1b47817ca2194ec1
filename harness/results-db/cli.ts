/**
 * npm run runs -- record RUN_DIR...                 store runs' summaries (migrates first)
 * npm run runs -- list [--workload W] [--nemesis N] [--revision REV] [--limit N] [--json]
 * npm run runs -- compare RUN_A RUN_B [--json]      a run is a row id, run id or results dir
 * npm run runs -- compare --base REV --head REV [--workload W] [--nemesis N] [--json]
 *                                                    the latest run at each git revision
 * npm run runs -- migrate
 * npm run runs -- serve [--port P] [--host H] [--results-root DIR]...
 *                                                    a local web page: runs, filters, comparisons, reports
 *
 * Database: JEPSEN_DATABASE_URL. Exit status: 0 done, 64 usage, 66 a bad run directory or an
 * unknown run (the message names it), 69 database unset or unreachable (or serve's port
 * taken), 70 anything else.
 */
import { Command, CommanderError, Option } from 'commander';
import { HistoryError } from '../../checkers/history/errors.ts';
import { RunDirError } from '../report/load-run.ts';
import { compareRuns, formatComparison } from './compare.ts';
import { connect, databaseUrlFromEnv, DatabaseUnavailableError, withDefaultDatabase, type Sql } from './db.ts';
import { findRun, latestRunAt, listRuns, recordRun, RunNotFoundError, type RunSummary } from './runs.ts';
import { migrate } from './schema.ts';
import { startRunsServer } from './serve.ts';

class UsageError extends Error {}

/** Something the command needs is not available (exit 69), like a port already in use. */
class UnavailableError extends Error {}

async function withDb<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = await connect(databaseUrlFromEnv(withDefaultDatabase()));
  try {
    await migrate(sql);
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

const out = (s: string): boolean => process.stdout.write(`${s}\n`);

function pct(x: number | null): string {
  return x === null ? '–' : `${(x * 100).toFixed(1)}%`;
}

function listLine(r: RunSummary): string {
  const v = r.valid === true ? 'valid' : r.valid === false ? 'INVALID' : 'unknown';
  return [
    String(r.id).padStart(5),
    r.startedAt.toISOString().slice(0, 19).replace('T', ' '),
    `${r.system === 'raftstore' ? '' : `${r.system} `}${r.workload}/${r.nemesis}`.padEnd(28),
    v.padEnd(8),
    (r.gitRevision ?? '?').slice(0, 12).padEnd(12),
    `${r.okPerS === null ? '–' : r.okPerS.toFixed(1)} ok/s`.padStart(12),
    `p99 ${r.latencyP99Ms === null ? '–' : r.latencyP99Ms.toFixed(0)} ms`.padStart(12),
    `faults ${pct(r.faultAvailability)}`.padStart(14),
    `  ${r.resultsDir}`,
  ].join(' ');
}

const program = new Command()
  .name('npm run runs --')
  .description('store run summaries in PostgreSQL (JEPSEN_DATABASE_URL) and compare runs across releases')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command('migrate')
  .description('create or upgrade the schema (every other command does this first)')
  .action(async () => {
    await withDb(async (sql) => {
      const applied = await migrate(sql);
      out(applied.length === 0 ? 'schema up to date' : `applied migrations ${applied.join(', ')}`);
    });
  });

program
  .command('record')
  .description('record finished run directories (re-recording a run replaces its rows)')
  .argument('<run-dir...>', 'run directories, e.g. results/latest')
  .action(async (dirs: string[]) => {
    await withDb(async (sql) => {
      for (const dir of dirs) {
        const r = await recordRun(sql, dir);
        out(`${r.inserted ? 'recorded' : 're-recorded'} run ${r.runId} as #${r.id}`);
      }
    });
  });

program
  .command('list')
  .description('recorded runs, newest first')
  .option('--workload <name>')
  .option('--nemesis <name>')
  .option('--revision <rev>', 'git revision prefix')
  .option('--system <name>', 'system under test (runs recorded before systems were named are raftstore)')
  .addOption(new Option('--limit <n>', 'at most this many').default(50).argParser((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--limit must be a positive integer, got ${JSON.stringify(v)}`);
    return n;
  }))
  .option('--json', 'JSON output')
  .action(async (o: { workload?: string; nemesis?: string; revision?: string; system?: string; limit: number; json?: boolean }) => {
    await withDb(async (sql) => {
      const runs = await listRuns(sql, {
        limit: o.limit,
        ...(o.workload !== undefined ? { workload: o.workload } : {}),
        ...(o.nemesis !== undefined ? { nemesis: o.nemesis } : {}),
        ...(o.revision !== undefined ? { gitRevision: o.revision } : {}),
        ...(o.system !== undefined ? { system: o.system } : {}),
      });
      if (o.json === true) out(JSON.stringify(runs, null, 2));
      else if (runs.length === 0) out('no runs recorded (yet)');
      else for (const r of runs) out(listLine(r));
    });
  });

program
  .command('compare')
  .description('what changed from run A (base) to run B (head): verdicts, throughput, p99 latency, availability during faults')
  .argument('[run-a]', 'base: row id, run id or results directory')
  .argument('[run-b]', 'head: row id, run id or results directory')
  .option('--base <rev>', 'the latest run at this git revision is the base')
  .option('--head <rev>', 'the latest run at this git revision is the head')
  .option('--workload <name>', 'with --base/--head: only runs of this workload')
  .option('--nemesis <name>', 'with --base/--head: only runs with this nemesis')
  .option('--json', 'JSON output')
  .action(async (a: string | undefined, b: string | undefined, o: { base?: string; head?: string; workload?: string; nemesis?: string; json?: boolean }) => {
    const byRev = o.base !== undefined || o.head !== undefined;
    if (byRev && (o.base === undefined || o.head === undefined)) throw new UsageError('compare: give both --base REV and --head REV');
    if (byRev && (a !== undefined || b !== undefined)) throw new UsageError('compare: give either two runs or --base/--head, not both');
    if (!byRev && (a === undefined || b === undefined)) throw new UsageError('compare: give two runs (RUN_A RUN_B) or --base REV --head REV');
    await withDb(async (sql) => {
      const filter = { ...(o.workload !== undefined ? { workload: o.workload } : {}), ...(o.nemesis !== undefined ? { nemesis: o.nemesis } : {}) };
      const base = byRev ? await latestRunAt(sql, o.base as string, filter) : await findRun(sql, a as string);
      const head = byRev ? await latestRunAt(sql, o.head as string, filter) : await findRun(sql, b as string);
      const c = compareRuns(base, head);
      out(o.json === true ? JSON.stringify(c, null, 2) : formatComparison(c));
    });
  });

program
  .command('serve')
  .description('a local web page: recorded runs (newest first, by verdict, filterable), each linked to its report, and comparisons of two runs or two releases')
  .addOption(new Option('--port <n>', 'port (0: any free one)').default(8080).argParser((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(v)}`);
    return n;
  }))
  .option('--host <address>', 'address to listen on (default 127.0.0.1: only this machine; anything else shows the runs to the network)', '127.0.0.1')
  .option('--results-root <dir...>', 'directories whose run directories may be served (default: results/)')
  .action(async (o: { port: number; host: string; resultsRoot?: string[] }) => {
    await withDb(async (sql) => {
      const server = await startRunsServer({ sql, port: o.port, host: o.host, ...(o.resultsRoot !== undefined ? { resultsRoots: o.resultsRoot } : {}) }).catch((e: unknown) => {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new UnavailableError(`cannot listen on ${o.host}:${o.port} (${code}); choose another with --port or --host`);
        throw e;
      });
      out(`serving recorded runs at ${server.url} (Ctrl-C to stop)`);
      await new Promise<void>((stop) => {
        process.once('SIGINT', () => stop());
        process.once('SIGTERM', () => stop());
      });
      await server.close();
    });
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 64);
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof UsageError) {
    process.stderr.write(`runs: ${msg}\n`);
    process.exit(64);
  }
  if (e instanceof RunDirError || e instanceof HistoryError || e instanceof RunNotFoundError) {
    process.stderr.write(`runs: ${msg}\n`);
    process.exit(66);
  }
  if (e instanceof DatabaseUnavailableError || e instanceof UnavailableError) {
    process.stderr.write(`runs: ${msg}\n`);
    process.exit(69);
  }
  process.stderr.write(`runs: ${e instanceof Error ? (e.stack ?? msg) : msg}\n`);
  process.exit(70);
}
