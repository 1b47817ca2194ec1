/**
 * The nightly matrix: a bad entry is refused with the file, the line and the reason before
 * anything runs; the checked-in default parses and fits the time budget; and one real run
 * end to end (docker, a throwaway PostgreSQL) is recorded, summarised and compared with an
 * earlier release's run of the same system × workload × nemesis.
 */
import { getEventListeners } from 'node:events';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { connect } from '../results-db/db.ts';
import { recordRun } from '../results-db/runs.ts';
import { migrate } from '../results-db/schema.ts';
import { postgresBinDir, startThrowawayPostgres, type StartedPostgres } from '../results-db/testing/throwaway-postgres.ts';
import { buildPrivateBundle } from '../testing/bundle.ts';
import { DEFAULT_CONFIG, estimateRemainingS, main, nightlyExitStatus, runNightly, summaryTable } from './cli.ts';
import type { NightlyRow } from './cli.ts';
import { ConfigError, loadNightlyPlan, parseNightlyPlan, type NightlyRun } from './config.ts';

const F = 'matrix.yml';
const parse = (text: string): ReturnType<typeof parseNightlyPlan> => parseNightlyPlan(text, F, '/tmp/r');
const refused = (text: string): string => {
  try {
    parse(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('accepted');
};

describe('nightly matrix: refused before anything runs, naming the file, the line and the reason', () => {
  it('expands systems × workloads × nemeses with defaults and per-entry options', () => {
    const plan = parse(['defaults: { nodes: 3, time-limit: 20 }', 'matrix:', '  - systems: [raftstore]', '    workloads: [register, set]', '    nemeses: [partition, kill]', '    options: { time-limit: 10 }'].join('\n'));
    expect(plan.runs.map((r) => `${r.workload}/${r.nemesis}`)).toEqual(['register/partition', 'register/kill', 'set/partition', 'set/kill']);
    expect(plan.runs[0]?.config).toMatchObject({ system: 'raftstore', nodes: 3, timeLimitS: 10, resultsDir: '/tmp/r' });
    expect(plan.runs[0]?.where).toBe('matrix.yml:3');
  });
  it('unknown keys, names and values', () => {
    expect(refused('matrix:\n  - systems: [raftstore]\n    workloads: [register]\n    nemesis: [kill]\n')).toBe('matrix.yml:4: unknown key "nemesis" in a matrix entry (known: systems, workloads, nemeses, expect, attempts, finding, options)');
    expect(refused('matrix:\n  - systems: [raftstore]\n    workloads: [regster]\n    nemeses: [kill]\n')).toMatch(/^matrix\.yml:3: raftstore × regster × kill: --workload: unknown workload "regster"/);
    expect(refused('matrix:\n  - systems: [raftstore]\n    workloads: [register]\n    nemeses: [kill, flood]\n')).toMatch(/^matrix\.yml:4: raftstore × register × flood: --nemesis: unknown nemesis "flood"/);
    expect(refused('matrix:\n  - systems: [mongo]\n    workloads: [register]\n    nemeses: [kill]\n')).toMatch(/^matrix\.yml:2: mongo × register × kill: --system: unknown system "mongo"/);
    expect(refused('defaults:\n  nodes: 3\n  time-limt: 5\nmatrix:\n  - systems: [raftstore]\n    workloads: [register]\n    nemeses: [kill]\n')).toMatch(/^matrix\.yml:3: defaults: unknown option "time-limt"/);
    expect(refused('defaults:\n  nodes: 0\nmatrix:\n  - systems: [raftstore]\n    workloads: [register]\n    nemeses: [kill]\n')).toMatch(/^matrix\.yml:2: raftstore × register × kill: .*--nodes: expected an integer from 1 to 15, got 0/);
    expect(refused('matrix:\n  - systems: [etcd]\n    workloads: [register]\n    nemeses: [kill, clock]\n')).toMatch(/^matrix\.yml:4: etcd × register × clock: --nemesis clock needs clock, which etcd does not support/);
    expect(refused('matrix: [\n')).toMatch(/^matrix\.yml:\d+: not valid YAML/);
    expect(refused('defaults: {}\n')).toMatch(/^matrix\.yml:1: no `matrix:`/);
    expect(refused('matrix: []\n')).toMatch(/^matrix\.yml:1: `matrix:` must be a non-empty list/);
  });
  it('the CLI exits 64 on a bad matrix and runs nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nightly-bad-'));
    writeFileSync(join(dir, 'bad.yml'), 'matrix:\n  - systems: [raftstore]\n    workloads: [register]\n    nemeses: [nope]\n');
    expect(await main(['--config', join(dir, 'bad.yml'), '--results-dir', dir])).toBe(64);
    rmSync(dir, { recursive: true, force: true });
  });
  it('a release that cannot be built stops the nightly before its first run (exit 69), naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nightly-preflight-'));
    const matrixFile = join(dir, 'm.yml');
    writeFileSync(
      matrixFile,
      [
        'matrix:',
        '  - systems: [raftstore]',
        '    workloads: [register]',
        '    nemeses: [partition]',
        '    options: { runtime: sim, time-limit: 5 }',
        '  - systems: [etcd]',
        '    workloads: [set]',
        '    nemeses: [kill]',
        '    options: { etcd-version: v3.99.0, nodes: 3 }',
      ].join('\n'),
    );
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    let code: number;
    try {
      code = await main(['--config', matrixFile, '--results-dir', dir]);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(69);
    // Docker missing is also exit 69 (its own message); with it, the build is what stops the night.
    expect(written.join('')).toMatch(/--etcd-version v3\.99\.0: |docker/i);
    expect(existsSync(join(dir, 'register-partition'))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
  it('the checked-in default parses and fits 30 minutes on 2 cores', () => {
    const plan = loadNightlyPlan(DEFAULT_CONFIG, '/tmp/r');
    expect(plan.runs.length).toBeGreaterThan(5);
    // Each run: its time limit, its recovery, and about 15 s of set-up, collection and checking;
    // a known bug's reproduction counted at all its attempts (none reproducing).
    const estimateS = plan.runs.reduce((s, r) => s + r.attempts * (r.config.timeLimitS + r.config.recoveryS + 15), 0);
    expect(estimateS).toBeLessThan(30 * 60);
  });
  it('the checked-in known bugs parse, each expects invalid, and fit 28 minutes when none reproduces', () => {
    const plan = loadNightlyPlan(join(import.meta.dirname, 'known-bugs.yml'), '/tmp/r');
    expect(plan.runs.length).toBeGreaterThanOrEqual(5);
    expect(plan.runs.every((r) => r.expect === 'invalid' && r.attempts > 1)).toBe(true);
    expect(new Set(plan.runs.flatMap((r) => r.config.unsafe))).toEqual(new Set(['stale-reads', 'ack-before-commit', 'no-fsync', 'lease-no-wait']));
    expect(plan.runs.some((r) => r.system === 'etcd' && r.config.systemOptions?.etcdVersion === 'v3.5.2')).toBe(true);
    expect(plan.runs.some((r) => r.system === 'etcd' && r.nemesis === 'failpoint' && r.config.systemOptions?.etcdVersion === 'v3.5.4' && r.config.systemOptions.failpoints === 'raftBeforeSave')).toBe(true);
        const compaction = plan.runs.find((r) => r.system === 'etcd' && r.config.systemOptions?.etcdVersion === 'v3.5.15');
    expect(compaction?.finding?.test('watch: 4 gaps (2 changes missed at the compaction revision a watcher resumed from; first: …)')).toBe(true);
    expect(compaction?.finding?.test('watch: 3 gaps (first: watcher p25 never saw put of w/k2 at revision 880)')).toBe(false);
    const defrag = plan.runs.find((r) => r.system === 'etcd' && r.config.systemOptions?.failpoints === 'defragBeforeCopy');
    expect(defrag?.finding?.test('watch: 233 phantoms (7 acknowledged writes seen again at a later revision; first: …)')).toBe(true);
    expect(defrag?.finding?.test('watch: 3 gaps (first: watcher p25 never saw put of w/k2 at revision 880)')).toBe(false);
    const worstS = plan.runs.reduce((s, r) => s + r.attempts * (r.config.timeLimitS + r.config.recoveryS + 15), 0);
    expect(worstS).toBeLessThan(28 * 60);
  });
  it('time left: estimated per attempt from the runs done on the same runtime, or from the settings; a known bug at most all its attempts', () => {
    const run = (runtime: 'sim' | 'docker', over: Partial<NightlyRun> = {}): NightlyRun => ({ config: { runtime, timeLimitS: 60, recoveryS: 5 }, expect: 'valid', attempts: 1, ...over }) as unknown as NightlyRun;
    const etcdBug = run('docker', { expect: 'invalid', attempts: 10 });
    // Nothing done yet: the settings (a container run 60 + 5 + 15 s; a simulated one 80 / 20 + 5 s).
    expect(estimateRemainingS([run('sim'), etcdBug], [])).toEqual({ typical: 9 + 80, worst: 9 + 800 });
    // Four simulated runs done in 2 s each (one took 3 attempts): the next simulated run ~1.33 s, not 1/4 of the etcd bug's minutes.
    const done = [1, 1, 1, 3].map((attemptsRun) => ({ run: run('sim'), wallS: 2, attemptsRun }) as unknown as NightlyRow);
    const left = estimateRemainingS([run('sim'), etcdBug], done);
    expect(left.typical).toBeCloseTo(8 / 6 + 80, 5);
    expect(left.worst).toBeCloseTo(8 / 6 + 800, 5);
  });
  it('exit status: 1 on an invalid verdict or a regression, 2 on unknown, else 0', () => {
    const row = (valid: NightlyRow['valid'], regressions: string[] = []): NightlyRow =>
      ({ run: { expect: 'valid', attempts: 1 } as never, valid, dir: null, summary: null, wallS: 1, comparison: regressions.length === 0 ? null : ({ regressions } as never) }) as NightlyRow;
    expect(nightlyExitStatus([row(true), row(true)])).toBe(0);
    expect(nightlyExitStatus([row(true), row('unknown')])).toBe(2);
    expect(nightlyExitStatus([row('unknown'), row(false)])).toBe(1);
    expect(nightlyExitStatus([row(true, ['throughput (ok/s) 100 → 50 (-50.0%)'])])).toBe(1);
  });
  it('exit status of a known bug (expect: invalid): 0 when reproduced, 1 when not, 2 when its runs failed', () => {
    const known = (valid: NightlyRow['valid']): NightlyRow => ({ run: { expect: 'invalid', attempts: 3 } as never, valid, dir: null, summary: null, wallS: 1, comparison: null, attemptsRun: 3 }) as NightlyRow;
    expect(nightlyExitStatus([known(false)])).toBe(0);
    expect(nightlyExitStatus([known(true)])).toBe(1);
    expect(nightlyExitStatus([known('unknown')])).toBe(1);
    expect(nightlyExitStatus([known('error')])).toBe(2);
  });
  it('expect and attempts: parsed, and refused naming the line when wrong', () => {
    const entry = (extra: string): string => ['defaults: { seed: 7 }', 'matrix:', '  - systems: [raftstore]', '    workloads: [register]', '    nemeses: [kill]', extra].join('\n');
    const plan = parse(entry('    expect: invalid\n    attempts: 5'));
    expect(plan.runs[0]).toMatchObject({ expect: 'invalid', attempts: 5, config: { seed: 7 } });
    expect(parse(entry('')).runs[0]).toMatchObject({ expect: 'valid', attempts: 1 });
    expect(refused(entry('    expect: maybe'))).toBe('matrix.yml:6: expect: "valid" or "invalid" (a known bug to reproduce), got "maybe"');
    expect(refused(entry('    expect: invalid\n    attempts: 0'))).toBe('matrix.yml:7: attempts: expected an integer from 1 to 100, got 0');
    expect(refused(entry('    attempts: 3'))).toBe('matrix.yml:6: attempts: only with `expect: invalid` (seeds run until one reproduces the bug)');
  });
  it('finding: a known bug reproduces only when an invalid checker says what it names; refused when not a pattern or not a known bug', () => {
    const entry = (extra: string): string => ['matrix:', '  - systems: [raftstore]', '    workloads: [register]', '    nemeses: [kill]', extra].join('\n');
    const plan = parse(entry("    expect: invalid\n    attempts: 2\n    finding: 'watch: .*seen again'"));
    expect(plan.runs[0]?.finding?.source).toBe('watch: .*seen again');
    expect(refused(entry("    expect: invalid\n    finding: '(unclosed'"))).toMatch(/^matrix\.yml:6: finding: not a regular expression: /);
    expect(refused(entry("    finding: 'x'"))).toBe('matrix.yml:5: finding: only with `expect: invalid` (what a reproduction of the known bug says)');
    const known = (valid: NightlyRow['valid'], found: string | null): NightlyRow =>
      ({ run: { system: 'etcd', workload: 'watch', nemesis: 'failpoint', expect: 'invalid', attempts: 2, finding: /watch: .*seen again/ } as never, valid, dir: null, summary: null, wallS: 1, comparison: null, attemptsRun: 2, found }) as NightlyRow;
    expect(nightlyExitStatus([known(false, 'watch: 1 phantom (1 acknowledged write seen again at a later revision; …)')])).toBe(0);
    // Invalid, but only for another bug (a watch gap): not a reproduction of this one.
    expect(nightlyExitStatus([known(false, null)])).toBe(1);
    expect(summaryTable([known(false, null)])).toContain('NOT REPRODUCED in 2 of 2 attempts (last: invalid, but nothing matched /watch: .*seen again/)');
  });
});

describe('nightly: a known bug the harness must keep finding (expect: invalid), in simulation', () => {
  const resultsDir = mkdtempSync(join(tmpdir(), 'nightly-known-'));
  afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));
  const matrix = (unsafe: string): string =>
    [
      'defaults: { runtime: sim, nodes: 5, time-limit: 10, nemesis-interval: 2, recovery: 3, seed: 1 }',
      'matrix:',
      '  - systems: [raftstore]',
      '    workloads: [register]',
      '    nemeses: [partition]',
      '    expect: invalid',
      '    attempts: 3',
      ...(unsafe === '' ? [] : [`    options: { unsafe: ${unsafe} }`]),
    ].join('\n');

  it('runs seeds until one is invalid and stops there: stale reads, valid at seed 1, caught at seed 2', async () => {
    const lines: string[] = [];
    const interrupt = new AbortController();
    const out = await runNightly(parseNightlyPlan(matrix('stale-reads'), 'known.yml', resultsDir), { summaryDir: join(resultsDir, 'n1'), log: (l) => lines.push(l), signal: interrupt.signal });
    // Each run lets go of the caller's signal when it is done (a nightly passes one signal to run after run).
    expect(getEventListeners(interrupt.signal, 'abort')).toHaveLength(0);
    expect(out.rows).toHaveLength(1);
    expect(out.rows[0]).toMatchObject({ valid: false, attemptsRun: 2, seed: 2, comparison: null, noComparison: "a known bug's reproduction: not compared" });
    expect(out.exit).toBe(0);
    expect(lines.filter((l) => /^ +attempt \d of 3/.test(l))).toEqual(['      attempt 1 of 3 (seed 1): expecting invalid (a known bug)', '      attempt 2 of 3 (seed 2): expecting invalid (a known bug)']);
    expect(out.table).toContain('reproduced: invalid at attempt 2 of 3 (seed 2)');
    const summary = JSON.parse(readFileSync(join(resultsDir, 'n1', 'summary.json'), 'utf8')) as { exit: number; runs: Record<string, unknown>[] };
    expect(summary.runs[0]).toMatchObject({ valid: false, expect: 'invalid', asExpected: true, attempts: 3, attemptsRun: 2, seed: 2 });
  }, 120_000);

  it('the correct store does not reproduce it: every attempt runs, the row says so and the nightly fails', async () => {
    const out = await runNightly(parseNightlyPlan(matrix(''), 'known.yml', resultsDir), { summaryDir: join(resultsDir, 'n2'), log: () => {} });
    expect(out.rows[0]).toMatchObject({ valid: true, attemptsRun: 3, seed: 3 });
    expect(out.table).toContain('NOT REPRODUCED in 3 of 3 attempts (last: valid)');
    expect(out.exit).toBe(1);
  }, 120_000);
});

const haveServer = postgresBinDir() !== null;

describe.skipIf(!haveServer)('nightly end to end (docker, throwaway PostgreSQL)', () => {
  let pg: StartedPostgres;
  let bundle: string;
  const resultsDir = mkdtempSync(join(tmpdir(), 'nightly-results-'));
  const saved = process.env.JEPSEN_DATABASE_URL;

  beforeAll(async () => {
    pg = await startThrowawayPostgres();
    bundle = buildPrivateBundle('nightly');
    process.env.JEPSEN_DATABASE_URL = pg.url;
    // An earlier release's run of the same system × workload × nemesis (another git revision).
    const earlier = join(resultsDir, 'earlier');
    cpSync(join(import.meta.dirname, '..', 'report', 'testdata', 'valid-run'), earlier, { recursive: true });
    // A newer run of the same cell at yet another revision, but with another seed: not a baseline.
    const otherSeed = join(resultsDir, 'other-seed');
    cpSync(earlier, otherSeed, { recursive: true });
    const run = JSON.parse(readFileSync(join(otherSeed, 'run.json'), 'utf8')) as { runId: string; startedAt: string; config: { seed: number }; versions: { git: string } };
    writeFileSync(join(otherSeed, 'run.json'), JSON.stringify({ ...run, runId: `${run.runId}-other`, startedAt: '2026-06-01T00:00:00.000Z', seed: 7, config: { ...run.config, seed: 7 }, versions: { ...run.versions, git: 'd'.repeat(40) } }));
    const sql = await connect(pg.url);
    await migrate(sql);
    await recordRun(sql, earlier);
    await recordRun(sql, otherSeed);
    await sql.end();
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.JEPSEN_DATABASE_URL;
    else process.env.JEPSEN_DATABASE_URL = saved;
    await pg?.stop();
    rmSync(bundle, { force: true });
    rmSync(resultsDir, { recursive: true, force: true });
  });

  it('runs the matrix, records each run, prints the summary and compares with the previous release run the same way', async () => {
    const plan = parseNightlyPlan(
      // Set up as the earlier release's run was (nodes, concurrency, rate, seed, runtime).
      ['defaults: { nodes: 5, concurrency: 4, rate: 25, seed: 42, runtime: local, time-limit: 6, recovery: 1, nemesis-interval: 3 }', 'matrix:', '  - systems: [raftstore]', '    workloads: [register]', '    nemeses: [partition]', `    options: { bundle: ${JSON.stringify(bundle)} }`].join('\n'),
      'test.yml',
      resultsDir,
    );
    const lines: string[] = [];
    const out = await runNightly(plan, { summaryDir: join(resultsDir, 'nightly'), log: (l) => lines.push(l) });
    expect(out.rows).toHaveLength(1);
    const row = out.rows[0]!;
    expect(row.error).toBeUndefined();
    expect(row.valid).toBe(true);
    expect(lines[0]).toMatch(/^\[1\/1\] raftstore register partition \(test\.yml:3/);
    expect(row.comparison?.base.gitRevision).toBe('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    expect(out.table).toMatch(/\| 1 +\| raftstore \| register \| partition \| valid +\|/);
    expect(out.table).toContain('aaaaaaaaaa: valid → valid');
    const summary = JSON.parse(readFileSync(join(resultsDir, 'nightly', 'summary.json'), 'utf8')) as { runs: { valid: unknown; base: { gitRevision: string } | null }[] };
    expect(summary.runs[0]?.valid).toBe(true);
    expect(summary.runs[0]?.base?.gitRevision).toBe('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    expect(row.comparison?.setupDifferences).toEqual([]);
  });
});
