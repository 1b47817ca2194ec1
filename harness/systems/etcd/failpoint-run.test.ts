/**
 * The failpoint nemesis against a real etcd built with its failpoints (scripts/build-etcd.sh
 * v3.5.4 --failpoints, from the Go module proxy; cached after the first build): etcd#14370, a
 * one-member cluster that acknowledged writes before saving them to its WAL (fixed in v3.5.5).
 * With `raftBeforeSave` armed the member panics between the acknowledgement and the save, and
 * the set checker must report the acknowledged adds the restarted member no longer has —
 * which a plain kill found in 0 of 4 runs (the window is too short to land in by chance).
 * And etcd#14685 on the same build (fixed in v3.5.6): a defragmentation committed the backend
 * without its consistent index, so a member that crashed in it (`defragBeforeCopy`, reached by
 * the nemesis's defragment trigger) replays writes it had applied, at new revisions, which the
 * watch checker sees as acknowledged writes delivered a second time.
 *
 * Each crash finds the bug only if writes were in the window when it struck (a run at these
 * settings did in 7 of 8 runs for etcd#14370), so each test runs seeds one after another until
 * one does, at most three, as `npm run jepsen:known-bugs` does: it fails when none of them does.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { WatchResult } from '../../../checkers/watch/watch.ts';
import { parseKnobs } from '../../nemesis/index.ts';
import { runTest } from '../../run.ts';
import type { RunConfig } from '../../run.ts';

const haveGo = ['/usr/local/go/bin/go', '/usr/lib/go/bin/go', '/usr/bin/go'].some((p) => existsSync(p));
let haveDocker = false;
try {
  execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
  haveDocker = true;
} catch {
  // reported below
}
if (!haveGo || !haveDocker) console.warn(`etcd failpoint test SKIPPED: needs ${haveGo ? '' : 'Go (apt-get install golang-go) '}${haveDocker ? '' : 'Docker (bash scripts/setup-host.sh)'}`);
const results = mkdtempSync(join(tmpdir(), 'jepsen-etcd-failpoint-'));
afterAll(() => rmSync(results, { recursive: true, force: true }));

function config(overrides: Partial<RunConfig> = {}): RunConfig {
  return {
    system: 'etcd',
    workload: 'set',
    nemesis: 'failpoint',
    nodes: 1,
    concurrency: 10,
    timeLimitS: 20,
    rate: 500,
    seed: 11,
    runtime: 'docker',
    resultsDir: results,
    unsafe: [],
    opTimeoutMs: 2000,
    nemesisIntervalS: 4,
    recoveryS: 3,
    logLevel: 'info',
    systemOptions: { etcdVersion: 'v3.5.4', failpoints: 'raftBeforeSave' },
    // Panics only: this is the crash between acknowledging and saving, not a slow disk.
    knobs: parseKnobs(['failpointSleepMs=0']),
    ...overrides,
  };
}

type Outcome = Awaited<ReturnType<typeof runTest>>;

/** Seeds `base`, `base + 1`, … until `checker` says invalid with a summary matching `finding`, at most 3; the last run. */
async function untilFound(cfg: RunConfig, checker: string, finding: RegExp): Promise<Outcome> {
  let out: Outcome | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    out = await runTest({ ...cfg, seed: cfg.seed + attempt }, { quiet: true });
    const result = out.results.find((r) => r.checker === checker);
    if (result?.valid === false && finding.test(result.summary)) break;
  }
  return out!;
}

describe.skipIf(!haveGo || !haveDocker)('etcd with failpoints', () => {
  it('etcd#14370 on v3.5.4: a panic at raftBeforeSave loses acknowledged adds, and the set checker names them', async () => {
    const out = await untilFound(config(), 'set', /lost/);
    const history = readFileSync(join(out.dir, 'history.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"start-failpoint"') && l.includes('"info"'));
    // The nemesis armed the failpoint and the member died there.
    expect(history.some((l) => /"failpoint":"raftBeforeSave","action":"panic","triggered":true/.test(l))).toBe(true);
    const set = out.results.find((r) => r.checker === 'set');
    expect(set?.valid).toBe(false);
    expect(set?.summary).toMatch(/\d+ lost, e\.g\. \d+ lost/);
    const run = JSON.parse(readFileSync(join(out.dir, 'run.json'), 'utf8')) as { versions: Record<string, string> };
    expect(run.versions).toMatchObject({ etcdGofail: 'v0.1.0' });
  }, 900_000);

  it('etcd#14685 on v3.5.4: a panic in a defragmentation replays applied writes, and the watch checker shows each acknowledged write again', async () => {
    // v3.5.4 also sends progress notifications early (etcd#15220): only the repeated writes count here.
    const out = await untilFound(config({ workload: 'watch', concurrency: 40, rate: 2000, systemOptions: { etcdVersion: 'v3.5.4', failpoints: 'defragBeforeCopy' } }), 'watch', /seen again at a later revision/);
    const history = readFileSync(join(out.dir, 'history.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"start-failpoint"') && l.includes('"info"'));
    // Traffic never defragments: the nemesis's trigger did, and the member died in it.
    expect(history.some((l) => /"failpoint":"defragBeforeCopy","action":"panic","triggered":true,.*"trigger":/.test(l))).toBe(true);
    const watch = out.results.find((r) => r.checker === 'watch');
    expect(watch?.valid).toBe(false);
    expect(watch?.summary).toMatch(/\d+ acknowledged writes? seen again at a later revision/);
    const repeated = (watch as unknown as WatchResult).violations.find((v) => v.kind === 'phantom' && v.reason === 'repeated-write');
    // The event names the write it repeats: same key and value, acknowledged at an earlier revision.
    expect(repeated).toMatchObject({ event: { type: 'put' }, expected: { type: 'put' } });
    if (repeated?.kind === 'phantom') {
      expect(repeated.expected?.key).toBe(repeated.event.key);
      expect(repeated.expected?.value).toEqual(repeated.event.value);
      expect(repeated.expected?.revision).toBeLessThan(repeated.event.revision);
    }
  }, 900_000);
});
