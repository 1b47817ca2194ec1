/**
 * `--runtime sim --runs N`: N simulated runs, seeds `seed, seed+1, …`, spread over worker
 * processes (one per core: a simulation is one thread), a progress line as they finish, and
 * at the end the failing seeds, each with its replay command and, shrunk, a smaller replay.
 *
 * Runs that come out valid are deleted once checked (a thousand of them would be a gigabyte
 * of histories nobody reads); invalid and unknown runs stay, with their reports. The whole
 * exploration is summarised in `<results>/explore-<stamp>.json`.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Validity } from '../../checkers/checker.ts';
import type { RunConfig } from '../run.ts';
import { replayCommand } from './replay.ts';

export interface ExploreOptions {
  readonly runs: number;
  /** Worker processes; default: the machine's cores. */
  readonly jobs?: number;
  /** Shrink failing runs (default true). */
  readonly shrink?: boolean;
  readonly out?: NodeJS.WritableStream;
  /** Wall time one seed may take before it is reported as an error (default 10 minutes). */
  readonly runWallBudgetMs?: number;
}

/** What a worker reports for one seed (harness/explore/worker.ts). */
export interface SeedResult {
  readonly seed: number;
  readonly valid: Validity;
  readonly dir: string;
  readonly replay: string | null;
  readonly mainOps: number;
  readonly counts: { readonly ok: number; readonly fail: number; readonly info: number };
  /** Checkers that said false (or unknown), with their summaries. */
  readonly findings: readonly { readonly checker: string; readonly valid: Validity; readonly summary: string }[];
  readonly wallMs: number;
  /** The smaller failing run (harness/explore/shrink.ts), when shrinking found one. */
  readonly shrunk: { readonly replay: string; readonly dir: string; readonly faults: number; readonly maxOps: number; readonly tries: number } | null;
  readonly error?: string;
}

export interface WorkerRequest {
  readonly config: RunConfig;
  readonly shrink: boolean;
}

export interface ExploreSummary {
  readonly runs: number;
  readonly firstSeed: number;
  readonly valid: number;
  readonly invalid: number;
  readonly unknown: number;
  readonly errors: number;
  readonly wallMs: number;
  readonly failing: readonly SeedResult[];
}

/** A run gets this much wall time before its worker is killed and the seed reported (--runs). */
export const DEFAULT_RUN_WALL_BUDGET_MS = 10 * 60_000;

/** Send one seed to a worker; its result, or why none came. */
function ask(worker: ChildProcess, req: WorkerRequest, budgetMs: number): Promise<SeedResult | 'timeout' | 'exited'> {
  return new Promise((resolve) => {
    const done = (v: SeedResult | 'timeout' | 'exited'): void => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      resolve(v);
    };
    const onMessage = (m: SeedResult): void => done(m);
    const onExit = (): void => done('exited');
    const timer = setTimeout(() => done('timeout'), budgetMs);
    worker.on('message', onMessage);
    worker.once('exit', onExit);
    worker.send(req);
  });
}

function startWorker(): ChildProcess {
  return fork(join(import.meta.dirname, 'worker.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
}

export async function explore(base: RunConfig, options: ExploreOptions): Promise<ExploreSummary> {
  const out = options.out ?? process.stderr;
  const jobs = Math.max(1, Math.min(options.jobs ?? availableParallelism(), options.runs));
  const seeds = Array.from({ length: options.runs }, (_, i) => (base.seed + i) % 2 ** 31);
  const results: SeedResult[] = [];
  const t0 = performance.now();
  let next = 0;
  const counts = { valid: 0, invalid: 0, unknown: 0, errors: 0 };
  let lastLine = performance.now();
  const progress = (): void => {
    const done = results.length;
    const elapsed = (performance.now() - t0) / 1000;
    const eta = done === 0 ? '?' : `${Math.round((elapsed / done) * (options.runs - done))}s`;
    out.write(`[explore] ${done}/${options.runs} runs  valid ${counts.valid}  invalid ${counts.invalid}  unknown ${counts.unknown}  errors ${counts.errors}  ${elapsed.toFixed(0)}s, eta ${eta}\n`);
  };

  const record = (m: SeedResult): void => {
    results.push(m);
    if (m.error !== undefined) counts.errors++;
    else if (m.valid === true) counts.valid++;
    else if (m.valid === false) counts.invalid++;
    else counts.unknown++;
    if (m.valid !== true || m.error !== undefined) {
      out.write(`[explore] seed ${m.seed}: ${m.error !== undefined ? `error: ${m.error}` : `${String(m.valid)}: ${m.findings.map((f) => `${f.checker}: ${f.summary}`).join('; ')}`}\n`);
    }
    // A line every 5 s of wall time at most (a thousand runs would be a thousand lines), and the last.
    if (performance.now() - lastLine >= 5_000 || results.length === options.runs) {
      lastLine = performance.now();
      progress();
    }
  };

  // One lane per worker process. A seed that does not finish within the wall budget (a
  // simulation that livelocks: virtual time crawling under a message storm) is an error
  // with its replay command; its worker is killed and replaced, and the lane goes on.
  const budgetMs = options.runWallBudgetMs ?? DEFAULT_RUN_WALL_BUDGET_MS;
  const live = new Set<ChildProcess>();
  let stopping = false;
  const stopAll = (): void => {
    stopping = true;
    for (const w of live) w.kill('SIGTERM');
  };
  process.once('SIGINT', stopAll);
  const lane = async (): Promise<void> => {
    let worker: ChildProcess | null = null;
    try {
      while (next < seeds.length && !stopping) {
        const seed = seeds[next++] as number;
        if (worker === null) {
          worker = startWorker();
          live.add(worker);
        }
        const config = { ...base, seed };
        const answer = await ask(worker, { config, shrink: options.shrink !== false }, budgetMs);
        if (typeof answer === 'object') {
          record(answer);
          continue;
        }
        worker.kill('SIGKILL');
        live.delete(worker);
        worker = null;
        const why = answer === 'timeout' ? `no verdict within ${Math.round(budgetMs / 1000)} s of wall time (a livelock? replay it and watch virtual time)` : 'the worker process died';
        record({ seed, valid: 'unknown', dir: '', replay: replayCommand(config), mainOps: 0, counts: { ok: 0, fail: 0, info: 0 }, findings: [], wallMs: 0, shrunk: null, error: why });
      }
    } finally {
      if (worker !== null) {
        if (worker.connected) worker.send('done');
        live.delete(worker);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: jobs }, lane));
  } finally {
    process.off('SIGINT', stopAll);
  }

  const failing = results.filter((r) => r.valid !== true || r.error !== undefined).sort((a, b) => a.seed - b.seed);
  const summary: ExploreSummary = { runs: options.runs, firstSeed: base.seed, ...counts, wallMs: Math.round(performance.now() - t0), failing };
  mkdirSync(base.resultsDir, { recursive: true });
  const file = join(base.resultsDir, `explore-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ ...summary, all: results.sort((a, b) => a.seed - b.seed) }, null, 1)}\n`);
  out.write(`\n${options.runs} seeds (${base.seed}..${base.seed + options.runs - 1}) in ${(summary.wallMs / 1000).toFixed(0)} s on ${jobs} worker(s): ${counts.valid} valid, ${counts.invalid} invalid, ${counts.unknown} unknown, ${counts.errors} errors\n`);
  for (const f of failing) {
    out.write(`  seed ${f.seed}: ${f.error ?? String(f.valid)}  ${f.dir}\n    replay: ${f.replay ?? '-'}\n`);
    if (f.shrunk !== null) out.write(`    shrunk to ${f.shrunk.faults} fault(s), ${f.shrunk.maxOps} ops (${f.shrunk.tries} tries): ${f.shrunk.replay}\n`);
  }
  out.write(`summary: ${file}\n`);
  return summary;
}
