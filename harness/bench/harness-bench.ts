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
import { registerWorkload } from '../../workloads/register.ts';
import { classify, opStream } from '../../workloads/workload.ts';
import type { ClientSession } from '../../workloads/workload.ts';

const runtimeName = (process.env.BENCH_RUNTIME ?? 'docker') as 'docker' | 'local';
const seconds = Number(process.env.BENCH_SECONDS ?? 10);

async function startup(): Promise<number> {
  const runtime = makeRuntime(runtimeName);
  await runtime.checkPrerequisites();
  // Warm the image cache first: the figure is for a repeat run, not a first build.
  const warm = await runtime.start({ runId: `bench-warm-${Date.now().toString(36)}`, nodeIds: nodeIds(1), clusterSecret: 'bench-secret', unsafe: [], enableFaultInjection: false, logLevel: 'warn', extraNodeArgs: [] }, () => {});
  await warm.teardown();
  const t0 = performance.now();
  const cluster = await runtime.start({ runId: `bench-${Date.now().toString(36)}`, nodeIds: nodeIds(5), clusterSecret: 'bench-secret', unsafe: [], enableFaultInjection: false, logLevel: 'warn', extraNodeArgs: [] }, () => {});
  try {
    await waitForCluster(cluster, 60_000);
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
  const session = { process: 0, clientId: 'b', nextSeq: () => 1, node: 'n1', opTimeoutMs: 1000, uniqueValue: () => ++v, memory: new Map(), urlOf: () => 'http://127.0.0.1:1', request: () => Promise.reject(new Error('unused')) } as ClientSession;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const op = w.prepare(session, next());
    history.record({ process: 0, type: 'invoke', f: op.f, ...(op.key !== undefined ? { key: op.key } : {}), value: op.value, node: 'n1' });
    const out = classify({ kind: 'ok', status: 200, body: { version: i, value: i } }, 'n1', op.f === 'read', (b) => ({ version: b.version }));
    history.record({ process: 0, type: out.type, f: op.f, ...(op.key !== undefined ? { key: op.key } : {}), value: out.type === 'ok' ? out.value : null, node: 'n1' });
  }
  const us = ((performance.now() - t0) * 1000) / n;
  history.close();
  rmSync(dir, { recursive: true, force: true });
  return us;
}

async function throughput(): Promise<{ opsPerSec: number; valid: unknown }> {
  const resultsDir = mkdtempSync(join(tmpdir(), 'bench-results-'));
  try {
    const out = await runTest(
      { workload: 'register', nemesis: 'none', nodes: 5, concurrency: 20, timeLimitS: seconds, rate: null, seed: 1, runtime: runtimeName, resultsDir, unsafe: [], opTimeoutMs: 2000, nemesisIntervalS: 10, recoveryS: 0, logLevel: 'warn' },
      { quiet: true },
    );
    return { opsPerSec: (out.counts.ok + out.counts.fail + out.counts.info) / seconds, valid: out.valid };
  } finally {
    rmSync(resultsDir, { recursive: true, force: true });
  }
}

const startupMs = await startup();
console.log(`startup: ${startupMs.toFixed(0)} ms from runtime.start to a healthy 5-node cluster with a leader (${runtimeName}; target < 10000)`);
const perOpUs = overheadMicros();
console.log(`overhead: ${perOpUs.toFixed(1)} µs of harness CPU per operation (draw, prepare, record invoke + completion to disk)`);
const tp = await throughput();
console.log(`throughput: ${tp.opsPerSec.toFixed(0)} ops/s recorded against the store (register, 20 processes, no faults, ${seconds} s; run valid: ${String(tp.valid)})`);
console.log(JSON.stringify({ runtime: runtimeName, startupMs: Math.round(startupMs), startupTargetMet: startupMs < 10_000, overheadUsPerOp: Number(perOpUs.toFixed(2)), maxOpsPerSec: Math.round(tp.opsPerSec), throughputRunValid: tp.valid }));
