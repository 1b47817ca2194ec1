/**
 * The local runtime's plumbing with the stand-in node (testdata/standin-node.mjs): links go
 * through per-pair proxies on loopback, a cut is one-way, SIGKILL and restart keep the data
 * dir, and teardown leaves no labelled process.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRuntime, listLabelledProcesses, localPorts } from './local-runtime.ts';
import type { StartedCluster } from './runtime.ts';
import { PrerequisiteError } from './runtime.ts';
import { nodeIds } from './topology.ts';
import { createServer } from 'node:net';

const STANDIN = join(import.meta.dirname, 'testdata', 'standin-node.mjs');
const BASE = 36000 + (process.pid % 1000) * 2;

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never became healthy`);
}
const spec = (runId: string) => ({ runId, nodeIds: nodeIds(3), clusterSecret: 's', unsafe: [], enableFaultInjection: false, logLevel: 'info' as const, extraNodeArgs: [] });

describe('local runtime topology (stand-in node)', () => {
  const runtime = new LocalRuntime(STANDIN, BASE);
  const runId = `l${Date.now().toString(36)}`;
  let cluster: StartedCluster;

  beforeAll(async () => {
    await runtime.checkPrerequisites();
    cluster = await runtime.start(spec(runId), () => {});
    await Promise.all(cluster.nodes.map((n) => waitHealthy(n.clientUrl)));
  });
  afterAll(async () => {
    await cluster?.teardown();
  });

  it('cuts a→b while b→a flows, and heals', async () => {
    expect((await getJson(`${cluster.node('n1').clientUrl}/probe?peer=n2`)).body).toEqual({ reply: 'n2' });
    await cluster.network.cut({ from: 'n1', to: 'n2' });
    expect((await getJson(`${cluster.node('n1').clientUrl}/probe?peer=n2`)).status).not.toBe(200);
    expect((await getJson(`${cluster.node('n2').clientUrl}/probe?peer=n1`)).body).toEqual({ reply: 'n1' });
    await cluster.network.healAll();
    expect((await getJson(`${cluster.node('n1').clientUrl}/probe?peer=n2`)).body).toEqual({ reply: 'n2' });
  });

  it('SIGKILL and restart keep the data dir', async () => {
    const n2 = cluster.node('n2');
    const before = (await getJson(`${n2.clientUrl}/v1/status`)).body.term as number;
    await n2.kill();
    await n2.start();
    await waitHealthy(n2.clientUrl);
    expect((await getJson(`${n2.clientUrl}/v1/status`)).body.term).toBe(before + 1);
  });

  it('reports busy ports as a missing prerequisite', async () => {
    const blocker = createServer();
    const port = localPorts(BASE + 500, nodeIds(3)).api;
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      await expect(new LocalRuntime(STANDIN, BASE + 500).start(spec(`${runId}b`), () => {})).rejects.toThrow(PrerequisiteError);
    } finally {
      blocker.close();
    }
  });

  it('teardown leaves no labelled process behind', async () => {
    expect(listLabelledProcesses(runId).length).toBeGreaterThan(0);
    await cluster.teardown();
    expect(listLabelledProcesses(runId)).toEqual([]);
  });
});
