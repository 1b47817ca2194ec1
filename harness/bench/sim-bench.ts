/**
 * `npm run bench:sim`: time compression of `--runtime sim` through the real harness: each
 * run is configured by the jepsen command's own parser, so it is exactly `npm run jepsen --
 * --runtime sim --workload register --nemesis all --nodes 5 --rate 100 --time-limit 120
 * --nemesis-interval 5 --seed S` (printed first) with every other setting at the command's
 * default (10 processes, 2 s op timeout, --snapshot-entries 500, 5 s recovery): 5 store
 * nodes, every fault the store supports in simulation (one every other interval; 5 s, harsher
 * than the command's 10), over BENCH_SIM_SEEDS seeds one after another (one core).
 *
 * simSecondsPerWallSecond = virtual seconds the run lasted / wall seconds of its simulated
 * part (start, clients, faults, final reads, collection); checking and the report are
 * reported apart (checkWallS), as they run at the same speed on every runtime.
 *
 * The median is over warm runs: BENCH_SIM_WARMUP runs (seeds 1001…, default 1) go first and
 * are reported apart (coldFirstRun), as exploration's worker processes run seed after seed
 * with compiled code while a single `--runtime sim` run pays V8's warm-up (~20 % of its wall at 120 s).
 *
 *   npm run bench:sim     (BENCH_SIM_SECONDS=120 BENCH_SIM_SEEDS=3 BENCH_SIM_WARMUP=1 BENCH_SIM_NODES=5 BENCH_SIM_INTERVAL=5 BENCH_SIM_RATE=100)
 *
 * Each run also reports events per operation and wall µs per event (the ratio is 1e6 over
 * their product times the virtual op rate): at 100 ops/s ~20 events per operation (peer
 * messages ~11, node timers ~3.5, disk completions ~2, the client's pacing, request and
 * answer ~3), so 100× needs ~5 µs per event, the store's own work per message included.
 *
 * BENCH_SIM_COSTS=1 also times every event of the warm runs by kind (scheduler.ts EventCosts:
 * the event and all it caused, up to the next event) and prints where the wall time went:
 * events per operation, µs per event and share of the wall, per kind ("peer append", "disk
 * sync", "http request", …); the JSON gets `costs`. Off by default: two clock reads per event
 * cost ~1 % of the figure.
 *
 * The last output line is JSON: {"bench":"sim","simSecondsPerWallSecond":…,…}.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram, configFromOptions } from '../cli.ts';
import type { RunConfig } from '../run.ts';
import { runTest } from '../run.ts';
import { SimRuntime } from '../runtime/sim-runtime.ts';
import { EventCosts } from '../sim/scheduler.ts';

const seconds = Number(process.env.BENCH_SIM_SECONDS ?? 120);
const seeds = Number(process.env.BENCH_SIM_SEEDS ?? 3);
const nodes = Number(process.env.BENCH_SIM_NODES ?? 5);
const interval = Number(process.env.BENCH_SIM_INTERVAL ?? 5);
const workload = process.env.BENCH_SIM_WORKLOAD ?? 'register';
const rate = Number(process.env.BENCH_SIM_RATE ?? 100);
const warmup = Number(process.env.BENCH_SIM_WARMUP ?? 1);
const timeCosts = process.env.BENCH_SIM_COSTS === '1';
const costs = new EventCosts();
let warmOps = 0;

const dir = mkdtempSync(join(tmpdir(), 'bench-sim-'));

/**
 * The run exactly as `npm run jepsen -- <these flags>` would make it: every other setting is
 * the command's default (--snapshot-entries 500, --op-timeout 2000, --recovery 5, the knobs).
 */
function benchArgs(seed: number): string[] {
  return ['--runtime', 'sim', '--workload', workload, '--nemesis', 'all', '--nodes', String(nodes), '--rate', String(rate), '--time-limit', String(seconds), '--nemesis-interval', String(interval), '--seed', String(seed)];
}
function runConfig(seed: number): RunConfig {
  const program = buildProgram();
  program.parse([...benchArgs(seed), '--results-dir', dir], { from: 'user' });
  return configFromOptions(program.opts() as Parameters<typeof configFromOptions>[0]);
}
console.log(`each run: npm run jepsen -- ${benchArgs(1).join(' ').replace('--seed 1', '--seed <seed>')}`);
type Row = { seed: number; simS: number; simWallS: number; checkWallS: number; ratio: number; ops: number; eventsPerOp: number; wallMicrosPerEvent: number; faults: number; valid: unknown };
const coldRuns: Row[] = [];
const perRun: Row[] = [];
try {
  const order = [...Array.from({ length: warmup }, (_, i) => 1001 + i), ...Array.from({ length: seeds }, (_, i) => 1 + i)];
  for (const [i, seed] of order.entries()) {
    const warm = i >= warmup;
    const runtime = new SimRuntime({ seed });
    // The warm runs add to one table.
    runtime.sim.scheduler.costs = timeCosts && warm ? costs : null;
    // Time the simulated part only: runWithin wraps exactly what talks to the cluster.
    let simWallMs = 0;
    const within = runtime.runWithin.bind(runtime);
    runtime.runWithin = async <T>(fn: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      try {
        return await within(fn);
      } finally {
        simWallMs += performance.now() - t;
      }
    };
    const t0 = performance.now();
    const out = await runTest(runConfig(seed), { quiet: true, publish: false, runtime });
    const totalWallMs = performance.now() - t0;
    const simS = runtime.sim.now / 1000;
    const ops = out.counts.ok + out.counts.fail + out.counts.info;
    // Where the wall time goes: ratio = 1e6 / (ops per virtual s × events per op × µs per event).
    const events = runtime.sim.scheduler.eventsRun;
    const row = {
      seed,
      simS: round(simS),
      simWallS: round(simWallMs / 1000),
      checkWallS: round((totalWallMs - simWallMs) / 1000),
      ratio: round(simS / (simWallMs / 1000)),
      ops,
      eventsPerOp: round(events / Math.max(1, ops)),
      wallMicrosPerEvent: round((simWallMs * 1000) / Math.max(1, events)),
      faults: out.schedule?.length ?? 0,
      valid: out.valid,
    };
    if (warm) perRun.push(row);
    else coldRuns.push(row);
    if (timeCosts && warm) warmOps += ops;
    console.log(`${warm ? '' : 'warm-up '}seed ${seed}: ${row.simS} virtual s in ${row.simWallS} wall s = ${row.ratio}x (${ops} ops, ${row.eventsPerOp} events/op at ${row.wallMicrosPerEvent} µs, ${row.faults} faults, checking ${row.checkWallS} s, valid ${String(out.valid)})`);
    rmSync(out.dir, { recursive: true, force: true });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
/** Where the warm runs' wall time went, by kind of event, largest share first. */
function costTable(): { kind: string; eventsPerOp: number; microsPerEvent: number; share: number }[] {
  const totalMs = [...costs.byKind.values()].reduce((sum, r) => sum + r.wallMs, 0);
  return [...costs.byKind]
    .map(([kind, r]) => ({
      kind,
      eventsPerOp: Math.round((r.events / Math.max(1, warmOps)) * 100) / 100,
      microsPerEvent: round((r.wallMs * 1000) / r.events),
      share: Math.round((r.wallMs / Math.max(1e-9, totalMs)) * 1000) / 1000,
    }))
    .sort((a, b) => b.share - a.share);
}
const costRows = timeCosts ? costTable() : null;
if (costRows !== null) {
  console.log('where the warm runs\' wall time went, by kind of event (each event and everything it caused):');
  console.log(`${'kind'.padEnd(22)} ${'events/op'.padStart(9)} ${'µs/event'.padStart(9)} ${'share'.padStart(6)}`);
  for (const r of costRows) console.log(`${r.kind.padEnd(22)} ${r.eventsPerOp.toFixed(2).padStart(9)} ${r.microsPerEvent.toFixed(1).padStart(9)} ${`${(r.share * 100).toFixed(1)}%`.padStart(6)}`);
}
const ratios = perRun.map((r) => r.ratio).sort((a, b) => a - b);
const median = ratios[Math.floor(ratios.length / 2)] ?? 0;
console.log(
  JSON.stringify({
    bench: 'sim',
    simSecondsPerWallSecond: median,
    min: ratios[0] ?? 0,
    max: ratios.at(-1) ?? 0,
    targetMet: median >= 100,
    nodes,
    workload,
    nemesis: 'all',
    rate,
    mainSeconds: seconds,
    seeds,
    warmupRuns: warmup,
    coldFirstRun: coldRuns[0]?.ratio ?? null,
    allValid: [...coldRuns, ...perRun].every((r) => r.valid === true),
    runs: perRun,
    ...(costRows !== null ? { costs: costRows } : {}),
  }),
);
