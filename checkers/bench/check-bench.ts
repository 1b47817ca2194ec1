/**
 * Linearizability checker benchmark: `npm run bench:check [-- --sizes 10000,100000,1000000]`.
 *
 * For each size it generates a valid cas-register history (testing/generate.ts: unique
 * written values, random interleaving, 5% info ops of which some take effect after they
 * crashed), writes it as JSON Lines, then checks the file in a fresh child process — the
 * same path as `npm run check` — and reports the time of each stage (read = parse and
 * validate, pair, split = per-key grouping and pruning, search), CPU time, peak RSS
 * (includes worker threads) and the largest V8 heap seen at a stage boundary.
 * The last line is one JSON object with every figure.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { toJsonLines } from '../history/read.ts';
import { measureCheck } from './measure.ts';
import { checkLinearizability } from '../linearizability/check.ts';
import { generateHistory } from '../testing/generate.ts';

interface Shape {
  readonly ops: number;
  readonly keys: number;
  readonly processes: number;
}

/** Sizes from the issue: 10 to 100 keys, 5 to 50 concurrent processes, 5% info. */
function shapeFor(ops: number): Shape {
  if (ops <= 10_000) return { ops, keys: 10, processes: 5 };
  if (ops <= 100_000) return { ops, keys: 50, processes: 20 };
  return { ops, keys: 100, processes: 50 };
}

const INFO_RATE = 0.05;

interface CheckFigures {
  readonly valid: unknown;
  readonly lines: number;
  readonly ops: number;
  readonly keys: number;
  readonly states: number;
  readonly ms: { read: number; pair: number; split: number; search: number; total: number };
  readonly cpuMs: number;
  readonly peakRssMb: number;
  readonly peakHeapMb: number;
  readonly workers: number;
}

async function checkOne(file: string, workers: number | undefined): Promise<CheckFigures> {
  const m = await measureCheck(file, (history) => checkLinearizability(history, { model: 'cas-register', init: 0, ...(workers !== undefined ? { workers } : {}) }));
  const r = m.result;
  return {
    valid: r.valid,
    lines: m.lines,
    ops: r.ops,
    keys: r.keys,
    states: r.states,
    ms: { read: m.readMs, pair: r.timings.pair, split: r.timings.split, search: r.timings.search, total: m.totalMs },
    cpuMs: m.cpuMs,
    peakRssMb: m.peakRssMb,
    peakHeapMb: m.peakHeapMb,
    workers: workers ?? -1,
  };
}

async function main(): Promise<void> {
  const program = new Command()
    .name('bench:check')
    .option('--sizes <list>', 'comma-separated operation counts', '10000,100000,1000000')
    .option('--workers <n>', 'worker threads (default: the checker decides)')
    .option('--seed <n>', 'generator seed', '1')
    .option('--check-file <file>', '(internal) check one file and print figures as JSON')
    .parse();
  const o = program.opts<{ sizes: string; workers?: string; seed: string; checkFile?: string }>();
  const workers = o.workers !== undefined ? Number(o.workers) : undefined;
  if (o.checkFile !== undefined) {
    process.stdout.write(JSON.stringify(await checkOne(o.checkFile, workers)) + '\n');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-check-'));
  const results: Record<string, unknown>[] = [];
  try {
    for (const size of o.sizes.split(',').map(Number)) {
      const shape = shapeFor(size);
      const g0 = performance.now();
      const history = generateHistory({ model: 'cas-register', ...shape, infoRate: INFO_RATE, seed: Number(o.seed) });
      const file = join(dir, `history-${size}.jsonl`);
      writeFileSync(file, toJsonLines(history));
      const genMs = Math.round(performance.now() - g0);
      const bytes = statSync(file).size;
      const self = fileURLToPath(import.meta.url);
      const child = spawnSync(process.execPath, [...process.execArgv, self, '--check-file', file, ...(workers !== undefined ? ['--workers', String(workers)] : [])], {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
      if (child.status !== 0) throw new Error(`check of ${size} ops failed (exit ${child.status}): ${child.stderr}`);
      const figures = JSON.parse(child.stdout.trim().split('\n').pop() as string) as CheckFigures;
      const row = { size, ...shape, infoRate: INFO_RATE, fileMb: Math.round(bytes / 2 ** 20), generateMs: genMs, ...figures };
      results.push(row);
      const ms = figures.ms;
      console.log(
        `${String(size).padStart(8)} ops ${String(shape.keys).padStart(3)} keys ${String(shape.processes).padStart(2)} procs: valid=${String(figures.valid)} ` +
          `total ${ms.total} ms (read ${ms.read}, pair ${ms.pair}, split ${ms.split}, search ${ms.search}), cpu ${figures.cpuMs} ms, ` +
          `peak RSS ${figures.peakRssMb} MB, heap ${figures.peakHeapMb} MB, ${figures.states} configurations`,
      );
      rmSync(file);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ bench: 'check', model: 'cas-register', results }));
}

await main();
