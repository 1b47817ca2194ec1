/**
 * Time compression of the simulation: simulated seconds per wall-clock second for a store
 * cluster (5 nodes by default) under every fault the kernel has, with a steady register
 * load (the harness's defaults: 10 client processes, 100 ops/s in total, linearizable reads,
 * writes and compare-and-sets on 5 keys, 2 s op timeout, --snapshot-entries 500). Faults
 * change every 5 simulated seconds, one at a time, healed before the next: a partition
 * (majority/minority), a one-way cut, latency with jitter on every link, 5% loss, connection
 * resets, a bandwidth limit on one node's links, a power loss and restart, a pause and
 * resume, a wall-clock jump and a drift change.
 *
 *   npx tsx harness/sim/bench.ts            (SIM_BENCH_SECONDS=120 SIM_BENCH_NODES=5 SIM_BENCH_RATE=100 SIM_BENCH_SEED=1)
 *
 * The last output line is JSON: simSecondsPerWallSecond, and what the run did.
 */
import { simClusterSpecs } from './cluster-args.ts';
import { SimRandom } from './random.ts';
import { Simulation } from './simulation.ts';
import type { WireMode } from './sim-network.ts';

const SECONDS = Number(process.env['SIM_BENCH_SECONDS'] ?? 120);
const NODES = Number(process.env['SIM_BENCH_NODES'] ?? 5);
const RATE = Number(process.env['SIM_BENCH_RATE'] ?? 100);
const SEED = process.env['SIM_BENCH_SEED'] ?? '1';
const PROCESSES = 10;
const KEYS = 5;
const FAULT_MS = 5_000;

const ids = Array.from({ length: NODES }, (_, i) => `n${i + 1}`);
const WIRE = (process.env['SIM_BENCH_WIRE'] ?? 'bytes') as WireMode;
const sim = new Simulation({ seed: SEED, clocks: { maxDriftPpm: 500, maxOffsetMs: 30_000 }, network: { wire: WIRE } });
for (const spec of simClusterSpecs(ids, ['--snapshot-entries', '500'])) sim.addNode(spec);
const http = sim.client();
const rng = SimRandom.fromSeed(SEED).fork('bench');
const outcomes = { ok: 0, fail: 0, info: 0 };
const faults: string[] = [];

async function clientProcess(p: number, until: number): Promise<void> {
  const r = rng.fork(`client/${p}`);
  let target = ids[p % ids.length]!;
  let seq = 0;
  const versions = new Map<string, number>();
  const period = (PROCESSES * 1000) / RATE;
  let next = sim.now + r.between(0, period);
  while (sim.now < until) {
    await sim.clock.sleep(Math.max(0, next - sim.now));
    next += period;
    const key = `r${r.int(KEYS)}`;
    const dice = r.float();
    const req =
      dice < 0.5
        ? { method: 'GET', url: `http://${target}:8000/v1/kv/get?key=${key}` }
        : {
            method: 'POST',
            url: `http://${target}:8000/v1/kv/put`,
            body: JSON.stringify({ key, value: r.int(100), clientId: `p${p}`, seq: ++seq, ...(dice < 0.7 ? { expectedVersion: versions.get(key) ?? 0 } : {}) }),
          };
    try {
      const res = await http.request({ ...req, timeoutMs: 2_000 });
      const body = JSON.parse(res.body) as { version?: number; error?: { definite?: boolean; leaderHint?: { id?: string } | null } };
      if (res.status === 200) {
        outcomes.ok++;
        if (body.version !== undefined) versions.set(key, body.version);
      } else if (body.error?.definite === true) outcomes.fail++;
      else outcomes.info++;
      if (res.status === 421 && typeof body.error?.leaderHint?.id === 'string') target = body.error.leaderHint.id;
      else if (res.status === 503) target = ids[r.int(ids.length)]!;
    } catch {
      outcomes.info++;
      target = ids[r.int(ids.length)]!;
    }
  }
}

async function nemesis(until: number): Promise<void> {
  const r = rng.fork('nemesis');
  const kinds = ['partition', 'one-way', 'latency', 'loss', 'reset', 'bandwidth', 'kill', 'pause', 'clock'] as const;
  for (let round = 0; sim.now + 2 * FAULT_MS < until; round++) {
    await sim.clock.sleep(FAULT_MS);
    const kind = kinds[round % kinds.length]!;
    // Half the time the leader (what hurts most), otherwise any node.
    const leader = ids.find((id) => sim.node(id).running?.driver.status().role === 'leader');
    const victim = leader !== undefined && r.chance(0.5) ? leader : ids[r.int(ids.length)]!;
    faults.push(`${kind}:${victim}`);
    let heal = (): Promise<void> | void => sim.network.healAll();
    switch (kind) {
      case 'partition': {
        const shuffled = [...ids].sort(() => r.float() - 0.5);
        const cut = Math.floor(ids.length / 2);
        sim.network.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
        break;
      }
      case 'one-way':
        sim.network.cut(victim, ids[(ids.indexOf(victim) + 1) % ids.length]!);
        break;
      case 'latency':
        for (const a of ids) for (const b of ids) if (a !== b) sim.network.configure(a, b, { latencyMs: 20, jitterMs: 10 });
        break;
      case 'loss':
        for (const a of ids) for (const b of ids) if (a !== b) sim.network.configure(a, b, { lossRate: 0.05 });
        break;
      case 'reset': {
        const resets = sim.clock.every(500, () => {
          const a = ids[r.int(ids.length)]!;
          const b = ids[r.int(ids.length)]!;
          if (a !== b) sim.network.reset(a, b);
        });
        heal = () => resets.cancel();
        break;
      }
      case 'bandwidth':
        for (const b of ids) if (b !== victim) {
          sim.network.configure(victim, b, { bandwidthBytesPerSec: 50_000 });
          sim.network.configure(b, victim, { bandwidthBytesPerSec: 50_000 });
        }
        break;
      case 'kill':
        sim.kill(victim);
        heal = async () => {
          await sim.start(victim).catch(() => undefined);
        };
        break;
      case 'pause':
        sim.pause(victim);
        heal = () => sim.resume(victim);
        break;
      case 'clock':
        sim.jumpClock(victim, r.between(-5_000, 5_000));
        sim.setClockRate(victim, 1 + r.between(-400e-6, 400e-6));
        heal = () => sim.jumpClock(victim, -sim.node(victim).clock.wallOffsetMs);
        break;
    }
    await sim.clock.sleep(FAULT_MS);
    await heal();
    sim.network.healAll();
  }
}

const wallStart = performance.now();
const cpuStart = process.cpuUsage();
await sim.run(async () => {
  await Promise.all(ids.map((id) => sim.start(id)));
  const until = sim.now + SECONDS * 1000;
  await Promise.all([nemesis(until), ...(RATE > 0 ? Array.from({ length: PROCESSES }, (_, p) => clientProcess(p, until)) : [])]);
});
const wallMs = performance.now() - wallStart;
const cpu = process.cpuUsage(cpuStart);
const cpuMs = (cpu.user + cpu.system) / 1000;
const simSeconds = sim.now / 1000;
const result = {
  nodes: NODES,
  rateOpsPerSec: RATE,
  wire: WIRE,
  simSeconds: Number(simSeconds.toFixed(1)),
  wallSeconds: Number((wallMs / 1000).toFixed(2)),
  simSecondsPerWallSecond: Number((simSeconds / (wallMs / 1000)).toFixed(1)),
  /** The same per second of this process's CPU time: what a quiet machine's wall clock would show. */
  simSecondsPerCpuSecond: Number((simSeconds / (cpuMs / 1000)).toFixed(1)),
  events: sim.scheduler.eventsRun,
  wallMicrosPerEvent: Number(((wallMs * 1000) / sim.scheduler.eventsRun).toFixed(2)),
  ops: outcomes,
  faults: faults.length,
  traceRecords: sim.trace.count,
  traceDigest: sim.trace.digest().slice(0, 16),
};
console.log(`sim: ${result.simSeconds} simulated s in ${result.wallSeconds} wall s = ${result.simSecondsPerWallSecond} sim s / wall s (${NODES} nodes, ${RATE} ops/s, ${faults.length} faults, ${result.events} events, ${result.wallMicrosPerEvent} µs/event; ops ok ${outcomes.ok} fail ${outcomes.fail} info ${outcomes.info})`);
console.log(JSON.stringify(result));
