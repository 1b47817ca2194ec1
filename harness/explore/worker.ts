/**
 * One exploration worker (harness/explore/explore.ts forks one per core): runs the seeds it
 * is sent, one at a time, shrinks the invalid ones, deletes the valid ones' folders, and
 * answers each with a SeedResult.
 */
import { rmSync } from 'node:fs';
import { writeRunReport } from '../report/report.ts';
import { runTest } from '../run.ts';
import type { SeedResult, WorkerRequest } from './explore.ts';
import { shrinkRun } from './shrink.ts';

async function runSeed(req: WorkerRequest): Promise<SeedResult> {
  const t0 = performance.now();
  const { config } = req;
  try {
    const out = await runTest(config, { quiet: true, publish: false });
    const findings = out.results.filter((r) => r.valid !== true).map((r) => ({ checker: r.checker, valid: r.valid, summary: r.summary }));
    let shrunk: SeedResult['shrunk'] = null;
    if (out.valid === false && req.shrink) {
      const s = await shrinkRun(config, out, {});
      if (s !== null) shrunk = { replay: s.replay, dir: s.dir, faults: s.faults.length, maxOps: s.maxOps, tries: s.tries };
    }
    if (out.valid === true) rmSync(out.dir, { recursive: true, force: true });
    else await writeRunReport(out.dir); // the report only: no database client in a process that runs more simulations
    return { seed: config.seed, valid: out.valid, dir: out.dir, replay: out.replay, mainOps: out.mainOps, counts: out.counts, findings, wallMs: Math.round(performance.now() - t0), shrunk };
  } catch (e) {
    return { seed: config.seed, valid: 'unknown', dir: '', replay: null, mainOps: 0, counts: { ok: 0, fail: 0, info: 0 }, findings: [], wallMs: Math.round(performance.now() - t0), shrunk: null, error: (e as Error).message };
  }
}

process.on('message', (m: WorkerRequest | 'done') => {
  if (m === 'done') {
    process.disconnect();
    return;
  }
  void runSeed(m).then((r) => process.send?.(r));
});
