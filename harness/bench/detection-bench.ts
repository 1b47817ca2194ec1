/**
 * `npm run bench:detection -- [--runtime docker|sim] [--seeds N] [--switches a,b] [--time-limit S]`:
 * how reliably and how fast each of the store's `--unsafe` switches is caught, end to end
 * through the workloads and checkers, with the setting that catches it best (harness/BUGS-FOUND.md).
 *
 * For every switch and seed 1..N one run; per switch: the detection rate, the median
 * "evidence at" (history seconds from the first client operation to the earliest operation
 * the invalid verdict rests on: the first op that cannot be linearized, the acknowledgement
 * of the earliest lost add, the start of the second holder's window, the first term
 * regression), and wall-clock seconds per run and per detection. Runs one at a time (on the
 * sim runtime each run is one process's work). The last line is JSON.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckResult } from '../../checkers/checker.ts';
import type { RunConfig, RunOutcome } from '../run.ts';
import { runTest } from '../run.ts';
import type { RuntimeName } from '../runtime/runtime.ts';

interface Setting {
  readonly unsafe: string;
  readonly workload: string;
  readonly nemesis: string;
  readonly extra: Partial<RunConfig>;
}

/** The settings BUGS-FOUND.md recommends, one per switch. */
export const SETTINGS: readonly Setting[] = [
  { unsafe: 'stale-reads', workload: 'register', nemesis: 'isolate-leader', extra: { nemesisIntervalS: 5 } },
  { unsafe: 'ack-before-commit', workload: 'set', nemesis: 'isolate-leader', extra: { nemesisIntervalS: 5 } },
  { unsafe: 'no-fsync', workload: 'set', nemesis: 'kill-all', extra: { nemesisIntervalS: 5, storageFaultMode: true } },
  { unsafe: 'lease-no-wait', workload: 'lease', nemesis: 'kill-leader', extra: { nemesisIntervalS: 3, opTimeoutMs: 1000 } },
];

function num(x: unknown): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

/** History time (ns) of the earliest operation an invalid checker's verdict rests on, or null. */
export function evidenceNs(r: CheckResult): number | null {
  const d = r as Record<string, unknown>;
  switch (r.checker) {
    case 'linearizability': {
      const op = (d.failure as { op?: { end?: unknown; start?: unknown } } | undefined)?.op;
      return num(op?.end) ?? num(op?.start);
    }
    case 'set': {
      const times = ((d.sets as { lostElements?: { knownTime?: unknown }[] }[] | undefined) ?? []).flatMap((s) => (s.lostElements ?? []).map((l) => num(l.knownTime))).filter((t): t is number => t !== null);
      return times.length > 0 ? Math.min(...times) : null;
    }
    case 'lease': {
      const v = (d.violations as { kind?: string; from?: unknown; later?: { start?: unknown } }[] | undefined)?.[0];
      return v === undefined ? null : (num(v.from) ?? num(v.later?.start));
    }
    case 'election': {
      const regression = (d.termRegressions as { time?: unknown }[] | undefined)?.[0];
      const twoLeaders = (d.violations as { leaders?: { firstTime?: unknown }[] }[] | undefined)?.[0];
      const times = [num(regression?.time), num(twoLeaders?.leaders?.[1]?.firstTime)].filter((t): t is number => t !== null);
      return times.length > 0 ? Math.min(...times) : null;
    }
    default:
      return null;
  }
}

export interface DetectionRow {
  readonly unsafe: string;
  readonly seed: number;
  readonly caught: boolean;
  readonly checkers: readonly string[];
  readonly evidenceAtS: number | null;
  readonly wallS: number;
  readonly dir: string;
}

function evidenceAtS(out: RunOutcome, history: readonly { process: unknown; time: number }[]): number | null {
  const firstClient = history.find((o) => o.process !== 'nemesis')?.time ?? 0;
  const times = out.results.filter((r) => r.valid === false).map(evidenceNs).filter((t): t is number => t !== null);
  return times.length === 0 ? null : (Math.min(...times) - firstClient) / 1e9;
}

const median = (xs: readonly number[]): number | null => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string, dflt: string): string => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
  };
  const runtime = flag('runtime', 'docker') as RuntimeName;
  const seeds = Number(flag('seeds', '10'));
  const timeLimitS = Number(flag('time-limit', '30'));
  const only = flag('switches', SETTINGS.map((s) => s.unsafe).join(',')).split(',');
  const resultsDir = mkdtempSync(join(tmpdir(), 'detection-'));
  const rows: DetectionRow[] = [];
  const { readFileSync } = await import('node:fs');
  try {
    for (const s of SETTINGS.filter((x) => only.includes(x.unsafe))) {
      for (let seed = 1; seed <= seeds; seed++) {
        const t0 = performance.now();
        const out = await runTest(
          {
            workload: s.workload,
            nemesis: s.nemesis,
            nodes: 5,
            concurrency: 10,
            timeLimitS,
            rate: 100,
            seed,
            runtime,
            resultsDir,
            unsafe: [s.unsafe],
            opTimeoutMs: 2000,
            nemesisIntervalS: 5,
            recoveryS: 5,
            logLevel: 'warn',
            ...s.extra,
          },
          { quiet: true },
        );
        const history = readFileSync(join(out.dir, 'history.jsonl'), 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as { process: unknown; time: number });
        const row: DetectionRow = {
          unsafe: s.unsafe,
          seed,
          caught: out.valid === false,
          checkers: out.results.filter((r) => r.valid === false).map((r) => r.checker),
          evidenceAtS: evidenceAtS(out, history),
          wallS: (performance.now() - t0) / 1000,
          dir: out.dir,
        };
        rows.push(row);
        process.stderr.write(`${s.unsafe} seed ${seed}: ${row.caught ? `caught by ${row.checkers.join(', ')}${row.evidenceAtS !== null ? `, evidence at ${row.evidenceAtS.toFixed(1)} s` : ''}` : `NOT caught (${String(out.valid)})`}, ${row.wallS.toFixed(1)} s wall\n`);
      }
    }
  } finally {
    rmSync(resultsDir, { recursive: true, force: true });
  }
  const summary = [...new Set(rows.map((r) => r.unsafe))].map((unsafe) => {
    const mine = rows.filter((r) => r.unsafe === unsafe);
    const caught = mine.filter((r) => r.caught);
    const wall = mine.reduce((a, r) => a + r.wallS, 0);
    return {
      unsafe,
      runtime,
      seeds: mine.length,
      caught: caught.length,
      detectionRate: caught.length / mine.length,
      medianEvidenceAtS: median(caught.map((r) => r.evidenceAtS).filter((t): t is number => t !== null)),
      medianWallSPerRun: median(mine.map((r) => r.wallS)),
      wallSPerDetection: caught.length === 0 ? null : wall / caught.length,
      checkers: [...new Set(caught.flatMap((r) => r.checkers))],
      missedSeeds: mine.filter((r) => !r.caught).map((r) => r.seed),
    };
  });
  process.stdout.write('\n| switch | runtime | caught | median evidence at (history s) | median wall s per run | wall s per detection | checkers |\n|---|---|---|---|---|---|---|\n');
  for (const s of summary) {
    process.stdout.write(
      `| ${s.unsafe} | ${s.runtime} | ${s.caught}/${s.seeds} | ${s.medianEvidenceAtS?.toFixed(1) ?? '–'} | ${s.medianWallSPerRun?.toFixed(1) ?? '–'} | ${s.wallSPerDetection?.toFixed(1) ?? '–'} | ${s.checkers.join(', ')} |\n`,
    );
  }
  process.stdout.write(`${JSON.stringify({ bench: 'detection', runtime, timeLimitS, results: summary })}\n`);
}

if (process.argv[1]?.endsWith('detection-bench.ts') === true) await main();
