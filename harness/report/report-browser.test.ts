/**
 * The report in a real browser (Debian's Chromium, driven by playwright-core): the verdict
 * reads right, the charts drew, a checker's details open, the linearizability explanation
 * shows, and the page asked nothing of the network. Screenshots go to
 * $TMPDIR/jepsen-ts-report-screenshots (printed; replaced each run).
 * Skipped, saying so, only when /usr/bin/chromium is missing (scripts/setup-host.sh installs it).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Op } from '../../checkers/history/types.ts';
import { writeRunReport } from './report.ts';

const CHROMIUM = '/usr/bin/chromium';

// The page-side callbacks below run in the browser; tsconfig has no DOM lib, so these are the few DOM shapes they use.
interface BrowserElement {
  getBoundingClientRect(): { height: number };
  points?: { numberOfItems: number };
}
declare const getComputedStyle: (el: BrowserElement) => { backgroundColor: string };
interface BrowserCanvas {
  width: number;
  getBoundingClientRect(): { width: number };
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}
const background = (el: BrowserElement): string => getComputedStyle(el).backgroundColor;
const here = dirname(fileURLToPath(import.meta.url));
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`report-browser.test.ts: SKIPPED — ${CHROMIUM} not found (install it with scripts/setup-host.sh or apt-get install chromium)`);

describe.skipIf(!haveChromium)('report in Chromium', () => {
  let browser: Browser;
  const work = mkdtempSync(join(tmpdir(), 'report-browser-'));
  // Kept after the run for a person to look at: one fixed directory, replaced each run (the test run's own temp dir goes at its end).
  const shots = join(process.env['JEPSEN_TEST_OUTER_TMPDIR'] ?? tmpdir(), 'jepsen-ts-report-screenshots');
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(work, { recursive: true, force: true });
    console.log(`report screenshots: ${shots}`);
  });

  /** Opens a fixture's report from a file:// URL, failing every request that is not file:, data: or about:. */
  async function open(fixture: string): Promise<{ page: Page; offsite: string[] }> {
    const out = await writeRunReport(join(here, 'testdata', fixture), join(work, `${fixture}.html`));
    const { page, offsite } = await guardedPage();
    await page.goto(pathToFileURL(out).href, { waitUntil: 'load' });
    return { page, offsite };
  }

  /** A page whose every request that is not file:, data:, about: or blob: is recorded and aborted. */
  async function guardedPage(): Promise<{ page: Page; offsite: string[] }> {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const offsite: string[] = [];
    await page.route('**/*', async (route) => {
      const url = route.request().url();
      if (/^(file|data|about|blob):/.test(url)) await route.continue();
      else {
        offsite.push(url);
        await route.abort();
      }
    });
    return { page, offsite };
  }

  it('request guard: catches a page that reaches off the file (so the checks below can fail)', async () => {
    const { page, offsite } = await guardedPage();
    await page.setContent('<img src="http://report-test.invalid/x.png"><link rel="stylesheet" href="https://report-test.invalid/x.css">', { waitUntil: 'load' });
    expect(offsite.sort()).toEqual(['http://report-test.invalid/x.png', 'https://report-test.invalid/x.css']);
    await page.close();
  });

  it('shows a valid run: verdict, charts with the fault window, expandable checker details, no network', async () => {
    const { page, offsite } = await open('valid-run');
    const verdict = page.locator('#verdict');
    await expect.poll(() => verdict.getAttribute('data-verdict')).toBe('valid');
    // CSS upper-cases the word; innerText is what a person sees.
    expect(await verdict.locator('.word').innerText()).toBe('VALID');
    expect(await verdict.evaluate(background)).toBe('rgb(26, 127, 55)');

    for (const chart of ['throughput', 'latency']) {
      const svg = page.locator(`svg[data-chart="${chart}"]`);
      expect(await svg.boundingBox()).toMatchObject({ width: expect.any(Number) as number });
      const points = await svg.locator('polyline').evaluateAll((ls: BrowserElement[]) => ls.reduce((n, l) => n + (l.points?.numberOfItems ?? 0), 0));
      expect(points).toBeGreaterThan(20);
      const band = svg.locator('g.fault[data-fault="partition"] rect');
      expect(await band.count()).toBe(1);
      const box = await band.boundingBox();
      expect(box?.width).toBeGreaterThan(100); // 7 s of a 24 s axis on a ~1000 px chart
    }
    expect(await page.locator('svg[data-chart="nemesis"] g.bar').count()).toBeGreaterThanOrEqual(2); // the partition and the heal
    expect(await page.locator('svg[data-chart="leaders"] g.bar').count()).toBe(2); // n1 term 2, n3 term 3

    const election = page.locator('tr[data-checker="election"]');
    const pre = election.locator('details pre');
    expect(await pre.isVisible()).toBe(false);
    await election.locator('summary').click();
    expect(await pre.isVisible()).toBe(true);
    expect(await pre.innerText()).toContain('leaderIntervals');

    await page.screenshot({ path: join(shots, 'valid-run.png'), fullPage: true });
    expect(offsite).toEqual([]);
    await page.close();
  });

  it('draws the per-process timeline: one column per process, ok bars green where they belong, the fault across it', async () => {
    const { page, offsite } = await open('valid-run');
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const history = readFileSync(join(here, 'testdata', 'valid-run', 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Op);
    const processes = [...new Set(history.filter((o) => o.process !== 'nemesis').map((o) => o.process as number))].sort((a, b) => a - b);
    expect(processes.length).toBe(12); // 0..9 and the replacements 12, 13 of crashed processes

    const canvas = page.locator('#tl-canvas');
    await expect.poll(() => canvas.getAttribute('data-drawn')).toBe('true');
    expect(await canvas.getAttribute('data-columns')).toBe(String(processes.length));
    expect(await page.locator('#tl-head .tl-col').allInnerTexts()).toEqual(processes.map(String));
    expect(Number(await canvas.getAttribute('data-ops'))).toBe(history.filter((o) => o.process !== 'nemesis' && o.type === 'invoke').length);

    // The longest ok op of process 12: where the layout says it is, the canvas is green.
    const col = processes.indexOf(12);
    let best = { from: 0, to: 0 };
    const open12 = new Map<number, Op>();
    for (const o of history) {
      if (o.process !== 12) continue;
      if (o.type === 'invoke') open12.set(12, o);
      else if (o.type === 'ok') {
        const inv = open12.get(12) as Op;
        if (o.time - inv.time > best.to - best.from) best = { from: inv.time / 1e6, to: o.time / 1e6 };
      }
    }
    const num = async (name: string): Promise<number> => Number(await canvas.getAttribute(`data-${name}`));
    const [left, top, height, colW, w0, w1] = [await num('left'), await num('top'), await num('height'), await num('col-w'), await num('w0'), await num('w1')];
    const yOf = (ms: number): number => top + ((ms - w0) / (w1 - w0)) * height;
    const x = left + (col + 0.5) * colW;
    const y = (yOf(best.from) + yOf(best.to)) / 2;
    const pixel = (px: number, py: number): Promise<number[]> =>
      canvas.evaluate((el: BrowserCanvas, [cx, cy]: [number, number]) => {
        const scale = el.width / el.getBoundingClientRect().width;
        return Array.from(el.getContext('2d').getImageData(Math.round(cx * scale), Math.round(cy * scale), 1, 1).data).slice(0, 3);
      }, [px, py] as [number, number]);
    // Within 3 per channel: canvas colour management may round a channel by one.
    const near = (rgb: number[], want: number[]): boolean => rgb.length === 3 && rgb.every((c, i) => Math.abs(c - (want[i] as number)) <= 3);
    expect(near(await pixel(x, y), [26, 127, 55])).toBe(true);
    // The partition (8.0 s to 15.0 s) is marked in the left gutter, and across the columns.
    expect(near(await pixel(left - 5, yOf(11_500)), [244, 162, 97])).toBe(true);
    expect(near(await pixel(left - 5, yOf(4_000)), [244, 162, 97])).toBe(false);

    // Hovering the bar names the op and its process.
    // (hover positions are from the padding box; the canvas has a 1 px border)
    await canvas.hover({ position: { x: x - 1, y: y - 1 } });
    const tip = page.locator('#tl-tip');
    await expect.poll(() => tip.isVisible()).toBe(true);
    expect(await tip.innerText()).toMatch(/ok · column 12\n/);

    // A 1 s window redraws just that second.
    await page.locator('#tl-span').selectOption('1000');
    await expect.poll(async () => (await num('w1')) - (await num('w0'))).toBe(1000);
    await page.locator('#timeline').screenshot({ path: join(shots, 'valid-run-timeline.png') });
    expect(errors).toEqual([]);
    expect(offsite).toEqual([]);
    await page.close();
  });

  it('shows an invalid run: red verdict naming the checker, and the embedded explanation', async () => {
    const { page, offsite } = await open('invalid-run');
    const verdict = page.locator('#verdict');
    expect(await verdict.locator('.word').innerText()).toBe('INVALID');
    expect(await verdict.evaluate(background)).toBe('rgb(207, 34, 46)');
    expect(await verdict.locator('.why').innerText()).toMatch(/^linearizability: not linearizable: key "r1"/);

    const frame = page.frameLocator('iframe.explain');
    await expect.poll(() => frame.locator('h1').innerText()).toBe('linearizability: invalid');
    expect(await frame.locator('.op.failing').count()).toBe(1);
    expect(await frame.locator('text=Cannot be linearized next').count()).toBe(1);
    // The frame grew to its content (the onload sizing ran).
    const height = await page.locator('iframe.explain').evaluate((el: BrowserElement) => el.getBoundingClientRect().height);
    expect(height).toBeGreaterThan(800);

    await page.screenshot({ path: join(shots, 'invalid-run.png'), fullPage: true });
    expect(offsite).toEqual([]);
    await page.close();
  });
});
