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

export interface ExploreOptions {
  readonly runs: number;
  /** Worker processes; default: the machine's cores. */
  readonly jobs?: number;
  /** Shrink failing runs (default true). */
  readonly shrink?: boolean;
  readonly out?: NodeJS.WritableStream;
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

  const workers = Array.from({ length: jobs }, startWorker);
  const stopAll = (): void => {
    for (const w of workers) w.kill('SIGTERM');
  };
  process.once('SIGINT', stopAll);
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const give = (): void => {
              if (next >= seeds.length) {
                w.send('done');
                resolve();
                return;
              }
              const seed = seeds[next++] as number;
              const req: WorkerRequest = { config: { ...base, seed }, shrink: options.shrink !== false };
              w.send(req);
            };
            w.on('message', (m: SeedResult) => {
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
              give();
            });
            w.on('exit', (code) => {
              if (next < seeds.length || results.length < seeds.length) reject(new Error(`an exploration worker exited (code ${String(code)}) before the runs were done`));
            });
            give();
          }),
      ),
    );
  } finally {
    process.off('SIGINT', stopAll);
    for (const w of workers) if (w.connected) w.disconnect();
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
