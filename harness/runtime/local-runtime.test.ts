/**
 * The local runtime's plumbing with the stand-in node (testdata/standin-node.mjs): links go
 * through per-pair proxies on loopback, a cut is one-way, SIGKILL and restart keep the data
 * dir, and teardown leaves no labelled process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRuntime, listLabelledProcesses, localPorts } from './local-runtime.ts';
import type { StartedCluster } from './runtime.ts';
import { PrerequisiteError } from './runtime.ts';
import { observeCutInFlight, observeHealOne, observeOneWayCut, ONE_WAY } from './testing/one-way.ts';
import { prepareStandin } from './testing/standin-system.ts';
import { nodeIds } from './topology.ts';
import { createServer } from 'node:net';

// Below Linux's ephemeral range (32768–60999): a port in that range can be taken by any
// outgoing connection between the runtime's free-port check and the node's listen, which is
// what made this suite flaky under the full test run.
const BASE = 24000 + (process.pid % 16) * 10;

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
async function waitHealthy(url: string): Promise<void> {
  // A deadline, not a count: under the full suite (docker builds, etcd clusters) a node
  // process can take several seconds to start on two cores.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} never became healthy`);
}
const spec = async (runId: string) => ({ runId, nodeIds: nodeIds(3), system: await prepareStandin('local', 'per-peer') });

describe('local runtime topology (stand-in node)', () => {
  const runtime = new LocalRuntime(BASE);
  const runId = `l${Date.now().toString(36)}`;
  let cluster: StartedCluster;

  beforeAll(async () => {
    await runtime.checkPrerequisites();
    cluster = await runtime.start(await spec(runId), () => {});
    await Promise.all(cluster.nodes.map((n) => waitHealthy(n.clientUrl)));
  });
  afterAll(async () => {
    await cluster?.teardown();
  });

  it('cuts a→b at the byte level while b→a flows, and heals', async () => {
    expect((await getJson(`${cluster.node('n1').clientUrl}/probe?peer=n2`)).body).toEqual({ reply: 'n2' });
    expect(await observeOneWayCut(cluster, 'n1', 'n2', 'n3')).toEqual(ONE_WAY);
  });

  it('heal(link) undoes one cut and leaves the others', async () => {
    expect(await observeHealOne(cluster, 'n1', 'n2', 'n3')).toEqual({ healedLinkDelivered: true, stillCutDelivered: false });
  });

  it('a cut drops the bytes in flight on a slowed link (not delivered early), and heal(link) keeps the latency', async () => {
    const seen = await observeCutInFlight(cluster, 'n2', 'n3');
    expect(seen.inFlightDelivered).toBe(false);
    expect(seen.afterHealDelivered).toBe(true);
    expect(seen.afterHealMs).toBeGreaterThanOrEqual(400); // still slowed: the passing cut toxic sits behind the latency
  });

  it('reads and writes a node\'s data files', async () => {
    const n3 = cluster.node('n3');
    await n3.writeDataFile('sub/file.bin', Buffer.from([1, 2, 3]));
    expect(await n3.listDataFiles()).toContainEqual({ path: 'sub/file.bin', size: 3 });
    expect([...(await n3.readDataFile('sub/file.bin'))]).toEqual([1, 2, 3]);
    await expect(n3.readDataFile('../../etc/passwd')).rejects.toThrow(/outside the data directory/);
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
      await expect(new LocalRuntime(BASE + 500).start(await spec(`${runId}b`), () => {})).rejects.toThrow(PrerequisiteError);
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
