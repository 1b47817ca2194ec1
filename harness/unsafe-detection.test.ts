/**
 * The harness finds real bugs: each of the store's `--unsafe` switches (impl/API.md) breaks
 * one guarantee, and a short `npm run jepsen` run with the right workload and nemesis must
 * exit 1 with the checker for that guarantee saying so, while the same settings without the
 * switch exit 0. Figures from repeated runs are in BUGS-FOUND.md.
 *
 * Each run takes about 45 s of docker time, so these stay out of `npm test`:
 *   JEPSEN_LONG_TESTS=1 npx vitest run harness/unsafe-detection.test.ts
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './run.ts';
import { listLabelled } from './runtime/docker-runtime.ts';
import { RUN_LABEL } from './runtime/runtime.ts';
import { buildPrivateBundle } from './testing/bundle.ts';

const LONG = process.env.JEPSEN_LONG_TESTS === '1';

/** Faults every 5 s over 30 s: two or three fault windows, each long enough for an election. A
 * detection's own args come after these, and the last occurrence of a flag wins. */
const COMMON = ['--time-limit', '30', '--nemesis-interval', '5', '--seed', '1', '--quiet'];

interface Detection {
  readonly unsafe: string;
  readonly args: readonly string[];
  /** The checker that must call the run invalid, and what its summary must say. */
  readonly checker: string;
  readonly summary: RegExp;
}

const DETECTIONS: readonly Detection[] = [
  // A follower answers from its own state: cut off with the old leader it misses new writes.
  { unsafe: 'stale-reads', args: ['--workload', 'register', '--nemesis', 'isolate-leader'], checker: 'linearizability', summary: /not linearizable/ },
  // The isolated leader acknowledges writes it can never commit; the new leader overwrites them.
  { unsafe: 'ack-before-commit', args: ['--workload', 'set', '--nemesis', 'isolate-leader'], checker: 'set', summary: /\d+ lost/ },
  // Every node loses what it never synced when all die at once (power loss).
  { unsafe: 'no-fsync', args: ['--workload', 'set', '--nemesis', 'kill-all', '--storage-fault-mode'], checker: 'set', summary: /\d+ lost/ },
  // A new leader expires the dead leader's grants at once and hands the lease to another holder.
  // The overlap is only visible if someone acquires within the old holder's TTL (2 s) of its
  // last renew: with the default 2 s op timeout every client is still stuck on the dead leader
  // by then, so clients give up after 1 s, and the leader dies every 3 s (more chances).
  {
    unsafe: 'lease-no-wait',
    args: ['--workload', 'lease', '--nemesis', 'kill-leader', '--op-timeout', '1000', '--nemesis-interval', '3'],
    checker: 'lease',
    summary: /both held it/,
  },
];

interface CheckerResult {
  valid: boolean | 'unknown';
  summary: string;
}
interface RunResult {
  exitCode: number | null;
  results: { valid: boolean | 'unknown'; runId: string; checkers: Record<string, CheckerResult> };
}

let bundle: string | undefined;
const resultsDirs: string[] = [];

function jepsen(args: readonly string[]): RunResult {
  const resultsDir = mkdtempSync(join(tmpdir(), 'jepsen-unsafe-'));
  resultsDirs.push(resultsDir);
  const out = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'harness', 'cli.ts'), ...COMMON, ...args, '--results-dir', resultsDir, ...(bundle !== undefined ? ['--bundle', bundle] : [])],
    { cwd: REPO_ROOT, encoding: 'utf8', timeout: 170_000 },
  );
  const results = JSON.parse(readFileSync(join(resultsDir, 'latest', 'results.json'), 'utf8')) as RunResult['results'];
  return { exitCode: out.status, results };
}

const docker = new Dockerode();

describe.skipIf(!LONG)('unsafe switches are caught (JEPSEN_LONG_TESTS=1)', () => {
  beforeAll(() => {
    bundle = buildPrivateBundle('unsafe-detection');
  });
  afterAll(() => {
    if (bundle !== undefined) rmSync(bundle, { force: true });
    for (const d of resultsDirs) rmSync(d, { recursive: true, force: true });
  });

  for (const d of DETECTIONS) {
    it(`--unsafe ${d.unsafe}: ${d.args.join(' ')} exits 1 with ${d.checker} invalid`, { timeout: 180_000 }, async () => {
      const run = jepsen([...d.args, '--unsafe', d.unsafe]);
      expect(run.exitCode).toBe(1);
      const checker = run.results.checkers[d.checker];
      expect(checker?.valid).toBe(false);
      expect(checker?.summary).toMatch(d.summary);
      expect(await listLabelled(docker, `${RUN_LABEL}=${run.results.runId}`)).toEqual([]);
    });
  }

  // The harshest of the settings above without its switch: every node killed at once, on a
  // store that loses unsynced writes when killed. A correct store loses nothing.
  it('control: set, kill-all, --storage-fault-mode, no switch exits 0', { timeout: 180_000 }, async () => {
    const run = jepsen(['--workload', 'set', '--nemesis', 'kill-all', '--storage-fault-mode']);
    expect(run.results.checkers.set?.summary).toBeDefined();
    expect(run.exitCode).toBe(0);
    expect(run.results.valid).toBe(true);
    expect(await listLabelled(docker, `${RUN_LABEL}=${run.results.runId}`)).toEqual([]);
  });
});
