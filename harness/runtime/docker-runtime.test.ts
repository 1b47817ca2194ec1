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
import { observeCutInFlight, observeOneWayCut, ONE_WAY } from './testing/one-way.ts';
import { prepareStandin } from './testing/standin-system.ts';
import { nodeIds } from './topology.ts';

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
  const runtime = new DockerRuntime();
  const runId = `t${Date.now().toString(36)}`;
  let cluster: StartedCluster;

  beforeAll(async () => {
    await runtime.checkPrerequisites();
    cluster = await runtime.start({ runId, nodeIds: nodeIds(3), system: await prepareStandin('docker', 'per-peer') }, () => {});
    await Promise.all(cluster.nodes.map((n) => waitHealthy(n.clientUrl)));
  });
  afterAll(async () => {
    await cluster?.teardown();
  });

  it('routes each node to each peer through its own proxy', async () => {
    const r = await getJson(`${cluster.node('n1').clientUrl}/probe?peer=n2`);
    expect(r.body).toEqual({ reply: 'n2' });
  });

  it('cuts a→b at the byte level while b→a still flows (one-way)', async () => {
    expect(await observeOneWayCut(cluster, 'n1', 'n2', 'n3')).toEqual(ONE_WAY);
  });

  it('a cut drops the bytes in flight on a slowed link', async () => {
    const seen = await observeCutInFlight(cluster, 'n2', 'n3');
    expect(seen.inFlightDelivered).toBe(false);
    expect(seen.afterHealDelivered).toBe(true);
  });

  it('reads and writes a stopped node\'s data files (through the archive API)', async () => {
    const n2 = cluster.node('n2');
    await n2.kill();
    await n2.writeDataFile('sub/file.bin', Buffer.from([1, 2, 3]));
    expect(await n2.listDataFiles()).toContainEqual({ path: 'sub/file.bin', size: 3 });
    expect([...(await n2.readDataFile('sub/file.bin'))]).toEqual([1, 2, 3]);
    await n2.start();
    await waitHealthy(n2.clientUrl);
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

describe('docker runtime, advertised peer addresses (one proxy container per source node)', () => {
  const runtime = new DockerRuntime();
  const runId = `a${Date.now().toString(36)}`;
  let cluster: StartedCluster;

  beforeAll(async () => {
    await runtime.checkPrerequisites();
    cluster = await runtime.start({ runId, nodeIds: nodeIds(3), system: await prepareStandin('docker', 'advertised') }, () => {});
    await Promise.all(cluster.nodes.map((n) => waitHealthy(n.clientUrl)));
  });
  afterAll(async () => {
    await cluster?.teardown();
  });

  it('every node reaches every peer by the peer\'s own name, through its own proxy', async () => {
    for (const [a, b] of [['n1', 'n2'], ['n2', 'n3'], ['n3', 'n1']] as const) {
      expect((await getJson(`${cluster.node(a).clientUrl}/probe?peer=${b}`)).body).toEqual({ reply: b });
    }
  });

  it('cuts a→b at the byte level while b→a still flows (one-way)', async () => {
    expect(await observeOneWayCut(cluster, 'n2', 'n3', 'n1')).toEqual(ONE_WAY);
  });

  it('a cut drops the bytes in flight on a slowed link (advertised layout: one Toxiproxy per source)', async () => {
    const seen = await observeCutInFlight(cluster, 'n3', 'n1');
    expect(seen.inFlightDelivered).toBe(false);
    expect(seen.afterHealDelivered).toBe(true);
  });

  it('leaves nothing behind after teardown', async () => {
    await cluster.teardown();
    expect(await listLabelled(runtime.docker, `${RUN_LABEL}=${runId}`)).toEqual([]);
  });
});
