/**
 * Real short runs of the whole harness: docker runtime, 5 store nodes behind Toxiproxy, the
 * register workload, the partition and kill nemeses. Each asserts that its fault really
 * happened (not only that it was recorded), that the run is valid, and that nothing with
 * the run's label is left behind.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Op } from '../checkers/history/types.ts';
import { runTest } from './run.ts';
import { buildPrivateBundle } from './testing/bundle.ts';
import type { RunConfig } from './run.ts';
import { listLabelled } from './runtime/docker-runtime.ts';
import type { NodeHandle, StartedCluster } from './runtime/runtime.ts';
import { RUN_LABEL } from './runtime/runtime.ts';
import { call } from './systems/raftstore/http.ts';

const docker = new Dockerode();
let bundle: string | undefined;

function config(nemesis: string, seed: number): RunConfig {
  return {
    workload: 'register',
    nemesis,
    nodes: 5,
    concurrency: 5,
    timeLimitS: 12,
    rate: 40,
    seed,
    runtime: 'docker',
    resultsDir: mkdtempSync(join(tmpdir(), 'jepsen-results-')),
    unsafe: [],
    opTimeoutMs: 1500,
    nemesisIntervalS: 4,
    recoveryS: 2,
    logLevel: 'info',
    ...(bundle !== undefined ? { systemOptions: { bundle } } : {}),
  };
}

function history(dir: string): Op[] {
  return readFileSync(join(dir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Op);
}

let writeSeq = 0;
async function put(node: NodeHandle, key: string, timeoutMs: number): Promise<Awaited<ReturnType<typeof call>>> {
  writeSeq++;
  return call(node.clientUrl, '/v1/kv/put', { method: 'POST', body: { key, value: writeSeq, clientId: 'probe', seq: writeSeq }, timeoutMs });
}

interface Status {
  term: number;
  lastIndex: number;
  role: string;
}
async function status(node: NodeHandle, timeoutMs = 500): Promise<Status | null> {
  const out = await call(node.clientUrl, '/v1/status', { timeoutMs });
  return out.kind === 'ok' ? (out.body as unknown as Status) : null;
}

describe('jepsen runs on docker (5 nodes)', () => {
  beforeAll(() => {
    // The runs use the real store node, built from the tree under test (esbuild, about a second).
    bundle = buildPrivateBundle('jepsen-run');
  });
  afterAll(() => {
    if (bundle !== undefined) rmSync(bundle, { force: true });
  });

  it('partition: the minority cannot commit while the majority does; the run is valid; nothing left', async () => {
    const probes: { minorityWrite: string; majorityCommitted: boolean; minorityCommitBefore: number[]; minorityCommitAfter: number[]; majorityCommit: number }[] = [];
    const commits = async (cluster: StartedCluster, ids: string[]): Promise<number[]> =>
      Promise.all(ids.map(async (id) => ((await status(cluster.node(id), 1000)) as { commit?: number } | null)?.commit ?? -1));
    const out = await runTest(config('partition', 11), {
      quiet: true,
      onFault: async (f, value, cluster: StartedCluster) => {
        if (f !== 'start-partition') return;
        const { minority, majority } = value as { minority: string[]; majority: string[] };
        // Let messages already in flight land, then watch the minority's commit index.
        await new Promise((r) => setTimeout(r, 1000));
        const minorityCommitBefore = await commits(cluster, minority);
        // Some majority node commits a write within a few election timeouts...
        let committed = false;
        for (let i = 0; i < 40 && !committed; i++) {
          for (const id of majority) {
            if ((await put(cluster.node(id), 'probe-majority', 500)).kind === 'ok') committed = true;
          }
          if (!committed) await new Promise((r) => setTimeout(r, 100));
        }
        // ...while a write sent straight to a minority node (no leader-following) does not succeed,
        const m = await put(cluster.node(minority[0] as string), `probe-minority-${writeSeq}`, 1500);
        // and the minority's commit index does not move although the majority's did.
        const minorityCommitAfter = await commits(cluster, minority);
        const majorityCommit = Math.max(...(await commits(cluster, majority)));
        probes.push({ minorityWrite: m.kind === 'ok' ? 'ok' : m.code, majorityCommitted: committed, minorityCommitBefore, minorityCommitAfter, majorityCommit });
      },
    });
    expect(probes.length).toBeGreaterThanOrEqual(1);
    for (const p of probes) {
      expect(p.minorityWrite).not.toBe('ok');
      expect(p.majorityCommitted).toBe(true);
      expect(p.minorityCommitAfter).toEqual(p.minorityCommitBefore);
      expect(p.majorityCommit).toBeGreaterThan(Math.max(...p.minorityCommitAfter));
    }
    const h = history(out.dir);
    expect(h.filter((o) => o.process === 'nemesis' && o.f === 'start-partition' && o.type === 'info')).toHaveLength(probes.length);
    expect(h.filter((o) => o.process !== 'nemesis' && o.type === 'ok').length).toBeGreaterThan(50);
    expect(out.valid).toBe(true);
    expect(JSON.parse(readFileSync(join(out.dir, 'results.json'), 'utf8'))).toMatchObject({ valid: true });
    expect(await listLabelled(docker, `${RUN_LABEL}=${out.runId}`)).toEqual([]);
  });

  it('kill: killed nodes restart from their own disk (term and log kept); the run is valid; nothing left', async () => {
    const before = new Map<string, Status>();
    const after = new Map<string, Status>();
    const out = await runTest(config('kill', 5), {
      quiet: true,
      onCluster: (cluster) => {
        for (const n of cluster.nodes) {
          const kill = n.kill.bind(n);
          const start = n.start.bind(n);
          n.kill = async () => {
            const s = await status(n);
            if (s !== null) before.set(n.id, s);
            await kill();
          };
          n.start = async () => {
            await start();
            // The first answer after the restart, before catching up from a leader can hide
            // what the node read from its own disk.
            for (let i = 0; i < 300; i++) {
              const s = await status(n, 200);
              if (s !== null) {
                after.set(n.id, s);
                return;
              }
              await new Promise((r) => setTimeout(r, 20));
            }
          };
        }
      },
    });
    const h = history(out.dir);
    const kills = h.filter((o) => o.process === 'nemesis' && o.f === 'start-kill' && o.type === 'info');
    expect(kills.length).toBeGreaterThanOrEqual(1);
    const killed = new Set(kills.flatMap((o) => (o.value as { killed: string[] }).killed));
    expect(killed.size).toBeGreaterThanOrEqual(1);
    for (const id of killed) {
      const b = before.get(id);
      const a = after.get(id);
      expect(b, `status of ${id} before the kill`).toBeDefined();
      expect(a, `status of ${id} after the restart`).toBeDefined();
      expect(a?.term).toBeGreaterThanOrEqual(b?.term ?? Infinity);
      expect(a?.lastIndex).toBeGreaterThan(0);
      // The node's own log: storage opened again after the kill, on the log it had written.
      const opened = readFileSync(join(out.dir, 'nodes', `${id}.log`), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"storage opened"'))
        .map((l) => JSON.parse(l) as { lastIndex: number; term: number });
      expect(opened.length).toBeGreaterThanOrEqual(2);
      expect(opened[0]).toMatchObject({ lastIndex: 0, term: 0 });
      expect(opened.at(-1)?.lastIndex).toBeGreaterThan(0);
      expect(opened.at(-1)?.term).toBeGreaterThan(0);
    }
    expect(out.valid).toBe(true);
    expect(await listLabelled(docker, `${RUN_LABEL}=${out.runId}`)).toEqual([]);
  });

  // Slower: proves the harness catches a broken store. JEPSEN_LONG_TESTS=1 npx vitest run harness
  it.runIf(process.env.JEPSEN_LONG_TESTS === '1')('--unsafe stale-reads under isolate-leader is caught as not linearizable', async () => {
    const out = await runTest({ ...config('isolate-leader', 7), timeLimitS: 15, concurrency: 10, rate: 100, unsafe: ['stale-reads'] }, { quiet: true });
    expect(out.valid).toBe(false);
    expect(out.results.find((r) => r.checker === 'linearizability')?.valid).toBe(false);
    expect(await listLabelled(docker, `${RUN_LABEL}=${out.runId}`)).toEqual([]);
  });
});
