/**
 * npm run bench:report [-- --ops N] [-- --runs R]
 *
 * How long a run report takes to open in a real browser with a large history: a synthetic
 * run of N client operations (default 100,000: 20 client threads, 1% crashed, a partition
 * every 20 s, status samples of 5 nodes every second) is written to a temp dir, its
 * report.html rendered, then opened R times (default 3) in headless Chromium from a file://
 * URL. "Open" is from the navigation request to the timeline's first drawing (the canvas
 * sets `data-drawn`): parsing the page, decoding the embedded operations and drawing them.
 * Every request that is not file:/data:/about: is aborted and fails the bench.
 *
 * Prints one line per run, then one JSON line:
 * {"bench":"report","ops":100000,"openMs":<median>,"openMsRuns":[...],"firstDrawnInPageMs":...,"renderMs":...,"htmlBytes":...}
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import type { NodeEvent, Op } from '../../../checkers/history/types.ts';
import { generateHistory } from '../../../checkers/testing/generate.ts';
import { writeRunReport } from '../report.ts';

const CHROMIUM = '/usr/bin/chromium';
const MS = 1e6;
const S = 1e9;

const { values } = parseArgs({ options: { ops: { type: 'string', default: '100000' }, runs: { type: 'string', default: '3' } } });
const ops = Number(values.ops);
const runs = Number(values.runs);
if (!Number.isInteger(ops) || ops < 1 || !Number.isInteger(runs) || runs < 1) {
  process.stderr.write('bench:report: --ops and --runs must be positive integers\n');
  process.exit(64);
}

/** A run directory the report reads: client ops every 0.6 ms on average, faults and samples on the same clock. */
function writeSyntheticRun(dir: string): { spanS: number } {
  const generated = generateHistory({ model: 'register', ops, keys: 10, processes: 20, infoRate: 0.01, seed: 7 });
  const spacing = 0.3 * MS; // two events per op: ~0.6 ms per op over all threads
  const client = generated.map((op, i) => ({ ...op, key: `r${String(op.key)}`, time: i * spacing }));
  const end = client.length * spacing;
  const nemesis: Omit<Op, 'index'>[] = [];
  for (let t = 10 * S; t + 10 * S < end; t += 20 * S) {
    nemesis.push({ time: t - 15 * MS, process: 'nemesis', type: 'invoke', f: 'start-partition', value: null });
    nemesis.push({ time: t, process: 'nemesis', type: 'info', f: 'start-partition', value: { minority: ['n1', 'n2'], majority: ['n3', 'n4', 'n5'] } });
    nemesis.push({ time: t + 7 * S, process: 'nemesis', type: 'invoke', f: 'stop-partition', value: null });
    nemesis.push({ time: t + 7 * S + 10 * MS, process: 'nemesis', type: 'info', f: 'stop-partition', value: 'network healed' });
  }
  const history: Op[] = [...client, ...nemesis].sort((a, b) => a.time - b.time).map((op, index) => ({ ...op, index }));
  const events: NodeEvent[] = [];
  for (let t = 0, term = 1; t < end; t += S) {
    if (t % (20 * S) === 11 * S) term += 1;
    for (const node of ['n1', 'n2', 'n3', 'n4', 'n5']) {
      const leader = term % 2 === 1 ? 'n1' : 'n3';
      events.push({ kind: 'status', time: t, node, role: node === leader ? 'leader' : 'follower', term, leader, commit: t / S, applied: t / S });
    }
  }
  const counts = { ok: 0, fail: 0, info: 0 };
  for (const op of history) if (op.process !== 'nemesis' && op.type !== 'invoke') counts[op.type] += 1;
  writeFileSync(join(dir, 'history.jsonl'), history.map((op) => JSON.stringify(op)).join('\n') + '\n');
  writeFileSync(join(dir, 'events.jsonl'), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  writeFileSync(
    join(dir, 'run.json'),
    JSON.stringify({
      runId: 'bench-report',
      config: { workload: 'register', nemesis: 'partition', nodes: 5, concurrency: 20, timeLimitS: Math.round(end / S), rate: 0, seed: 7, runtime: 'synthetic', unsafe: [] },
      seed: 7,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: new Date(Date.parse('2026-01-01T00:00:00.000Z') + end / MS).toISOString(),
      versions: { harness: 'bench', node: process.version, git: null },
      command: `npm run bench:report -- --ops ${ops}`,
    }),
  );
  writeFileSync(join(dir, 'results.json'), JSON.stringify({ valid: true, counts, checkers: {} }));
  return { spanS: end / S };
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
};

const dir = mkdtempSync(join(tmpdir(), 'bench-report-'));
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const { spanS } = writeSyntheticRun(dir);
  const t0 = performance.now();
  const path = await writeRunReport(dir);
  const renderMs = performance.now() - t0;
  const htmlBytes = statSync(path).size;
  process.stdout.write(`report of ${ops} ops over ${spanS.toFixed(0)} s rendered in ${renderMs.toFixed(0)} ms, ${(htmlBytes / 2 ** 20).toFixed(1)} MB\n`);

  const openMsRuns: number[] = [];
  const inPage: number[] = [];
  for (let r = 0; r < runs; r++) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const offsite: string[] = [];
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.route('**/*', async (route) => {
      const url = route.request().url();
      if (/^(file|data|about|blob):/.test(url)) await route.continue();
      else {
        offsite.push(url);
        await route.abort();
      }
    });
    const start = performance.now();
    await page.goto(pathToFileURL(path).href, { waitUntil: 'commit' });
    await page.waitForSelector('#tl-canvas[data-drawn="true"]', { state: 'attached', timeout: 60_000 });
    const openMs = performance.now() - start;
    const drawnAt = Number(await page.locator('#tl-canvas').getAttribute('data-first-drawn-ms'));
    const columns = await page.locator('#tl-canvas').getAttribute('data-columns');
    await page.close();
    if (offsite.length > 0) throw new Error(`the report requested off the file: ${offsite.join(', ')}`);
    if (errors.length > 0) throw new Error(`the report logged errors: ${errors.join('; ')}`);
    openMsRuns.push(Math.round(openMs));
    inPage.push(Math.round(drawnAt));
    process.stdout.write(`open ${r + 1}/${runs}: ${openMs.toFixed(0)} ms to the timeline drawn (${drawnAt.toFixed(0)} ms after navigation start in the page; ${columns} columns)\n`);
  }
  process.stdout.write(
    `${JSON.stringify({ bench: 'report', ops, openMs: median(openMsRuns), openMsRuns, firstDrawnInPageMs: median(inPage), renderMs: Math.round(renderMs), htmlBytes, historySpanS: Math.round(spanS) })}\n`,
  );
} finally {
  await browser.close();
  rmSync(dir, { recursive: true, force: true });
}
