/**
 * `npm run bench:store`: the store and etcd side by side, in one run, through the same seam
 * (each system's own client from harness/systems, on the docker runtime, every link through
 * Toxiproxy, 3 nodes each, one system at a time):
 *
 *  1. writes: BENCH_CLIENTS clients, each owning a key, compare-and-set puts on the version it
 *     last wrote, for BENCH_WRITE_S seconds: ok writes/s, p50 and p99 latency;
 *  2. reads: linearizable reads of those keys for BENCH_READ_S seconds: reads/s, p50, p99;
 *  3. failover: SIGKILL the leader, then the time until a write succeeds again.
 *
 * The last line is JSON: each system's figures and a `ratio` object (raftstore ÷ etcd; for
 * latencies and failover lower is better, so a ratio below 1 favours the store).
 * Knobs (env): BENCH_CLIENTS (64), BENCH_WRITE_S (15), BENCH_READ_S (10), BENCH_SYSTEMS
 * ("raftstore,etcd"), BENCH_ETCD_BIN (Debian's etcd). The loopback-only store benchmark with
 * per-put counters is `npm run bench:store:loopback`.
 */
import { randomBytes } from 'node:crypto';
import type { ClientOptions, SystemClient } from '../../workloads/client.ts';
import { waitForCluster } from '../run.ts';
import { DockerRuntime } from '../runtime/docker-runtime.ts';
import type { NodeHandle, StartedCluster } from '../runtime/runtime.ts';
import { nodeIds } from '../runtime/topology.ts';
import { systemByName } from '../systems/index.ts';
import type { PreparedSystem } from '../systems/system.ts';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 64);
const WRITE_S = Number(process.env.BENCH_WRITE_S ?? 15);
const READ_S = Number(process.env.BENCH_READ_S ?? 10);
const SYSTEMS = (process.env.BENCH_SYSTEMS ?? 'raftstore,etcd').split(',').filter((s) => s !== '');

export interface Figures {
  readonly writesPerSec: number;
  readonly writeP50Ms: number;
  readonly writeP99Ms: number;
  readonly writeErrors: number;
  readonly readsPerSec: number;
  readonly readP50Ms: number;
  readonly readP99Ms: number;
  readonly failoverMs: number | null;
  readonly version: string;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const round = (x: number, d = 1): number => Number(x.toFixed(d));

async function phase(clients: readonly SystemClient[], seconds: number, op: (c: SystemClient, i: number) => Promise<boolean>): Promise<{ perSec: number; p50: number; p99: number; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    clients.map(async (c, i) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        if (await op(c, i)) latencies.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { perSec: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors };
}

async function leaderOf(cluster: StartedCluster, system: PreparedSystem): Promise<NodeHandle | null> {
  for (const n of cluster.nodes) if ((await system.status(n, 1000, cluster))?.role === 'leader') return n;
  return null;
}

async function benchSystem(name: string): Promise<Figures> {
  const runtime = new DockerRuntime();
  await runtime.checkPrerequisites();
  const ids = nodeIds(3);
  const system = await systemByName(name).prepare(
    'docker',
    { nodeIds: ids, clusterSecret: randomBytes(8).toString('hex'), logLevel: 'warn', unsafe: [], storageFaultMode: false, enableFaultInjection: false, systemOptions: name === 'etcd' && process.env.BENCH_ETCD_BIN !== undefined ? { etcdBin: process.env.BENCH_ETCD_BIN } : {} },
    (l) => process.stderr.write(`${l}\n`),
  );
  const cluster = await runtime.start({ runId: `bench-${name}-${Date.now().toString(36)}`, nodeIds: ids, system }, (l) => process.stderr.write(`${l}\n`));
  const options: ClientOptions = { opTimeoutMs: 5000, readConsistency: 'linearizable', mode: 'single-attempt' };
  const clients: SystemClient[] = [];
  try {
    await waitForCluster(cluster, system, 60_000);
    for (let i = 0; i < CLIENTS; i++) clients.push(system.openClient(i, cluster.nodes[i % cluster.nodes.length] as NodeHandle, options, cluster));
    const seen = new Map<number, { version: number; modRevision?: number }>();
    process.stderr.write(`${name}: ${CLIENTS} clients writing for ${WRITE_S} s\n`);
    const writes = await phase(clients, WRITE_S, async (c, i) => {
      const s = seen.get(i);
      const r = await c.put(`bench/${i}`, i, s === undefined ? undefined : { version: s.version, ...(s.modRevision !== undefined ? { modRevision: s.modRevision } : {}) });
      if (r.type !== 'ok') {
        seen.delete(i);
        return false;
      }
      seen.set(i, { version: r.value.version, ...(r.value.modRevision !== undefined ? { modRevision: r.value.modRevision } : {}) });
      return true;
    });
    process.stderr.write(`${name}: ${writes.perSec.toFixed(0)} writes/s; reading for ${READ_S} s\n`);
    const reads = await phase(clients, READ_S, async (c, i) => (await c.read(`bench/${i}`)).type === 'ok');
    const leader = await leaderOf(cluster, system);
    let failoverMs: number | null = null;
    if (leader !== null) {
      const survivor = cluster.nodes.find((n) => n.id !== leader.id) as NodeHandle;
      const t0 = performance.now();
      await leader.kill();
      for (let attempt = 0; performance.now() - t0 < 30_000; attempt++) {
        const c = system.openClient(10_000 + attempt, survivor, { ...options, opTimeoutMs: 1000 }, cluster);
        const ok = (await c.put('bench/failover', attempt)).type === 'ok';
        await c.close();
        if (ok) {
          failoverMs = performance.now() - t0;
          break;
        }
      }
    }
    process.stderr.write(`${name}: ${reads.perSec.toFixed(0)} reads/s; failover ${failoverMs?.toFixed(0) ?? 'none'} ms\n`);
    return {
      writesPerSec: round(writes.perSec, 0),
      writeP50Ms: round(writes.p50),
      writeP99Ms: round(writes.p99),
      writeErrors: writes.errors,
      readsPerSec: round(reads.perSec, 0),
      readP50Ms: round(reads.p50),
      readP99Ms: round(reads.p99),
      failoverMs: failoverMs === null ? null : round(failoverMs, 0),
      version: Object.entries(system.versions).map(([k, v]) => `${k} ${v}`).join(', '),
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await cluster.teardown();
  }
}

const results: Record<string, Figures> = {};
for (const name of SYSTEMS) results[name] = await benchSystem(name);
const a = results.raftstore;
const b = results.etcd;
const ratio =
  a !== undefined && b !== undefined
    ? {
        writesPerSec: round(a.writesPerSec / b.writesPerSec, 2),
        writeP50Ms: round(a.writeP50Ms / b.writeP50Ms, 2),
        writeP99Ms: round(a.writeP99Ms / b.writeP99Ms, 2),
        readsPerSec: round(a.readsPerSec / b.readsPerSec, 2),
        readP99Ms: round(a.readP99Ms / b.readP99Ms, 2),
        failoverMs: a.failoverMs !== null && b.failoverMs !== null ? round(a.failoverMs / b.failoverMs, 2) : null,
      }
    : null;
for (const [name, f] of Object.entries(results)) {
  console.log(`${name} (${f.version}): ${f.writesPerSec} writes/s (p50 ${f.writeP50Ms} ms, p99 ${f.writeP99Ms} ms, ${f.writeErrors} errors), ${f.readsPerSec} reads/s (p99 ${f.readP99Ms} ms), failover ${f.failoverMs ?? '–'} ms`);
}
console.log(JSON.stringify({ bench: 'systems', runtime: 'docker', nodes: 3, clients: CLIENTS, writeS: WRITE_S, readS: READ_S, ...results, ratio }));
