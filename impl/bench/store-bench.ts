/**
 * `npm run bench:store`: the store under load, on loopback.
 *
 *  1. three real node processes (the esbuild bundle of impl/node/main.ts, run with node);
 *  2. 64 concurrent clients doing versioned puts (each owns a key and puts with
 *     `expectedVersion` = the version it last wrote) for 20 s;
 *  3. linearizable reads (ReadIndex) of those keys for 10 s;
 *  4. failover: kill -9 the leader, and time until the next write succeeds on a new one;
 *  5. when `etcd` is on PATH: the same put load against a 3-member etcd on loopback through
 *     its JSON gateway (`/v3/kv/put`, base64 keys), in the same run, for comparison.
 *
 * The last output line is a JSON object: writesPerSec, writeP50Ms, writeP99Ms, readsPerSec,
 * readP50Ms, readP99Ms, failoverMs, and `etcd` (the same write figures, or null).
 * Knobs (env): BENCH_CLIENTS (64), BENCH_WRITE_S (20), BENCH_READ_S (10), BENCH_ETCD=0 to skip etcd,
 * BENCH_STORE=0 to skip the store, BENCH_FAILOVER=0 to skip failover and stop the nodes with
 * SIGTERM instead (so `STORE_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR"` writes profiles).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, freePort, sleep, status } from '../node/testing/cluster.ts';
import type { NodeProcess } from '../node/testing/cluster.ts';

const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 64);
const WRITE_S = Number(process.env['BENCH_WRITE_S'] ?? 20);
const READ_S = Number(process.env['BENCH_READ_S'] ?? 10);
const WITH_ETCD = process.env['BENCH_ETCD'] !== '0';
const WITH_FAILOVER = process.env['BENCH_FAILOVER'] !== '0';

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

interface Reply {
  readonly status: number;
  readonly body: string;
}

function httpCall(url: string, method: 'GET' | 'POST', body?: string, timeoutMs = 5_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface LoadResult {
  readonly ops: number;
  readonly errors: number;
  readonly perSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Run `op` in `clients` concurrent loops for `seconds`; op returns true on success. */
async function load(clients: number, seconds: number, op: (client: number, i: number) => Promise<boolean>): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = 0; performance.now() < end; i++) {
        const t0 = performance.now();
        let ok: boolean;
        try {
          ok = await op(client, i);
        } catch {
          ok = false;
        }
        if (ok) latencies.push(performance.now() - t0);
        else {
          errors++;
          await sleep(5);
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { ops: latencies.length, errors, perSec: round(latencies.length / elapsed), p50Ms: round(percentile(latencies, 50)), p99Ms: round(percentile(latencies, 99)) };
}

const EMPTY: LoadResult = { ops: 0, errors: 0, perSec: NaN, p50Ms: NaN, p99Ms: NaN };

const round = (x: number): number => Math.round(x * 10) / 10;

async function benchStore(): Promise<{ write: LoadResult; read: LoadResult; failoverMs: number }> {
  const cluster = await LocalCluster.create({ size: 3, tickMs: 20, electionTicks: 10, heartbeatTicks: 2, captureLogs: false, extraArgs: ['--log-level', 'warn'], secret: 'bench-secret' });
  try {
    await cluster.start();
    let leader = await cluster.waitForLeader();
    console.log(`store: 3 nodes up, leader ${leader.spec.id}`);
    const versions = new Array<number>(CLIENTS).fill(0);
    const runId = Date.now().toString(36);
    const write = await load(CLIENTS, WRITE_S, async (client, i) => {
      const body = JSON.stringify({ key: `bench/${client}`, value: { i, pad: 'x'.repeat(64) }, expectedVersion: versions[client], clientId: `bench-${runId}-${client}`, seq: i + 1 });
      const r = await httpCall(`${leader.url}/v1/kv/put`, 'POST', body);
      if (r.status !== 200) return false;
      versions[client] = (JSON.parse(r.body) as { version: number }).version;
      return true;
    });
    console.log(`store puts: ${write.perSec}/s p50 ${write.p50Ms} ms p99 ${write.p99Ms} ms (${write.ops} ok, ${write.errors} errors)`);
    // Per-put costs on the leader (Readys, fsyncs, peer frames): what the CPU goes to.
    try {
      const m = JSON.parse((await httpCall(`${leader.url}/v1/metrics`, 'GET')).body) as {
        driver: Record<string, number>;
        transport: Record<string, unknown>;
        eventLoopDelayMs?: { p50: number; p99: number; max: number };
      };
      const per = (x: unknown): string => (typeof x === 'number' && write.ops > 0 ? (x / write.ops).toFixed(2) : '?');
      console.log(`store leader per put: readies ${per(m.driver['readies'])} fsyncs ${per(m.driver['fsyncs'])} messagesSent ${per(m.driver['messagesSent'])} framesSent ${per(m.transport['sent'])}; event-loop delay p99 ${m.eventLoopDelayMs?.p99.toFixed(1) ?? '?'} ms max ${m.eventLoopDelayMs?.max.toFixed(1) ?? '?'} ms`);
    } catch {
      // metrics are informative only
    }
    const read = await load(CLIENTS, READ_S, async (client) => {
      const r = await httpCall(`${leader.url}/v1/kv/get?key=bench%2F${client}`, 'GET');
      return r.status === 200;
    });
    console.log(`store linearizable reads: ${read.perSec}/s p50 ${read.p50Ms} ms p99 ${read.p99Ms} ms (${read.ops} ok, ${read.errors} errors)`);

    if (!WITH_FAILOVER) {
      await Promise.all(cluster.nodes.map((n) => n.stop()));
      return { write, read, failoverMs: NaN };
    }
    // Failover: kill -9 the leader; every surviving node gets a write attempt every few ms
    // (following nothing: whichever answers 200 first is the new leader).
    leader = await cluster.waitForLeader();
    const survivors = cluster.nodes.filter((n) => n !== leader);
    const killedAt = performance.now();
    await leader.kill9();
    let failoverMs = NaN;
    let seq = 0;
    const deadline = killedAt + 15_000;
    await new Promise<void>((resolve) => {
      let done = false;
      const attempt = async (node: NodeProcess): Promise<void> => {
        while (!done && performance.now() < deadline) {
          try {
            const r = await httpCall(`${node.url}/v1/kv/put`, 'POST', JSON.stringify({ key: 'bench/failover', value: 1, clientId: `failover-${runId}-${node.spec.id}`, seq: ++seq }), 1_000);
            if (r.status === 200 && !done) {
              done = true;
              failoverMs = round(performance.now() - killedAt);
              resolve();
              return;
            }
          } catch {
            // connection refused or timed out: try again
          }
          await sleep(5);
        }
        if (performance.now() >= deadline) resolve();
      };
      for (const node of survivors) void attempt(node);
    });
    const newLeader = await status(survivors[0]!).catch(() => null);
    console.log(`store failover: ${failoverMs} ms (new leader ${newLeader?.leader ?? '?'})`);
    return { write, read, failoverMs };
  } finally {
    await cluster.destroy();
  }
}

async function benchEtcd(): Promise<LoadResult | null> {
  const which = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' });
  if (which.status !== 0) {
    console.log('etcd: not installed, skipped (apt-get install -y etcd-server to compare)');
    return null;
  }
  const root = mkdtempSync(join(tmpdir(), 'etcd-bench-'));
  const members = await Promise.all(['e1', 'e2', 'e3'].map(async (name) => ({ name, client: await freePort(), peer: await freePort() })));
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const token = `bench-${Date.now()}`;
  const children: ChildProcess[] = [];
  const etcdErrors: string[] = [];
  const kill = (): void => {
    for (const child of children) child.kill('SIGKILL');
  };
  process.once('exit', kill);
  try {
    for (const m of members) {
      const child = spawn(
        'etcd',
        [
          '--name', m.name,
          '--data-dir', join(root, m.name),
          '--listen-client-urls', `http://127.0.0.1:${m.client}`,
          '--advertise-client-urls', `http://127.0.0.1:${m.client}`,
          '--listen-peer-urls', `http://127.0.0.1:${m.peer}`,
          '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peer}`,
          '--initial-cluster', initialCluster,
          '--initial-cluster-state', 'new',
          '--initial-cluster-token', token,
          '--log-level', 'error',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      child.stderr?.on('data', (d: Buffer) => {
        etcdErrors.push(d.toString('utf8'));
        if (etcdErrors.length > 50) etcdErrors.shift();
      });
      children.push(child);
    }
    // Find the leader (its gateway answers puts without a forwarding hop, like our leader).
    let leaderUrl = null as string | null;
    const deadline = Date.now() + 20_000;
    while (leaderUrl === null && Date.now() < deadline) {
      for (const m of members) {
        try {
          const r = await httpCall(`http://127.0.0.1:${m.client}/v3/maintenance/status`, 'POST', '{}', 1_000);
          const s = JSON.parse(r.body) as { header?: { member_id?: string }; leader?: string };
          if (r.status === 200 && s.leader !== undefined && s.leader !== '0' && s.leader === s.header?.member_id) leaderUrl = `http://127.0.0.1:${m.client}`;
        } catch {
          // not up yet
        }
      }
      if (leaderUrl === null) await sleep(100);
    }
    if (leaderUrl === null) {
      console.log(`etcd: no leader within 20 s, skipped; its last errors:\n${etcdErrors.join('').slice(-2_000)}`);
      return null;
    }
    const version = spawnSync('etcd', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '';
    console.log(`etcd ${version}: 3 members up, leader ${leaderUrl}`);
    const url = leaderUrl;
    const keys = Array.from({ length: CLIENTS }, (_, c) => Buffer.from(`bench/${c}`).toString('base64'));
    const write = await load(CLIENTS, WRITE_S, async (client, i) => {
      const value = Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(64) })).toString('base64');
      const r = await httpCall(`${url}/v3/kv/put`, 'POST', JSON.stringify({ key: keys[client], value }));
      return r.status === 200;
    });
    console.log(`etcd puts: ${write.perSec}/s p50 ${write.p50Ms} ms p99 ${write.p99Ms} ms (${write.ops} ok, ${write.errors} errors)`);
    return write;
  } finally {
    kill();
    await sleep(200);
    rmSync(root, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`bench:store — ${CLIENTS} clients, ${WRITE_S} s of puts, ${READ_S} s of reads, then failover`);
  const store = process.env['BENCH_STORE'] === '0' ? { write: EMPTY, read: EMPTY, failoverMs: NaN } : await benchStore();
  const etcd = WITH_ETCD ? await benchEtcd() : null;
  agent.destroy();
  const summary = {
    clients: CLIENTS,
    writesPerSec: store.write.perSec,
    writeP50Ms: store.write.p50Ms,
    writeP99Ms: store.write.p99Ms,
    writeErrors: store.write.errors,
    readsPerSec: store.read.perSec,
    readP50Ms: store.read.p50Ms,
    readP99Ms: store.read.p99Ms,
    failoverMs: store.failoverMs,
    etcd: etcd === null ? null : { writesPerSec: etcd.perSec, writeP50Ms: etcd.p50Ms, writeP99Ms: etcd.p99Ms, writeErrors: etcd.errors },
  };
  console.log(JSON.stringify(summary));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
