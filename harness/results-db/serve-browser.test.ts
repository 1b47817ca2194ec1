/**
 * `npm run runs -- serve` in a real browser (Debian's Chromium via playwright-core) against a
 * real throwaway PostgreSQL: the page lists runs newest first coloured by verdict, its
 * filters work, a comparison of two runs and of two releases shows the numbers `npm run
 * runs -- compare` prints, reports open from their run directories (and nothing outside
 * the results roots does), the console stays free of errors, and no request leaves
 * 127.0.0.1. Screenshots are kept in results/test-artifacts/runs-serve/ (printed at the end).
 * Skipped, saying so, only when Chromium or the PostgreSQL server binaries are missing.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRunReport } from '../report/report.ts';
import { compareRuns, formatChange, formatFigure } from './compare.ts';
import { connect, type Sql } from './db.ts';
import { findRun, recordRun } from './runs.ts';
import { migrate } from './schema.ts';
import { startRunsServer, type StartedRunsServer } from './serve.ts';
import { postgresBinDir, startThrowawayPostgres, type StartedPostgres } from './testing/throwaway-postgres.ts';

const CHROMIUM = '/usr/bin/chromium';
const here = dirname(fileURLToPath(import.meta.url));
const REPO = join(here, '..', '..');
const VALID = join(here, '..', 'report', 'testdata', 'valid-run');
const INVALID = join(here, '..', 'report', 'testdata', 'invalid-run');
const SHOTS = join(REPO, 'results', 'test-artifacts', 'runs-serve');
const ready = existsSync(CHROMIUM) && postgresBinDir() !== null;
if (!ready) console.warn(`serve-browser.test.ts: SKIPPED — needs ${CHROMIUM} and the PostgreSQL server binaries (scripts/setup-host.sh installs both)`);

// Page-side callbacks run in the browser; tsconfig has no DOM lib.
interface BrowserElement {
  textContent: string | null;
}
declare const getComputedStyle: (el: BrowserElement) => { backgroundColor: string };

/** A copy of a fixture run with run.json changed by `edit`. */
function runCopy(from: string, to: string, edit: (run: { runId: string; startedAt: string; config: Record<string, unknown>; versions: Record<string, unknown> }) => void): string {
  cpSync(from, to, { recursive: true });
  const file = join(to, 'run.json');
  const run = JSON.parse(readFileSync(file, 'utf8')) as Parameters<typeof edit>[0];
  edit(run);
  writeFileSync(file, JSON.stringify(run, null, 2));
  return to;
}

describe.skipIf(!ready)('npm run runs -- serve, in Chromium', () => {
  let pg: StartedPostgres;
  let sql: Sql;
  let server: StartedRunsServer;
  let browser: Browser;
  const root = mkdtempSync(join(tmpdir(), 'serve-root-'));
  const elsewhere = mkdtempSync(join(tmpdir(), 'serve-elsewhere-'));
  const ids: Record<'valid' | 'invalid' | 'etcd' | 'outside', number> = { valid: 0, invalid: 0, etcd: 0, outside: 0 };
  const offsite: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    pg = await startThrowawayPostgres();
    sql = await connect(pg.url);
    await migrate(sql);
    const valid = runCopy(VALID, join(root, 'register-partition', 'valid'), () => {});
    await writeRunReport(valid); // on disk; the invalid one has none and is rendered on demand
    const invalid = runCopy(INVALID, join(root, 'register-partition', 'invalid'), () => {});
    const etcd = runCopy(VALID, join(root, 'set-kill', 'etcd'), (r) => {
      r.runId = 'etcd-run';
      r.startedAt = '2026-01-01T00:02:00.000Z';
      r.config.system = 'etcd';
      r.config.workload = 'set';
      r.config.nemesis = 'kill';
      r.versions.git = 'c'.repeat(40);
      r.versions.store = 'etcd 3.4.33';
    });
    const outside = runCopy(VALID, join(elsewhere, 'outside'), (r) => {
      r.runId = 'outside-run';
      r.startedAt = '2026-01-01T00:03:00.000Z';
    });
    ids.valid = (await recordRun(sql, valid)).id;
    ids.invalid = (await recordRun(sql, invalid)).id;
    ids.etcd = (await recordRun(sql, etcd)).id;
    ids.outside = (await recordRun(sql, outside)).id;
    server = await startRunsServer({ sql, resultsRoots: [root] });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    mkdirSync(SHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await sql?.end({ timeout: 5 });
    await pg?.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
    console.log(`runs serve screenshots: ${SHOTS}`);
  });

  /** A page on which every request not to 127.0.0.1 is recorded and aborted, and console errors are kept. */
  async function guardedPage(): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${String(e)}`));
    await page.route('**/*', async (route) => {
      const url = new URL(route.request().url());
      if (url.protocol === 'data:' || url.protocol === 'about:' || url.hostname === '127.0.0.1') await route.continue();
      else {
        offsite.push(url.href);
        await route.abort();
      }
    });
    return page;
  }

  const rowIds = (page: Page): Promise<number[]> => page.locator('tr.run').evaluateAll((rows: { getAttribute(n: string): string | null }[]) => rows.map((r) => Number(r.getAttribute('data-run-id'))));

  it('request guard: a request off 127.0.0.1 is caught (so the checks below can fail)', async () => {
    const page = await guardedPage();
    await page.setContent('<img src="http://serve-test.invalid/x.png">', { waitUntil: 'load' });
    expect(offsite.splice(0)).toEqual(['http://serve-test.invalid/x.png']);
    consoleErrors.splice(0); // the aborted image logs one; the real pages below must log none
    await page.close();
  });

  it('lists the runs newest first, coloured by verdict, with their system and release', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await guardedPage();
    await page.goto(server.url);
    expect(await rowIds(page)).toEqual([ids.outside, ids.etcd, ids.invalid, ids.valid]);
    const invalidRow = page.locator(`tr.run[data-run-id="${ids.invalid}"]`);
    expect(await invalidRow.getAttribute('data-verdict')).toBe('invalid');
    expect(await invalidRow.locator('td.verdict').innerText()).toBe('INVALID');
    expect(await invalidRow.evaluate((el: BrowserElement) => getComputedStyle(el).backgroundColor)).toBe('rgb(255, 235, 233)');
    expect(await page.locator(`tr.run[data-run-id="${ids.valid}"]`).evaluate((el: BrowserElement) => getComputedStyle(el).backgroundColor)).toBe('rgb(218, 251, 225)');
    const etcdRow = page.locator(`tr.run[data-run-id="${ids.etcd}"]`);
    expect(await etcdRow.innerText()).toMatch(/etcd\s+set\s+kill\s+VALID\s+cccccccccccc\s+etcd 3\.4\.33/);
    // Runs recorded without a system are the reference store.
    expect(await invalidRow.locator('td').nth(3).innerText()).toBe('raftstore');
    await page.screenshot({ path: join(SHOTS, 'runs-list.png'), fullPage: true });
    await page.close();
  });

  it('filters by release, system, workload and nemesis (each select submits on change)', async () => {
    const page = await guardedPage();
    await page.goto(server.url);
    await Promise.all([page.waitForURL(/workload=set/), page.locator('#workload-select').selectOption('set')]);
    expect(await rowIds(page)).toEqual([ids.etcd]);
    await page.goto(server.url);
    await Promise.all([page.waitForURL(/system=raftstore/), page.locator('#system-select').selectOption('raftstore')]);
    expect(await rowIds(page)).toEqual([ids.outside, ids.invalid, ids.valid]);
    await Promise.all([page.waitForURL(/release=b+/), page.locator('#release-select').selectOption('b'.repeat(40))]);
    expect(await rowIds(page)).toEqual([ids.invalid]);
    await page.goto(`${server.url}?release=${encodeURIComponent('etcd 3.4.33')}`);
    expect(await rowIds(page)).toEqual([ids.etcd]);
    await page.goto(`${server.url}?system=etcd&nemesis=partition`);
    expect(await rowIds(page)).toEqual([]);
    expect(await page.locator('#no-runs').innerText()).toContain('No recorded runs match these filters');
    await page.close();
  });

  it('compares two selected runs with the numbers `npm run runs -- compare` prints', async () => {
    const page = await guardedPage();
    await page.goto(server.url);
    const button = page.locator('#compare-selected');
    expect(await button.isDisabled()).toBe(true);
    // Picked head first: the page still makes the older run the base.
    await page.locator(`input[name=run][value="${ids.invalid}"]`).check();
    await page.locator(`input[name=run][value="${ids.valid}"]`).check();
    expect(await button.isDisabled()).toBe(false);
    await Promise.all([page.waitForURL(/\/compare\?/), button.click()]);

    const c = compareRuns(await findRun(sql, String(ids.valid)), await findRun(sql, String(ids.invalid)));
    expect(await page.locator('#base a').innerText()).toBe(`#${ids.valid}`);
    expect(await page.locator('#regressions').innerText()).toBe(`${c.regressions.length} regression(s): ${c.regressions.join('; ')}`);
    expect(await page.locator('#setup').innerText()).toContain('unsafe: none → stale-reads');
    expect(await page.locator('#verdicts tr[data-checker="linearizability"]').innerText()).toMatch(/linearizability\s+valid\s+invalid\s+REGRESSION/);
    for (const m of c.metrics) {
      const row = page.locator(`#metrics tr[data-metric="${m.metric}"]`);
      expect([await row.locator('td.base').innerText(), await row.locator('td.head').innerText(), await row.locator('td.change').innerText()]).toEqual([
        formatFigure(m.base, m.unit),
        formatFigure(m.head, m.unit),
        formatChange(m),
      ]);
    }

    // And the command line says the same.
    const cli = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(here, 'cli.ts'), 'compare', String(ids.valid), String(ids.invalid)], { cwd: REPO, env: { ...process.env, JEPSEN_DATABASE_URL: pg.url } });
    for (const m of c.metrics) {
      const line = cli.stdout.split('\n').find((l) => l.startsWith(m.metric.padEnd(34)));
      expect(line).toBeDefined();
      expect(line).toContain(formatFigure(m.base, m.unit));
      expect(line?.trimEnd().endsWith(formatChange(m))).toBe(true);
    }
    expect(cli.stdout).toContain(`${c.regressions.length} regression(s): ${c.regressions.join('; ')}`);
    await page.screenshot({ path: join(SHOTS, 'compare-runs.png'), fullPage: true });
    await page.close();
  });

  it('compares two releases: the newest run of each', async () => {
    const page = await guardedPage();
    await page.goto(`${server.url}?system=raftstore`);
    await page.locator('#base-select').selectOption('a'.repeat(40));
    await page.locator('#head-select').selectOption('b'.repeat(40));
    await Promise.all([page.waitForURL(/\/compare\?base=a+&head=b+/), page.locator('#compare-releases-button').click()]);
    expect(page.url()).toContain('system=raftstore');
    // Release aaaa has two raftstore runs (valid and outside): the newest is the base.
    expect(await page.locator('#base a').innerText()).toBe(`#${ids.outside}`);
    expect(await page.locator('#head a').innerText()).toBe(`#${ids.invalid}`);
    expect(await page.locator('#verdicts tr[data-checker="overall"]').innerText()).toMatch(/overall\s+valid\s+invalid\s+REGRESSION/);
    await page.close();
    // (fetched, not browsed: Chromium logs every 404 page to the console)
    const none = await fetch(`${server.url}compare?base=${'a'.repeat(40)}&head=${'c'.repeat(40)}&system=raftstore`);
    expect(none.status).toBe(404);
    expect(await none.text()).toContain(`no recorded run of release &quot;${'c'.repeat(40)}&quot; (system raftstore)`);
  });

  it("opens each run's report from its directory, renders one never written, and serves nothing outside the results roots", async () => {
    const page = await guardedPage();
    await page.goto(server.url);
    await Promise.all([page.waitForURL(/\/report\.html$/), page.locator(`tr.run[data-run-id="${ids.valid}"] a.report`).click()]);
    expect(await page.locator('#verdict .word').innerText()).toBe('VALID');
    // The report's own script runs under the server's policy: the timeline draws.
    await expect.poll(() => page.locator('#tl-canvas').getAttribute('data-drawn')).toBe('true');
    await page.goto(`${server.url}runs/${ids.invalid}/report.html`);
    expect(await page.locator('#verdict .word').innerText()).toBe('INVALID');
    expect(existsSync(join(root, 'register-partition', 'invalid', 'report.html'))).toBe(false); // read only
    await page.close();

    const outside = await fetch(`${server.url}runs/${ids.outside}/report.html`);
    expect(outside.status).toBe(403);
    expect(await outside.text()).toContain('is outside the results directories this server shows');
    expect((await fetch(`${server.url}runs/999999/report.html`)).status).toBe(404);
    expect((await fetch(`${server.url}runs/${ids.valid}/../../etc/passwd`)).status).toBe(404);
  });

  it('answers only GET and HEAD, refuses bad queries, and forbids every outside source in its policy', async () => {
    const res = await fetch(server.url);
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'none'; /);
    expect((await fetch(server.url, { method: 'POST', body: 'x' })).status).toBe(405);
    expect((await fetch(`${server.url}compare?run=${ids.valid}`)).status).toBe(400);
    expect((await fetch(`${server.url}?limit=0`)).status).toBe(400);
  });

  it('logged no console errors and made no request off 127.0.0.1', () => {
    expect(consoleErrors).toEqual([]);
    expect(offsite).toEqual([]);
  });
});
