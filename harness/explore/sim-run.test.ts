/**
 * `--runtime sim` end to end, through the same runTest and CLI users call: a short seeded run
 * under every fault the store supports, replay equality (same seed and flags = the same
 * history.jsonl, byte for byte), shrinking of a failing run into a smaller one that replays,
 * exploration over seeds, and what the sim refuses.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram, configFromOptions, main } from '../cli.ts';
import type { RunConfig } from '../run.ts';
import { runTest } from '../run.ts';
import { explore } from './explore.ts';
import { replayArgs } from './replay.ts';
import { shrinkRun } from './shrink.ts';

const scratch = mkdtempSync(join(tmpdir(), 'sim-run-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function config(args: string[], dir: string): RunConfig {
  const p = buildProgram();
  p.parse(['--runtime', 'sim', '--results-dir', join(scratch, dir), ...args], { from: 'user' });
  return configFromOptions(p.opts());
}

const history = (dir: string): string => readFileSync(join(dir, 'history.jsonl'), 'utf8');

describe('--runtime sim', () => {
  it('a seeded run under every fault the store supports: valid, with the usual results and its planned schedule', async () => {
    const c = config(['--workload', 'set', '--nemesis', 'all', '--time-limit', '20', '--nemesis-interval', '3', '--seed', '4'], 'all');
    const out = await runTest(c, { quiet: true, publish: false });
    expect(out.valid).toBe(true);
    expect(out.counts.ok).toBeGreaterThan(500);
    expect(out.schedule?.length).toBeGreaterThanOrEqual(3);
    const run = JSON.parse(readFileSync(join(out.dir, 'run.json'), 'utf8')) as { config: { runtime: string }; replay: string };
    expect(run.config.runtime).toBe('sim');
    expect(run.replay).toContain('--seed 4');
    const faults = history(out.dir)
      .split('\n')
      .filter((l) => l.includes('"nemesis"') && l.includes('"invoke"'))
      .map((l) => (JSON.parse(l) as { f: string }).f);
    expect(faults.filter((f) => f.startsWith('start-')).length).toBe(out.schedule?.length);
  }, 120_000);

  it('--compose: faults of different nemeses overlap in the history, one nemesis never overlaps itself; --system-option max-append-bytes reaches the nodes', async () => {
    const c = config(['--workload', 'register', '--nemesis', 'partition,kill,pause', '--compose', '--nemesis-interval', '2', '--time-limit', '20', '--seed', '6', '--system-option', 'max-append-bytes=300'], 'compose');
    const out = await runTest(c, { quiet: true, publish: false });
    expect(out.valid).toBe(true);
    const active = new Set<string>();
    let overlapped = false;
    for (const line of history(out.dir).split('\n')) {
      if (!line.includes('"process":"nemesis"') || !line.includes('"type":"info"')) continue;
      const f = (JSON.parse(line) as { f: string }).f;
      const m = /^(start|stop)-(.+)$/.exec(f);
      if (m === null) continue;
      const name = m[2] as string;
      if (m[1] === 'start') {
        expect(active.has(name)).toBe(false);
        if (active.size > 0) overlapped = true;
        active.add(name);
      } else active.delete(name);
    }
    expect(overlapped).toBe(true);
    const started = readFileSync(join(out.dir, 'nodes', 'n1.log'), 'utf8').split('\n').find((l) => l.includes('"node started"'));
    expect(started).toContain('"maxAppendBytes":300');
  }, 120_000);

  it('final reads the system refuses outright (too large for --system-option max-proposal-bytes) make the verdict unknown and say so, not "never recovered"', async () => {
    const c = config(['--workload', 'append', '--nemesis', 'none', '--time-limit', '4', '--seed', '3', '--system-option', 'max-proposal-bytes=256'], 'refused');
    const out = await runTest(c, { quiet: true, publish: false });
    expect(out.valid).toBe('unknown');
    const results = JSON.parse(readFileSync(join(out.dir, 'results.json'), 'utf8')) as { checkers: Record<string, { valid: unknown; summary: string }> };
    const recovery = results.checkers['recovery'];
    expect(recovery?.summary).toMatch(/final reads were refused by the system.*too-large/);
    expect(recovery?.summary).not.toContain('never recovered');
  }, 120_000);

  it('small append messages (--system-option max-append-bytes=256) do not refuse larger writes: the append workload stays valid', async () => {
    const c = config(['--workload', 'append', '--nemesis', 'none', '--time-limit', '4', '--seed', '3', '--system-option', 'max-append-bytes=256'], 'small-appends');
    const out = await runTest(c, { quiet: true, publish: false });
    expect(out.valid).toBe(true);
    expect(out.counts.ok).toBeGreaterThan(100);
    const started = readFileSync(join(out.dir, 'nodes', 'n1.log'), 'utf8').split('\n').find((l) => l.includes('"node started"'));
    expect(started).toContain('"maxAppendBytes":256');
    expect(started).toContain('"maxProposalBytes":1048576');
  }, 120_000);

  it('replay: the same seed and flags give the same history.jsonl byte for byte; another seed does not', async () => {
    const args = ['--workload', 'register', '--nemesis', 'partition,kill,clock', '--time-limit', '12', '--nemesis-interval', '3', '--storage-fault-mode'];
    const a = await runTest(config([...args, '--seed', '21'], 'replay-a'), { quiet: true, publish: false });
    const b = await runTest(config([...args, '--seed', '21'], 'replay-b'), { quiet: true, publish: false });
    const other = await runTest(config([...args, '--seed', '22'], 'replay-c'), { quiet: true, publish: false });
    expect(history(a.dir).length).toBeGreaterThan(10_000);
    expect(history(b.dir)).toBe(history(a.dir));
    expect(history(other.dir)).not.toBe(history(a.dir));
    expect(a.replay).toBe(b.replay);
  }, 120_000);

  it('a failing run is shrunk to fewer faults and ops, and the shrunk replay command reproduces it exactly', async () => {
    const c = config(['--workload', 'register', '--nemesis', 'partition', '--unsafe', 'stale-reads', '--time-limit', '20', '--nemesis-interval', '3', '--seed', '2'], 'shrink');
    const out = await runTest(c, { quiet: true, publish: false });
    expect(out.valid).toBe(false);
    const shrunk = await shrinkRun(c, out, { maxTries: 40 });
    expect(shrunk).not.toBeNull();
    if (shrunk === null) return;
    expect(shrunk.faults.length).toBeLessThan(out.schedule?.length ?? 0);
    expect(shrunk.maxOps).toBeLessThan(out.mainOps / 4);
    expect(shrunk.outcome.valid).toBe(false);
    expect(shrunk.dir).toBe(join(out.dir, 'shrunk'));
    expect(readFileSync(join(shrunk.dir, 'report.html'), 'utf8')).toContain('<html');
    // The printed command, run through the CLI into another folder: exit 1, the same history.
    const argv = shrunk.replay.replace(/^npm run jepsen -- /, '').split(' ');
    expect(argv).toContain('--replay-schedule');
    const again = join(scratch, 'shrink-replayed');
    expect(await main([...argv, '--results-dir', again, '--quiet', '--no-shrink'])).toBe(1);
    expect(history(join(again, 'latest'))).toBe(history(shrunk.dir));
  }, 300_000);

  it('--runs explores seeds on worker processes and names the failing ones with shrunk replays', async () => {
    const c = config(['--workload', 'register', '--nemesis', 'partition', '--unsafe', 'stale-reads', '--time-limit', '10', '--nemesis-interval', '2', '--seed', '11'], 'explore');
    const lines: string[] = [];
    const out = { write: (s: string) => lines.push(s) } as unknown as NodeJS.WritableStream;
    const summary = await explore(c, { runs: 3, jobs: 2, out });
    expect(summary.runs).toBe(3);
    expect(summary.valid + summary.invalid + summary.unknown).toBe(3);
    expect(summary.errors).toBe(0);
    expect(summary.invalid).toBeGreaterThan(0);
    for (const f of summary.failing.filter((x) => x.valid === false)) {
      expect(f.replay).toContain(`--seed ${f.seed}`);
      expect(f.shrunk?.replay).toContain('--replay-schedule');
    }
    expect(lines.join('')).toMatch(/\[explore\] 3\/3 runs/);
  }, 300_000);

  it('--runs: a seed with no verdict within the wall budget is an error with its replay command; its worker is replaced and the next seed runs', async () => {
    const c = config(['--workload', 'register', '--nemesis', 'none', '--time-limit', '5', '--seed', '3'], 'budget');
    const slow = { ...c, timeLimitS: 3000 };
    const out = { write: () => true } as unknown as NodeJS.WritableStream;
    const hung = await explore(slow, { runs: 1, jobs: 1, out, runWallBudgetMs: 3000 });
    expect(hung.errors).toBe(1);
    expect(hung.failing[0]?.error).toMatch(/no verdict within 3 s of wall time/);
    expect(hung.failing[0]?.replay).toContain('--time-limit 3000 --rate 100 --seed 3');
    const fine = await explore(c, { runs: 2, jobs: 1, out, runWallBudgetMs: 120_000 });
    expect(fine).toMatchObject({ valid: 2, errors: 0 });
  }, 120_000);

  it('refuses what it cannot run, with exit 64 and the reason', async () => {
    const err: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => err.push(String(s)) > 0) as typeof process.stderr.write;
    try {
      expect(await main(['--runtime', 'sim', '--system', 'etcd'])).toBe(64);
      expect(await main(['--runs', '3'])).toBe(64);
      expect(await main(['--runtime', 'sim', '--system-option', 'max-append-bytes=12'])).toBe(64);
      const bad = join(scratch, 'bad-schedule.json');
      writeFileSync(bad, JSON.stringify([{ atMs: 1000, nemesis: 'kill', durationMs: -1, seed: 1 }]));
      expect(await main(['--runtime', 'sim', '--nemesis', 'partition', '--replay-schedule', bad])).toBe(64);
    } finally {
      process.stderr.write = write;
    }
    const text = err.join('');
    expect(text).toMatch(/etcd.*sim|sim.*etcd/);
    expect(text).toMatch(/--runs: only with --runtime sim/);
    expect(text).toMatch(/--system-option max-append-bytes: expected an integer from 256/);
    expect(text).toMatch(/bad-schedule\.json: fault 0: durationMs must be a non-negative integer/);
    expect(text).toMatch(/nemesis "kill" is not one of this run's/);
  });

  it('replayArgs spell out every flag that changes the run', () => {
    const c = config(['--workload', 'set', '--nemesis', 'kill', '--seed', '5', '--unsafe', 'no-fsync', '--storage-fault-mode', '--knob', 'latencyMs=300'], 'args');
    const args = replayArgs(c).join(' ');
    for (const part of ['--runtime sim', '--workload set', '--nemesis kill', '--seed 5', '--unsafe no-fsync', '--storage-fault-mode', '--knob latencyMs=300']) expect(args).toContain(part);
  });
});
