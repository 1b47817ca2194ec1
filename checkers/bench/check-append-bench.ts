/**
 * List-append checker benchmark: `npm run bench:check:append [-- --sizes 10000,100000,1000000]`.
 *
 * For each size (micro-operations) it generates a strict-serializable list-append history
 * (append/generate.ts: concurrent processes, keys replaced after 32 appends as Elle's
 * generator does, 5% info and 5% fail transactions, final reads of every key), writes it as
 * JSON Lines, then checks the file in a fresh child process — the path `npm run check --
 * --model list-append` takes — so peak RSS is that check's own. Goals (the issue): 100k
 * micro-ops in under 5 s, 1M in under 60 s and 2 GB. The last line is one JSON object.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { checkAppend, CONSISTENCIES, type Consistency } from '../append/append.ts';
import { countMicroOps, generateAppendHistory } from '../append/generate.ts';
import { toJsonLines } from '../history/read.ts';
import { measureCheck } from './measure.ts';

interface Shape {
  readonly processes: number;
  readonly activeKeys: number;
}

function shapeFor(microOps: number): Shape {
  if (microOps <= 10_000) return { processes: 10, activeKeys: 10 };
  if (microOps <= 100_000) return { processes: 20, activeKeys: 50 };
  return { processes: 50, activeKeys: 100 };
}

const INFO_RATE = 0.05;
const FAIL_RATE = 0.05;
const MAX_TXN_LENGTH = 4;

interface CheckFigures {
  readonly valid: unknown;
  readonly summary: string;
  readonly txns: number;
  readonly microOps: number;
  readonly edges: number;
  readonly ms: { read: number; check: number; total: number; txns: number; infer: number; graph: number; cycles: number };
  readonly cpuMs: number;
  readonly peakRssMb: number;
  readonly peakHeapMb: number;
}

async function checkOne(file: string, consistency: Consistency): Promise<CheckFigures> {
  const m = await measureCheck(file, (history) => checkAppend(history, { consistency }));
  const r = m.result;
  return {
    valid: r.valid,
    summary: r.summary,
    txns: r.txns,
    microOps: r.microOps,
    edges: r.edges,
    ms: { read: m.readMs, check: m.totalMs - m.readMs, total: m.totalMs, txns: r.timings.read, infer: r.timings.infer, graph: r.timings.graph, cycles: r.timings.cycles },
    cpuMs: m.cpuMs,
    peakRssMb: m.peakRssMb,
    peakHeapMb: m.peakHeapMb,
  };
}

async function main(): Promise<void> {
  const program = new Command()
    .name('bench:check:append')
    .option('--sizes <list>', 'comma-separated micro-operation counts', '10000,100000,1000000')
    .addOption(new Option('--consistency <model>', 'consistency model checked').choices([...CONSISTENCIES]).default('strict-serializable'))
    .option('--seed <n>', 'generator seed', '1')
    .option('--check-file <file>', '(internal) check one file and print figures as JSON')
    .parse();
  const o = program.opts<{ sizes: string; consistency: Consistency; seed: string; checkFile?: string }>();
  if (o.checkFile !== undefined) {
    process.stdout.write(JSON.stringify(await checkOne(o.checkFile, o.consistency)) + '\n');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-check-append-'));
  const results: Record<string, unknown>[] = [];
  try {
    for (const size of o.sizes.split(',').map(Number)) {
      const shape = shapeFor(size);
      const g0 = performance.now();
      // Transactions average (1 + MAX_TXN_LENGTH) / 2 micro-ops; the final reads add a few more.
      const txns = Math.round(size / ((1 + MAX_TXN_LENGTH) / 2)) - Math.round(size / 160);
      const history = generateAppendHistory({ txns, ...shape, maxTxnLength: MAX_TXN_LENGTH, infoRate: INFO_RATE, failRate: FAIL_RATE, seed: Number(o.seed) });
      const generated = countMicroOps(history);
      const file = join(dir, `history-${size}.jsonl`);
      writeFileSync(file, toJsonLines(history));
      const genMs = Math.round(performance.now() - g0);
      const bytes = statSync(file).size;
      const self = fileURLToPath(import.meta.url);
      const child = spawnSync(process.execPath, [...process.execArgv, self, '--check-file', file, '--consistency', o.consistency], { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (child.status !== 0) throw new Error(`check of ${size} micro-ops failed (exit ${child.status}): ${child.stderr}`);
      const figures = JSON.parse(child.stdout.trim().split('\n').pop() as string) as CheckFigures;
      if (figures.valid !== true) throw new Error(`a generated (valid) history was judged ${String(figures.valid)}: ${figures.summary}`);
      results.push({
        microOps: size,
        ms: figures.ms.total,
        peakRssMb: figures.peakRssMb,
        microOpsGenerated: generated,
        txns: figures.txns,
        ...shape,
        infoRate: INFO_RATE,
        failRate: FAIL_RATE,
        consistency: o.consistency,
        fileMb: Math.round(bytes / 2 ** 20),
        generateMs: genMs,
        valid: figures.valid,
        edges: figures.edges,
        stageMs: figures.ms,
        cpuMs: figures.cpuMs,
        peakHeapMb: figures.peakHeapMb,
      });
      const ms = figures.ms;
      console.log(
        `${String(size).padStart(8)} micro-ops (${generated} in ${figures.txns} txns, ${shape.processes} procs, ${Math.round(bytes / 2 ** 20)} MB): valid=${String(figures.valid)} ` +
          `total ${ms.total} ms (read ${ms.read}, check ${ms.check}: txns ${ms.txns}, infer ${ms.infer}, graph ${ms.graph}, cycles ${ms.cycles}), cpu ${figures.cpuMs} ms, ` +
          `peak RSS ${figures.peakRssMb} MB, heap ${figures.peakHeapMb} MB, ${figures.edges} edges`,
      );
      rmSync(file);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ bench: 'check-append', results }));
}

await main();
