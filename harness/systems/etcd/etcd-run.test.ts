/**
 * etcd (Debian's release) under the real harness on docker: a one-way cut between members
 * really is one-way (etcd's own per-peer byte counters show it), a register run under
 * partitions with linearizable reads is valid, and the same run with serializable reads is
 * caught serving stale values.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { runTest } from '../../run.ts';
import type { RunConfig } from '../../run.ts';
import { DockerRuntime, listLabelled } from '../../runtime/docker-runtime.ts';
import { RUN_LABEL } from '../../runtime/runtime.ts';
import { nodeIds } from '../../runtime/topology.ts';
import { etcd } from './index.ts';
import { DEBIAN_ETCD } from './version.ts';

const have = existsSync(DEBIAN_ETCD);
if (!have) console.warn(`etcd run tests SKIPPED: ${DEBIAN_ETCD} not installed (bash scripts/setup-host.sh)`);
const results = mkdtempSync(join(tmpdir(), 'jepsen-etcd-runs-'));

function config(over: Partial<RunConfig>): RunConfig {
  return {
    system: 'etcd',
    workload: 'register',
    nemesis: 'partition',
    nodes: 3,
    concurrency: 9,
    timeLimitS: 16,
    rate: 120,
    seed: 3,
    runtime: 'docker',
    resultsDir: results,
    unsafe: [],
    opTimeoutMs: 1500,
    nemesisIntervalS: 4,
    recoveryS: 2,
    logLevel: 'info',
    ...over,
  };
}

/** etcd_network_peer_received_bytes_total by sender (member id, hex) from a member's /metrics. */
async function receivedFrom(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(3000) })).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^etcd_network_peer_received_bytes_total\{From="([0-9a-f]+)"\} (\S+)$/gm)) out.set(m[1] as string, Number(m[2]));
  return out;
}

afterAll(() => rmSync(results, { recursive: true, force: true }));

describe.skipIf(!have)('etcd on docker', () => {
  it("a one-way cut a→b: b receives nothing more from a, a still receives from b (etcd's per-peer byte counters)", async () => {
    const runtime = new DockerRuntime();
    await runtime.checkPrerequisites();
    const runId = `e1w${Date.now().toString(36)}`;
    const options = { nodeIds: nodeIds(3), clusterSecret: 'oneway-secret', logLevel: 'info' as const, unsafe: [], storageFaultMode: false, enableFaultInjection: false, systemOptions: {} };
    const system = await etcd.prepare('docker', options, () => {});
    const cluster = await runtime.start({ runId, nodeIds: options.nodeIds, system }, () => {});
    try {
      // Every member up, and who is who (member ids in hex, as the metrics label them).
      let statuses = await Promise.all(cluster.nodes.map((n) => system.status(n, 2000, cluster)));
      for (let i = 0; i < 60 && !statuses.some((s) => s?.role === 'leader'); i++) {
        await new Promise((r) => setTimeout(r, 250));
        statuses = await Promise.all(cluster.nodes.map((n) => system.status(n, 2000, cluster)));
      }
      const leader = cluster.nodes[statuses.findIndex((s) => s?.role === 'leader')];
      expect(leader).toBeDefined();
      const follower = cluster.nodes.find((n) => n.id !== leader?.id)!;
      const ids = new Map<string, string>();
      for (const n of cluster.nodes) {
        const r = await fetch(`${n.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(3000) });
        ids.set(n.id, BigInt(((await r.json()) as { header: { member_id: string } }).header.member_id).toString(16));
      }
      await cluster.network.cut({ from: leader!.id, to: follower.id });
      await new Promise((r) => setTimeout(r, 500));
      const before = { atFollower: await receivedFrom(follower.clientUrl), atLeader: await receivedFrom(leader!.clientUrl) };
      await new Promise((r) => setTimeout(r, 3000));
      const after = { atFollower: await receivedFrom(follower.clientUrl), atLeader: await receivedFrom(leader!.clientUrl) };
      const fromLeader = ids.get(leader!.id)!;
      const fromFollower = ids.get(follower.id)!;
      // Nothing more from the leader reached the follower ...
      expect(after.atFollower.get(fromLeader)).toBe(before.atFollower.get(fromLeader));
      // ... while the follower's messages (votes, heartbeat answers) still reach the leader.
      expect(after.atLeader.get(fromFollower)!).toBeGreaterThan(before.atLeader.get(fromFollower)!);
      await cluster.network.healAll();
    } finally {
      await cluster.teardown();
    }
    expect(await listLabelled(new Dockerode(), `${RUN_LABEL}=${runId}`)).toEqual([]);
  });

  it('register under partitions, linearizable reads: valid, and the members agree', async () => {
    const out = await runTest(config({}), { quiet: true });
    expect(out.valid).toBe(true);
    expect(out.results.find((r) => r.checker === 'replicas')?.summary).toMatch(/members agree: equal key-space hashes/);
    expect(out.counts.ok).toBeGreaterThan(300);
  });

  it('register under partitions, serializable reads: the stale reads are caught (linearizability invalid)', async () => {
    const out = await runTest(config({ readConsistency: 'serializable', seed: 2, timeLimitS: 20 }), { quiet: true });
    const lin = out.results.find((r) => r.checker === 'linearizability');
    expect(lin?.valid).toBe(false);
    expect(lin?.summary).toMatch(/read -> .* cannot be linearized/);
    expect(out.valid).toBe(false);
  });
});
