import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { checkElection } from '../../checkers/election/election.ts';
import { checkLinearizability } from '../../checkers/linearizability/check.ts';
import { loadRun, RunDirError } from './load-run.ts';
import { leaderIntervals, renderRunReport, writeRunReport } from './report.ts';

const here = dirname(fileURLToPath(import.meta.url));
const VALID = join(here, 'testdata', 'valid-run');
const INVALID = join(here, 'testdata', 'invalid-run');
const REPO = join(here, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'report-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the valid fixture to break in one way. */
function brokenCopy(name: string, breakIt: (dir: string) => void): string {
  const dir = join(scratch, name);
  cpSync(VALID, dir, { recursive: true });
  breakIt(dir);
  return dir;
}

describe('fixtures', () => {
  it('still get the verdicts stored in them from the current checkers', async () => {
    for (const [dir, expected] of [
      [VALID, true],
      [INVALID, false],
    ] as const) {
      const run = loadRun(dir);
      expect(run.results.valid).toBe(expected);
      const lin = await checkLinearizability(run.history, { model: 'register', workers: 0 });
      expect(lin.valid).toBe(run.results.checkers.linearizability?.valid);
      expect(checkElection({ history: run.history, events: run.events }).valid).toBe(run.results.checkers.election?.valid);
    }
  });
});

describe('renderRunReport', () => {
  it('puts the verdict, configuration and every checker of a valid run on the page', async () => {
    const html = await renderRunReport(VALID);
    expect(html).toMatch(/<div class="verdict valid" id="verdict" data-verdict="valid"><div class="word">valid<\/div>/);
    expect(html).toContain('all 3 checkers passed');
    expect(html).toContain('<code>42</code>'); // seed
    expect(html).toContain('a'.repeat(40)); // git revision
    for (const c of ['linearizability', 'election', 'replicas']) expect(html).toContain(`<tr data-checker="${c}">`);
    expect(html).not.toContain('id="linearizability"');
  });

  it('draws throughput, latency, nemesis and leader charts with the partition shaded', async () => {
    const html = await renderRunReport(VALID);
    for (const chart of ['throughput', 'latency', 'nemesis', 'leaders']) expect(html).toContain(`data-chart="${chart}"`);
    // Shaded in throughput, latency and leaders charts.
    expect(html.match(/<g class="fault" data-fault="partition">/g)?.length).toBe(3);
    expect(html).toMatch(/<g class="series" data-series="ok"><polyline points="[\d.]+,[\d.]+ [\d.]+,[\d.]+/);
    expect(html).toContain('data-marker="heal"');
    expect(html).toContain('minority: n1,n2 · majority: n3,n4,n5');
  });

  it('names the failing checker up front and embeds the linearizability explanation for an invalid run', async () => {
    const html = await renderRunReport(INVALID);
    expect(html).toContain('data-verdict="invalid"');
    expect(html).toMatch(/<b>linearizability<\/b>: not linearizable: key &quot;r1&quot;/);
    expect(html).toContain('<section id="linearizability">');
    const srcdoc = /srcdoc="([^"]*)"/.exec(html)?.[1] ?? '';
    expect(srcdoc).toContain('Longest linearizable prefix');
    expect(srcdoc).toContain('Cannot be linearized next');
  });

  it('references nothing outside the file', async () => {
    for (const dir of [VALID, INVALID]) {
      const html = await renderRunReport(dir);
      expect(html).not.toMatch(/<script[^>]*\ssrc=|<link\s|@import|url\(\s*['"]?(https?:|\/\/)/i);
      expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    }
  });

  it('writes report.html into the run directory by default, or where --out says', async () => {
    const dir = brokenCopy('write-default', () => {});
    const path = await writeRunReport(dir);
    expect(path).toBe(join(dir, 'report.html'));
    expect(readFileSync(path, 'utf8')).toContain('data-verdict="valid"');
    const other = join(scratch, 'elsewhere.html');
    expect(await writeRunReport(dir, other)).toBe(other);
    expect(existsSync(other)).toBe(true);
  });
});

describe('leaderIntervals', () => {
  it('follows each node from its leader samples until it reports another role or term', () => {
    const run = loadRun(VALID);
    const ivs = leaderIntervals(run.events);
    expect(ivs.map((i) => [i.node, i.term])).toEqual([
      ['n1', 2],
      ['n3', 3],
    ]);
    // n1 leads term 2 from its first role event until it hears of term 3 after the partition heals.
    expect(ivs[0]?.from).toBeCloseTo(0.8);
    expect(ivs[0]?.to).toBeGreaterThanOrEqual(15);
    expect(ivs[0]?.to).toBeLessThan(16);
  });

  it('closes an interval at a term change even when the node stays leader', () => {
    const ivs = leaderIntervals([
      { kind: 'role', time: 1e9, node: 'n1', role: 'leader', term: 1, leader: 'n1' },
      { kind: 'role', time: 2e9, node: 'n1', role: 'leader', term: 4, leader: 'n1' },
      { kind: 'role', time: 3e9, node: 'n1', role: 'follower', term: 5, leader: null },
    ]);
    expect(ivs).toEqual([
      { node: 'n1', term: 1, from: 1, to: 2 },
      { node: 'n1', term: 4, from: 2, to: 3 },
    ]);
  });
});

describe('bad run directories', () => {
  it('names a missing directory', () => {
    expect(() => loadRun(join(scratch, 'nope'))).toThrow(/nope: no such run directory/);
  });

  it('names a missing results.json (an unfinished run)', () => {
    const dir = brokenCopy('no-results', (d) => rmSync(join(d, 'results.json')));
    expect(() => loadRun(dir)).toThrow(RunDirError);
    expect(() => loadRun(dir)).toThrow(/results\.json: missing/);
  });

  it('names malformed JSON and bad fields in results.json and run.json', () => {
    const badJson = brokenCopy('bad-json', (d) => writeFileSync(join(d, 'results.json'), '{"valid": tru'));
    expect(() => loadRun(badJson)).toThrow(/results\.json: not valid JSON/);
    const badValid = brokenCopy('bad-valid', (d) => writeFileSync(join(d, 'results.json'), '{"valid":"yes","checkers":{}}'));
    expect(() => loadRun(badValid)).toThrow(/results\.json: field "valid" must be true, false or "unknown", got "yes"/);
    const badChecker = brokenCopy('bad-checker', (d) => writeFileSync(join(d, 'results.json'), '{"valid":true,"checkers":{"x":{"valid":true}}}'));
    expect(() => loadRun(badChecker)).toThrow(/checkers\.x\.summary must be a string/);
    const badRun = brokenCopy('bad-run', (d) => writeFileSync(join(d, 'run.json'), '{"runId":1}'));
    expect(() => loadRun(badRun)).toThrow(/run\.json: field "runId" must be a string/);
  });

  it('names the file and line of a bad history or events line', () => {
    const badHistory = brokenCopy('bad-history', (d) => writeFileSync(join(d, 'history.jsonl'), `${readFileSync(join(d, 'history.jsonl'), 'utf8').split('\n').slice(0, 3).join('\n')}\n{oops}\n{"index":5}\n`));
    expect(() => loadRun(badHistory)).toThrow(/history\.jsonl:4/);
    const badEvents = brokenCopy('bad-events', (d) => writeFileSync(join(d, 'events.jsonl'), '{"kind":"status","time":1}\n{"kind":"weird","time":2}\n{"kind":"status","time":3}\n'));
    expect(() => loadRun(badEvents)).toThrow(/events\.jsonl:2: unknown event kind "weird"/);
  });

  it('loads the kv-hash events etcd runs collect', () => {
    const withHash = brokenCopy('kv-hash', (d) => writeFileSync(join(d, 'events.jsonl'), '{"kind":"kv-hash","time":1,"node":"n1","revision":7,"compactRevision":0,"hash":"123"}\n'));
    expect(loadRun(withHash).events).toHaveLength(1);
  });
});

describe('npm run report', () => {
  const run = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', join(here, 'cli.ts'), ...args], { cwd: REPO }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('writes the report and prints its path', async () => {
    const out = join(scratch, 'cli.html');
    const r = await run(INVALID, '--out', out);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(out);
    expect(readFileSync(out, 'utf8')).toContain('data-verdict="invalid"');
  });

  it('exits 66 naming the file for a malformed run dir, 64 without arguments', async () => {
    const dir = brokenCopy('cli-no-results', (d) => rmSync(join(d, 'results.json')));
    const r = await run(dir);
    expect(r.code).toBe(66);
    expect(r.stderr).toContain(`report: ${join(dir, 'results.json')}: missing`);
    expect((await run()).code).toBe(64);
  });
});
