/**
 * The failpoint nemesis against a real etcd built with its failpoints (scripts/build-etcd.sh
 * v3.5.4 --failpoints, from the Go module proxy; cached after the first build): etcd#14370, a
 * one-member cluster that acknowledged writes before saving them to its WAL (fixed in v3.5.5).
 * With `raftBeforeSave` armed the member panics between the acknowledgement and the save, and
 * the set checker must report the acknowledged adds the restarted member no longer has —
 * which a plain kill found in 0 of 4 runs (the window is too short to land in by chance).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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

function config(): RunConfig {
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
  };
}

describe.skipIf(!haveGo || !haveDocker)('etcd with failpoints', () => {
  it('etcd#14370 on v3.5.4: a panic at raftBeforeSave loses acknowledged adds, and the set checker names them', async () => {
    const out = await runTest(config(), { quiet: true });
    const history = readFileSync(join(out.dir, 'history.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"start-failpoint"') && l.includes('"info"'));
    // The nemesis armed the failpoint and the member died there.
    expect(history.some((l) => /"failpoint":"raftBeforeSave","action":"panic","triggered":true/.test(l))).toBe(true);
    const set = out.results.find((r) => r.checker === 'set');
    expect(set?.valid).toBe(false);
    expect(set?.summary).toMatch(/\d+ lost, e\.g\. \d+ lost/);
    const run = JSON.parse(readFileSync(join(out.dir, 'run.json'), 'utf8')) as { versions: Record<string, string> };
    expect(run.versions).toMatchObject({ etcdGofail: 'v0.1.0' });
  }, 600_000);
});
