/**
 * The docker runtime's network plumbing, with a stand-in node (testdata/standin-node.mjs) so
 * it does not depend on the store: every ordered pair has its own proxy, cutting a→b leaves
 * b→a working, a killed node restarts on its own volume, and teardown leaves nothing behind.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerRuntime, listLabelled } from './docker-runtime.ts';
import type { StartedCluster } from './runtime.ts';
import { RUN_LABEL } from './runtime.ts';
import { nodeIds } from './topology.ts';

const STANDIN = join(import.meta.dirname, 'testdata', 'standin-node.mjs');

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
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never became healthy`);
}

describe('docker runtime topology (stand-in node)', () => {
  const runtime = new DockerRuntime(STANDIN);
  const runId = `t${Date.now().toString(36)}`;
  let cluster: StartedCluster;

  beforeAll(async () => {
    await runtime.checkPrerequisites();
    cluster = await runtime.start(
      { runId, nodeIds: nodeIds(3), clusterSecret: 's', unsafe: [], enableFaultInjection: false, logLevel: 'info', extraNodeArgs: [] },
      () => {},
    );
    await Promise.all(cluster.nodes.map((n) => waitHealthy(n.clientUrl)));
  });
  afterAll(async () => {
    await cluster?.teardown();
  });

  it('routes each node to each peer through its own proxy', async () => {
    const r = await getJson(`${cluster.node('n1').clientUrl}/probe?peer=n2`);
    expect(r.body).toEqual({ reply: 'n2' });
  });

  it('cuts a→b while b→a still flows (one-way)', async () => {
    await cluster.network.cut({ from: 'n1', to: 'n2' });
    const ab = await getJson(`${cluster.node('n1').clientUrl}/probe?peer=n2`);
    const ba = await getJson(`${cluster.node('n2').clientUrl}/probe?peer=n1`);
    const ac = await getJson(`${cluster.node('n1').clientUrl}/probe?peer=n3`);
    expect(ab.status).not.toBe(200);
    expect(ba.body).toEqual({ reply: 'n1' });
    expect(ac.body).toEqual({ reply: 'n3' });
    await cluster.network.healAll();
    expect((await getJson(`${cluster.node('n1').clientUrl}/probe?peer=n2`)).body).toEqual({ reply: 'n2' });
  });

  it('restarts a killed node on its own volume', async () => {
    const n3 = cluster.node('n3');
    const before = (await getJson(`${n3.clientUrl}/v1/status`)).body.term as number;
    await n3.kill();
    expect(n3.state).toBe('killed');
    await n3.start();
    await waitHealthy(n3.clientUrl);
    const after = (await getJson(`${n3.clientUrl}/v1/status`)).body.term as number;
    expect(after).toBe(before + 1);
    // Peers reach the restarted node by name again.
    expect((await getJson(`${cluster.node('n1').clientUrl}/probe?peer=n3`)).body).toEqual({ reply: 'n3' });
  });

  it('collects logs and leaves nothing behind after teardown', async () => {
    const dir = join(import.meta.dirname, '..', '..', '.tmp', `logs-${runId}`);
    await cluster.collectLogs(dir);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(join(dir, 'n3.events.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    expect(readFileSync(join(dir, 'n1.log'), 'utf8')).toContain('standin up');
    await cluster.teardown();
    expect(await listLabelled(runtime.docker, `${RUN_LABEL}=${runId}`)).toEqual([]);
  });
});
