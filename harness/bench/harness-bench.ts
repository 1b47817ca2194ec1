/**
 * `npm run bench:harness`: what the harness itself costs.
 *  1. startup: from `runtime.start` to a healthy 5-node cluster with a leader (images cached;
 *     target under 10 s),
 *  2. overhead: harness CPU per operation outside the store (op drawn, prepared, invoke and
 *     completion recorded to disk), with the store call replaced by an immediate answer,
 *  3. throughput: the most operations per second the harness records against the real
 *     store (register workload, no faults, no rate limit).
 * The last line is one JSON object.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HistoryWriter } from '../history-writer.ts';
import { runTest, waitForCluster } from '../run.ts';
import { makeRuntime } from '../runtime/index.ts';
import { nodeIds } from '../runtime/topology.ts';
import { raftstore } from '../systems/raftstore/index.ts';
import type { SystemRunOptions } from '../systems/system.ts';
import { registerWorkload } from '../../workloads/register.ts';
import type { SystemClient } from '../../workloads/client.ts';
import { opStream } from '../../workloads/workload.ts';
import type { ClientContext } from '../../workloads/workload.ts';

const runtimeName = (process.env.BENCH_RUNTIME ?? 'docker') as 'docker' | 'local';
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 64);
const throughputNodes = Number(process.env.BENCH_NODES ?? 3);

const options = (n: number): SystemRunOptions => ({ nodeIds: nodeIds(n), clusterSecret: 'bench-secret', logLevel: 'warn', unsafe: [], storageFaultMode: false, enableFaultInjection: false, systemOptions: {} });

async function startup(): Promise<number> {
  const runtime = makeRuntime(runtimeName);
  await runtime.checkPrerequisites();
  // Build the bundle and images first: the figure is for a repeat run, not a first build.
  const system = await raftstore.prepare(runtimeName, options(5), () => {});
  const warm = await runtime.start({ runId: `bench-warm-${Date.now().toString(36)}`, nodeIds: nodeIds(1), system }, () => {});
  await warm.teardown();
  const t0 = performance.now();
  const cluster = await runtime.start({ runId: `bench-${Date.now().toString(36)}`, nodeIds: nodeIds(5), system }, () => {});
  try {
    await waitForCluster(cluster, system, 60_000);
    return performance.now() - t0;
  } finally {
    await cluster.teardown();
  }
}

function overheadMicros(n = 50_000): number {
  const dir = mkdtempSync(join(tmpdir(), 'bench-hist-'));
  const history = new HistoryWriter(join(dir, 'history.jsonl'));
  const w = registerWorkload();
  const next = opStream(w.operations(), 1, 0);
  let v = 0;
  const ctx: ClientContext = { process: 0, client: { node: 'n1' } as SystemClient, holder: 'p0', uniqueValue: () => ++v, memory: new Map() };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const op = w.prepare(ctx, next());
    history.record({ process: 0, type: 'invoke', f: op.f, ...(op.key !== undefined ? { key: op.key } : {}), value: op.value, node: 'n1' });
    history.record({ process: 0, type: 'ok', f: op.f, ...(op.key !== undefined ? { key: op.key } : {}), value: op.f === 'read' ? { version: i, value: i } : { version: i }, node: 'n1' });
  }
  const us = ((performance.now() - t0) * 1000) / n;
  history.close();
  rmSync(dir, { recursive: true, force: true });
  return us;
}

async function throughput(): Promise<{ opsPerSec: number; okOpsPerSec: number; valid: unknown }> {
  const resultsDir = mkdtempSync(join(tmpdir(), 'bench-results-'));
  try {
    const out = await runTest(
      { workload: 'register', nemesis: 'none', nodes: throughputNodes, concurrency, timeLimitS: seconds, rate: null, seed: 1, runtime: runtimeName, resultsDir, unsafe: [], opTimeoutMs: 2000, nemesisIntervalS: 10, recoveryS: 0, logLevel: 'warn' },
      { quiet: true },
    );
    return { opsPerSec: (out.counts.ok + out.counts.fail + out.counts.info) / seconds, okOpsPerSec: out.counts.ok / seconds, valid: out.valid };
  } finally {
    rmSync(resultsDir, { recursive: true, force: true });
  }
}

const startupMs = await startup();
console.log(`startup: ${startupMs.toFixed(0)} ms from runtime.start to a healthy 5-node cluster with a leader (${runtimeName}; target < 10000)`);
const perOpUs = overheadMicros();
console.log(`overhead: ${perOpUs.toFixed(1)} µs of harness CPU per operation (draw, prepare, record invoke + completion to disk)`);
const tp = await throughput();
console.log(
  `throughput: ${tp.okOpsPerSec.toFixed(0)} ok ops/s recorded (${tp.opsPerSec.toFixed(0)} completions/s) against ${throughputNodes} store nodes through Toxiproxy (register, ${concurrency} processes, --rate 0, no faults, ${seconds} s; run valid: ${String(tp.valid)}; target >= 2000 ok/s)`,
);
console.log(
  JSON.stringify({
    runtime: runtimeName,
    startupMs: Math.round(startupMs),
    startupTargetMet: startupMs < 10_000,
    overheadUsPerOp: Number(perOpUs.toFixed(2)),
    maxOkOpsPerSec: Math.round(tp.okOpsPerSec),
    maxOpsPerSec: Math.round(tp.opsPerSec),
    okOpsTargetMet: tp.okOpsPerSec >= 2000,
    throughputNodes,
    concurrency,
    throughputRunValid: tp.valid,
  }),
);
