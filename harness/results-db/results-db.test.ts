/**
 * Against a real PostgreSQL: a throwaway server (initdb into a temp dir, loopback port)
 * started for this file and removed afterwards. Skipped, saying so, only when the server
 * binaries are not installed.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunDirError } from '../report/load-run.ts';
import { publishRun } from '../report/publish.ts';
import { compareRuns, formatComparison } from './compare.ts';
import { connect, databaseUrlFromEnv, DatabaseUnavailableError, type Sql, withDefaultDatabase } from './db.ts';
import { checkerResults, findRun, latestRunAt, listRuns, recordRun, RunNotFoundError, type RunSummary } from './runs.ts';
import { migrate, MIGRATIONS } from './schema.ts';
import { postgresBinDir, startThrowawayPostgres, type StartedPostgres } from './testing/throwaway-postgres.ts';

const here = dirname(fileURLToPath(import.meta.url));
const VALID = join(here, '..', 'report', 'testdata', 'valid-run');
const INVALID = join(here, '..', 'report', 'testdata', 'invalid-run');
const REPO = join(here, '..', '..');
const haveServer = postgresBinDir() !== null;
if (!haveServer) console.warn('results-db.test.ts: database tests SKIPPED — PostgreSQL server binaries not found (apt-get install postgresql)');

function summary(over: Partial<RunSummary>): RunSummary {
  return {
    id: 1, runId: 'r', system: 'raftstore', startedAt: new Date(0), finishedAt: null, workload: 'register', nemesis: 'partition', nodes: 5, concurrency: 10, rate: 100,
    seed: 1, runtime: 'docker', unsafe: [], gitRevision: 'a', storeVersion: null, harnessVersion: '0.1.0', valid: true, durationS: 60, historyS: 60,
    ops: 1000, okCount: 900, failCount: 100, infoCount: 0, okPerS: 15, availability: 0.9, latencyP50Ms: 5, latencyP90Ms: 10, latencyP99Ms: 40,
    latencyMaxMs: 90, faultCount: 2, faultAvailability: 0.7, faultOkPerS: 10, faultP99Ms: 200, leaderlessMaxMs: 900,
    checkers: { linearizability: { valid: true, summary: 'ok' }, election: { valid: true, summary: 'ok' } }, resultsDir: '/r',
    ...over,
  };
}

describe('compareRuns', () => {
  it('a latency a few ms worse is noise, however large in percent (p99 8 ms -> 16 ms is not a regression)', () => {
    const c = compareRuns(summary({ latencyP99Ms: 8 }), summary({ id: 2, latencyP99Ms: 16 }));
    expect(c.metrics.find((m) => m.metric === 'latency p99')).toMatchObject({ change: 'worse', regression: false });
    expect(compareRuns(summary({ latencyP99Ms: 8 }), summary({ id: 2, latencyP99Ms: 16 }), { latencyFloorMs: 1 }).regressions).toEqual(['latency p99 8 ms → 16 ms (+100.0%)']);
  });

  it('flags a p99 latency 50% worse and a throughput drop, not a 5% wobble', () => {
    const c = compareRuns(summary({}), summary({ id: 2, latencyP99Ms: 60, latencyP50Ms: 5.2, okPerS: 12, infoCount: 2 }));
    const by = Object.fromEntries(c.metrics.map((m) => [m.metric, m]));
    expect(by['latency p99']).toMatchObject({ delta: 20, change: 'worse', regression: true });
    expect(by['latency p50']).toMatchObject({ change: 'worse', regression: false });
    expect(by['throughput (ok/s)']).toMatchObject({ change: 'worse', regression: true });
    // 2 info ops in 1002 (0.2 points) is noise; 10 % of ops would not be.
    expect(by['indeterminate (info) ops']).toMatchObject({ change: 'worse', regression: false });
    expect(compareRuns(summary({}), summary({ infoCount: 110 })).regressions).toEqual(['indeterminate (info) ops 0 % → 9.91 % (+9.9 points)']);
    expect(c.regressions).toEqual(['throughput (ok/s) 15 ops/s → 12 ops/s (-20.0%)', 'latency p99 40 ms → 60 ms (+50.0%)']);
  });

  it('counts verdicts getting worse (or a checker vanishing) as regressions, better ones not', () => {
    const worse = compareRuns(summary({}), summary({ valid: false, checkers: { linearizability: { valid: false, summary: 'stale read' } } }));
    expect(worse.verdict).toMatchObject({ base: true, head: false, regression: true });
    expect(worse.regressions.slice(0, 3)).toEqual(['verdict valid → invalid', 'election valid → absent', 'linearizability valid → invalid']);
    const better = compareRuns(summary({ valid: 'unknown' }), summary({}));
    expect(better.verdict).toMatchObject({ changed: true, regression: false });
    expect(better.regressions).toEqual([]);
  });

  it('a different system under test is a setup difference', () => {
    expect(compareRuns(summary({}), summary({ system: 'etcd' })).setupDifferences).toEqual(['system: raftstore → etcd']);
  });

  it('says when the setups differ, and treats availability during faults as a figure that matters', () => {
    const c = compareRuns(summary({}), summary({ nemesis: 'kill', faultAvailability: 0.5 }));
    expect(c.setupDifferences).toEqual(['nemesis: partition → kill']);
    expect(c.regressions).toContain('availability during faults 70 % → 50 % (-20.0 points)');
    expect(formatComparison(c)).toContain('setup differs (figures may not be comparable): nemesis: partition → kill');
  });
});

describe('database URL', () => {
  it('says what to set when JEPSEN_DATABASE_URL is missing or not a postgres URL', () => {
    expect(() => databaseUrlFromEnv({})).toThrow(/JEPSEN_DATABASE_URL is not set; set it to a PostgreSQL URL/);
    expect(() => databaseUrlFromEnv({ JEPSEN_DATABASE_URL: 'mysql://x' })).toThrow(/must be a postgres:\/\/ URL/);
  });

  it('names the server (without the password) when it cannot be reached', async () => {
    // Port 9 on loopback: nothing listens there (discard service is never enabled here).
    const err = await connect('postgres://u:secret@127.0.0.1:9/db', { connectTimeoutS: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseUnavailableError);
    expect((err as Error).message).toMatch(/^cannot reach PostgreSQL at postgres:\/\/u:\*\*\*@127\.0\.0\.1:9\/db: ECONNREFUSED/);
    expect((err as Error).message).not.toContain('secret');
  });
});

describe.skipIf(!haveServer)('with a real PostgreSQL', () => {
  let pg: StartedPostgres;
  let sql: Sql;
  const scratch = mkdtempSync(join(tmpdir(), 'results-db-test-'));

  beforeAll(async () => {
    pg = await startThrowawayPostgres();
    sql = await connect(pg.url);
  });
  afterAll(async () => {
    await sql?.end({ timeout: 5 });
    await pg?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('migrates once, and a second migrate changes nothing', async () => {
    expect(await migrate(sql)).toEqual([1, 2]);
    expect(await migrate(sql)).toEqual([]);
    const tables = await sql<{ table_name: string }[]>`select table_name from information_schema.tables where table_schema = 'public' order by table_name`;
    expect(tables.map((t) => t.table_name)).toEqual(['checker_results', 'runs', 'schema_migrations']);
  });

  it('records two runs with their figures and per-checker verdicts; re-recording replaces, not duplicates', async () => {
    const a = await recordRun(sql, VALID);
    const b = await recordRun(sql, INVALID);
    expect(a).toMatchObject({ runId: '20260101t000000zvalid0', inserted: true });
    expect(b.inserted).toBe(true);
    const again = await recordRun(sql, VALID);
    expect(again).toEqual({ id: a.id, runId: a.runId, inserted: false });
    const counted = await sql<{ n: number }[]>`select count(*)::int as n from runs`;
    expect(counted[0]?.n).toBe(2);

    const valid = await findRun(sql, String(a.id));
    expect(valid).toMatchObject({ workload: 'register', nemesis: 'partition', nodes: 5, seed: 42, valid: true, gitRevision: 'a'.repeat(40), faultCount: 1, resultsDir: VALID });
    expect(valid.okCount + valid.failCount + valid.infoCount).toBe(664);
    expect(valid.latencyP99Ms).toBeGreaterThan(valid.latencyP50Ms ?? Infinity);
    expect(valid.faultAvailability).toBeLessThan(valid.availability ?? 0);
    // Failover: the election checker saw no leaderless gap in this fixture (0, not "unknown").
    expect(valid.leaderlessMaxMs).toBe(0);
    expect(valid.checkers.election).toEqual({ valid: true, summary: expect.stringMatching(/^one leader per term/) as string });

    const rows = await checkerResults(sql, b.id);
    expect(rows.map((r) => [r.checker, r.valid])).toEqual([
      ['election', true],
      ['linearizability', false],
      ['replicas', true],
    ]);
    expect((rows[1]?.details as { failure?: unknown }).failure).toBeDefined();
  });

  it('lists newest first, filtered by workload or revision', async () => {
    const all = await listRuns(sql);
    expect(all.map((r) => r.runId)).toEqual(['20260101t000100zinvalid', '20260101t000000zvalid0']);
    expect(await listRuns(sql, { workload: 'set' })).toEqual([]);
    expect((await listRuns(sql, { gitRevision: 'bbbb' })).map((r) => r.valid)).toEqual([false]);
  });

  it('records the system under test: run.json config.system, else raftstore; lists filter by it and by release', async () => {
    expect((await findRun(sql, '20260101t000000zvalid0')).system).toBe('raftstore');
    const dir = join(scratch, 'etcd-run');
    cpSync(VALID, dir, { recursive: true });
    const runJson = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as { runId: string; config: Record<string, unknown>; versions: Record<string, unknown> };
    runJson.runId = 'etcd-run';
    runJson.config.system = 'etcd';
    runJson.versions.store = 'etcd 3.4.33';
    writeFileSync(join(dir, 'run.json'), JSON.stringify(runJson));
    const rec = await recordRun(sql, dir);
    expect((await findRun(sql, String(rec.id))).system).toBe('etcd');
    expect((await listRuns(sql, { system: 'etcd' })).map((r) => r.runId)).toEqual(['etcd-run']);
    expect((await listRuns(sql, { system: 'raftstore' })).length).toBe(2);
    expect((await listRuns(sql, { release: 'etcd 3.4.33' })).map((r) => r.runId)).toEqual(['etcd-run']);
    expect((await listRuns(sql, { release: 'bbbb' })).map((r) => r.runId)).toEqual(['20260101t000100zinvalid']);
    await sql`delete from runs where id = ${rec.id}`;
  });

  it('migration 2 gives runs recorded before it system raftstore, or the config.system they carried', async () => {
    await sql.unsafe('create database before_systems');
    const old = await connect(pg.url.replace(/\/postgres$/, '/before_systems'));
    try {
      await old.unsafe(MIGRATIONS[0]!.sql);
      await old`create table schema_migrations (version integer primary key, name text not null, applied_at timestamptz not null default now())`;
      await old`insert into schema_migrations (version, name) values (1, 'runs and checker_results')`;
      for (const [runId, config] of [['plain', { workload: 'register' }], ['named', { workload: 'register', system: 'etcd' }]] as const) {
        await old`insert into runs (run_id, started_at, workload, nemesis, valid, ops, ok_count, fail_count, info_count, fault_count, checkers, config, results_dir)
                  values (${runId}, now(), 'register', 'none', 'true', 0, 0, 0, 0, 0, '{}', ${old.json(config)}, '/nowhere')`;
      }
      await old`insert into checker_results (run, checker, valid, summary, details)
                select id, 'election', 'true', 'ok', ${old.json({ leaderless: { longest: { from: 0, to: 1, durationMs: 1234 } } })} from runs where run_id = 'named'`;
      expect(await migrate(old)).toEqual([2]);
      const rows = await old<{ run_id: string; system: string; leaderless_max_ms: number | null }[]>`select run_id, system, leaderless_max_ms from runs order by run_id`;
      expect(rows.map((r) => [r.run_id, r.system, r.leaderless_max_ms])).toEqual([['named', 'etcd', 1234], ['plain', 'raftstore', null]]);
    } finally {
      await old.end({ timeout: 5 });
    }
  });

  it('finds a run by row id, run id or results directory, and compares them', async () => {
    const byDir = await findRun(sql, INVALID);
    const byRunId = await findRun(sql, '20260101t000100zinvalid');
    expect(byDir.id).toBe(byRunId.id);
    const c = compareRuns(await findRun(sql, VALID), byDir);
    expect(c.verdict).toMatchObject({ base: true, head: false, regression: true });
    expect(c.checkers.find((x) => x.checker === 'linearizability')).toMatchObject({ base: true, head: false, regression: true });
    expect(c.setupDifferences).toEqual(['unsafe: none → stale-reads']);
    expect(c.regressions[0]).toBe('verdict valid → invalid');
    const byRev = compareRuns(await latestRunAt(sql, 'aaaa'), await latestRunAt(sql, 'bbbb', { workload: 'register' }));
    expect(byRev.head.id).toBe(byDir.id);
    await expect(latestRunAt(sql, 'cccc')).rejects.toThrow(/no recorded run at git revision "cccc"/);
    await expect(findRun(sql, 'no-such-run')).rejects.toThrow(RunNotFoundError);
  });

  it('refuses a bad run directory naming the file, and records nothing for it', async () => {
    const dir = join(scratch, 'unfinished');
    cpSync(VALID, dir, { recursive: true });
    rmSync(join(dir, 'results.json'));
    await expect(recordRun(sql, dir)).rejects.toThrow(RunDirError);
    await expect(recordRun(sql, dir)).rejects.toThrow(`${join(dir, 'results.json')}: missing`);
    expect((await listRuns(sql)).length).toBe(2);
  });

  it('publishRun: writes report.html and records the run when JEPSEN_DATABASE_URL is set; only warns when it cannot', async () => {
    const dir = join(scratch, 'published');
    cpSync(INVALID, dir, { recursive: true });
    const lines: string[] = [];
    const p = await publishRun(dir, (l) => lines.push(l), { JEPSEN_DATABASE_URL: pg.url });
    expect(p.report).toBe(join(dir, 'report.html'));
    expect(existsSync(join(dir, 'report.html'))).toBe(true);
    expect(p.recorded?.inserted).toBe(false); // same runId as the fixture: re-recorded
    expect((await findRun(sql, '20260101t000100zinvalid')).resultsDir).toBe(dir);
    expect(p.warnings).toEqual([]);

    const noDb = await publishRun(dir, (l) => lines.push(l), {});
    expect(noDb).toMatchObject({ recorded: null, warnings: [] });
    const down = await publishRun(dir, (l) => lines.push(l), { JEPSEN_DATABASE_URL: 'postgres://u@127.0.0.1:9/x' });
    expect(down.report).not.toBeNull();
    expect(down.warnings).toEqual([expect.stringMatching(/^warning: run not recorded in the results database: cannot reach PostgreSQL at postgres:\/\/u@127\.0\.0\.1:9\/x/) as string]);
    const broken = join(scratch, 'published-broken');
    cpSync(dir, broken, { recursive: true });
    rmSync(join(broken, 'results.json'));
    const bad = await publishRun(broken, (l) => lines.push(l), { JEPSEN_DATABASE_URL: pg.url });
    expect(bad).toMatchObject({ report: null, recorded: null });
    expect(bad.warnings).toHaveLength(2);
    // Put the fixture's own directory back as the recorded one for the tests below.
    await recordRun(sql, INVALID);
  });

  describe('npm run runs', () => {
    const runs = (env: Record<string, string>, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', join(here, 'cli.ts'), ...args], { cwd: REPO, env: { ...process.env, JEPSEN_DATABASE_URL: '', ...env } }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      );

    it('records, lists and compares through the command line', async () => {
      const env = { JEPSEN_DATABASE_URL: pg.url };
      const rec = await runs(env, 'record', VALID);
      expect(rec).toMatchObject({ code: 0 });
      expect(rec.stdout).toMatch(/^re-recorded run 20260101t000000zvalid0 as #\d+/);
      const list = await runs(env, 'list', '--workload', 'register');
      expect(list.code).toBe(0);
      expect(list.stdout.trim().split('\n')).toHaveLength(2);
      expect(list.stdout).toContain('INVALID');
      const cmp = await runs(env, 'compare', '--base', 'aaaa', '--head', 'bbbb');
      expect(cmp.code).toBe(0);
      expect(cmp.stdout).toMatch(/verdict\s+valid\s+invalid\s+REGRESSION/);
      expect(cmp.stdout).toMatch(/latency p99 during faults/);
      const json = await runs(env, 'compare', VALID, INVALID, '--json');
      expect((JSON.parse(json.stdout) as { regressions: string[] }).regressions[0]).toBe('verdict valid → invalid');
    });

    it('exits 69 without a database URL, 66 for an unknown run, 64 for bad usage', async () => {
      const unset = await runs({}, 'list');
      expect(unset.code).toBe(69);
      expect(unset.stderr).toContain('JEPSEN_DATABASE_URL is not set');
      const env = { JEPSEN_DATABASE_URL: pg.url };
      const unknown = await runs(env, 'compare', '999999', VALID);
      expect(unknown.code).toBe(66);
      expect(unknown.stderr).toContain('no recorded run matches "999999"');
      expect((await runs(env, 'compare', '--base', 'aaaa')).code).toBe(64);
    });
  });
});

describe.skipIf(!haveServer)('startThrowawayPostgres', () => {
  it('removes its directory and stops listening when stopped', async () => {
    const pg = await startThrowawayPostgres();
    const dir = dirname(pg.dataDir);
    expect(existsSync(pg.dataDir)).toBe(true);
    await pg.stop();
    expect(existsSync(dir)).toBe(false);
    await expect(connect(pg.url, { connectTimeoutS: 2 })).rejects.toThrow(/ECONNREFUSED/);
    await pg.stop(); // twice is fine
  });
});

describe('tests and the user database', () => {
  it('test runs record nothing in the default local database (vitest sets JEPSEN_DATABASE_URL to the empty string)', async () => {
    expect(process.env.JEPSEN_DATABASE_URL).toBe('');
    const env = withDefaultDatabase(process.env);
    expect(env.JEPSEN_DATABASE_URL).toBe('');
    const dir = mkdtempSync(join(tmpdir(), 'no-db-'));
    cpSync(join(import.meta.dirname, '..', 'report', 'testdata', 'valid-run'), dir, { recursive: true });
    const lines: string[] = [];
    const published = await publishRun(dir, (l) => lines.push(l), env);
    expect(published.recorded).toBeNull();
    expect(lines.some((l) => l.includes("results database"))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });
});
