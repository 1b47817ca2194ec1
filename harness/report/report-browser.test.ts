/**
 * The report in a real browser (Debian's Chromium, driven by playwright-core): the verdict
 * reads right, the charts drew, a checker's details open, the linearizability explanation
 * shows, and the page asked nothing of the network. Screenshots go to a temp dir (printed).
 * Skipped, saying so, only when /usr/bin/chromium is missing (scripts/setup-host.sh installs it).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRunReport } from './report.ts';

const CHROMIUM = '/usr/bin/chromium';

// The page-side callbacks below run in the browser; tsconfig has no DOM lib, so these are the few DOM shapes they use.
interface BrowserElement {
  getBoundingClientRect(): { height: number };
  points?: { numberOfItems: number };
}
declare const getComputedStyle: (el: BrowserElement) => { backgroundColor: string };
const background = (el: BrowserElement): string => getComputedStyle(el).backgroundColor;
const here = dirname(fileURLToPath(import.meta.url));
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`report-browser.test.ts: SKIPPED — ${CHROMIUM} not found (install it with scripts/setup-host.sh or apt-get install chromium)`);

describe.skipIf(!haveChromium)('report in Chromium', () => {
  let browser: Browser;
  const work = mkdtempSync(join(tmpdir(), 'report-browser-'));
  const shots = mkdtempSync(join(tmpdir(), 'report-screenshots-'));

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
