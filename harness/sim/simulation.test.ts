/**
 * Whole simulated clusters: the real node code (driver, core, state machine, DiskStorage,
 * request handler) on simulated platforms, driven through the store's HTTP API over
 * simulated client links, in virtual time.
 */
import { describe, expect, it } from 'vitest';
import { newCluster, TestClient } from './cluster.test-support.ts';
import { SimulationViolation } from './guard.ts';
import type { Simulation } from './simulation.ts';

const three = ['n1', 'n2', 'n3'];
const five = ['n1', 'n2', 'n3', 'n4', 'n5'];

async function startAll(sim: Simulation, ids: readonly string[]): Promise<void> {
  await Promise.all(ids.map((id) => sim.start(id)));
}

describe('a simulated cluster', () => {
  it.each([[three], [five]])('of %j elects one leader and serves writes and linearizable reads through the request handler', async (ids) => {
    const sim = newCluster(ids, { seed: `serve-${ids.length}` });
    const client = new TestClient(sim, 'c1');
    await sim.run(async () => {
      await startAll(sim, ids);
      const leader = await client.leader(ids);
      for (let i = 1; i <= 20; i++) expect(await client.put(leader, `k${i}`, i)).toMatchObject({ status: 200 });
      for (let i = 1; i <= 20; i++) expect(await client.get(leader, `k${i}`)).toMatchObject({ status: 200, body: { value: i } });
      const follower = ids.find((id) => id !== leader)!;
      expect(await client.get(follower, 'k1')).toMatchObject({ status: 421, body: { error: { code: 'not-leader', leaderHint: { id: leader, clientUrl: `http://${leader}:8000` } } } });
      // Every member applied every write.
      await sim.clock.sleep(500);
      const applied = await Promise.all(ids.map(async (id) => (await client.status(id))?.applied));
      expect(new Set(applied).size).toBe(1);
    });
    expect(sim.now).toBeGreaterThan(0);
  });

  it('replays bit for bit from its seed: the same seed gives the same trace of every delivered message and response, another seed differs', async () => {
    async function scenario(seed: string): Promise<{ digest: string; records: number; now: number }> {
      const sim = newCluster(three, { seed, network: { jitterMs: 0.5 } });
      const clients = [new TestClient(sim, 'a'), new TestClient(sim, 'b')];
      await sim.run(async () => {
        await startAll(sim, three);
        const leader = await clients[0]!.leader(three);
        const writers = clients.map(async (c, n) => {
          for (let i = 0; i < 30; i++) await c.put(leader, `k${n}-${i % 5}`, i, 500);
        });
        await sim.clock.sleep(200);
        sim.network.partition([[leader], three.filter((id) => id !== leader)]);
        await sim.clock.sleep(1_500);
        sim.kill(leader);
        sim.network.healAll();
        await Promise.all(writers);
        await sim.start(leader);
        await sim.clock.sleep(2_000);
      });
      return { digest: sim.trace.digest(), records: sim.trace.count, now: sim.now };
    }
    const first = await scenario('replay-1');
    const again = await scenario('replay-1');
    const other = await scenario('replay-2');
    expect(first.records).toBeGreaterThan(500);
    expect(again).toEqual(first);
    expect(other.digest).not.toBe(first.digest);
  });

  it('loses no acknowledged write when the leader loses power during writes, and elects a new leader', async () => {
    const sim = newCluster(five, { seed: 'kill-leader' });
    const acked = new Map<string, number>();
    await sim.run(async () => {
      await startAll(sim, five);
      const observer = new TestClient(sim, 'observer');
      const first = await observer.leader(five);
      let stop = false;
      const writers = [0, 1, 2, 3].map(async (w) => {
        const c = new TestClient(sim, `w${w}`);
        let target = first;
        for (let i = 0; !stop && i < 10_000; i++) {
          const key = `w${w}-${i}`;
          const r = await c.put(target, key, i, 1_000);
          if (r.status === 200) acked.set(key, i);
          else if (r.status !== 200) {
            const hint = (r.body as { error?: { leaderHint?: { id?: string } } } | null)?.error?.leaderHint?.id;
            target = hint ?? five[(five.indexOf(target) + 1) % five.length]!;
            await sim.clock.sleep(20);
          }
        }
      });
      await sim.clock.sleep(1_000);
      const before = acked.size;
      sim.kill(first);
      const survivors = five.filter((id) => id !== first);
      const second = await observer.leader(survivors);
      expect(second).not.toBe(first);
      await sim.clock.sleep(2_000);
      await sim.start(first);
      await sim.clock.sleep(1_000);
      stop = true;
      await Promise.all(writers);
      expect(before).toBeGreaterThan(20);
      expect(acked.size).toBeGreaterThan(before);
      const leader = await observer.leader(five);
      for (const [key, value] of acked) {
        expect({ key, read: await observer.get(leader, key) }).toMatchObject({ key, read: { status: 200, body: { value } } });
      }
    });
  });

  it('recovers a node that lost power with an unsynced WAL write in flight: the torn tail is truncated (storage fault mode) and it catches up', async () => {
    const sim = newCluster(three, { seed: 'torn-tail' }, ['--storage-fault-mode']);
    await sim.run(async () => {
      await startAll(sim, three);
      const c = new TestClient(sim, 'c');
      const leader = await c.leader(three);
      const victim = three.find((id) => id !== leader)!;
      let stop = false;
      const writer = (async () => {
        for (let i = 0; !stop; i++) await c.put(leader, `k${i % 50}`, i, 1_000);
      })();
      // Step until a power loss of the victim tears the record it was writing (bounded).
      let torn = false;
      let kills = 0;
      for (let step = 0; step < 100_000 && !torn && kills < 50; step++) {
        await sim.clock.sleep(0.05);
        const wal = sim.node(victim).disk.listFiles('/data/' + victim).find((f) => f.path.startsWith('wal/'));
        if (wal === undefined || sim.node(victim).disk.unsyncedOps(`/data/${victim}/${wal.path}`) === 0) continue;
        sim.kill(victim);
        kills++;
        torn = sim.node(victim).lastCrash.some((r) => r.file.includes('/wal/') && r.torn !== null);
        await sim.start(victim);
      }
      expect({ torn, kills }).toMatchObject({ torn: true });
      await sim.clock.sleep(2_000);
      stop = true;
      await writer;
      await sim.clock.sleep(1_000);
      const logs = sim.node(victim).logLines().join('\n');
      expect(logs).toContain('truncating torn tail');
      const [l, v] = await Promise.all([c.status(leader), c.status(victim)]);
      expect(v?.applied).toBe(l?.applied);
      expect(v?.role).toBe('follower');
    });
  });

  it('shows `--unsafe no-fsync` losing acknowledged writes when every node loses power, and the same run with fsync losing none', async () => {
    async function crashAll(extraArgs: string[]): Promise<{ acked: number; lost: string[] }> {
      const sim = newCluster(three, { seed: 'power-loss' }, extraArgs);
      return sim.run(async () => {
        await startAll(sim, three);
        const c = new TestClient(sim, 'c');
        const leader = await c.leader(three);
        const acked: string[] = [];
        for (let i = 0; i < 200; i++) if ((await c.put(leader, `k${i}`, i)).status === 200) acked.push(`k${i}`);
        for (const id of three) sim.kill(id);
        await startAll(sim, three);
        const next = await c.leader(three);
        const lost: string[] = [];
        for (const key of acked) if ((await c.get(next, key)).status !== 200) lost.push(key);
        return { acked: acked.length, lost };
      });
    }
    const unsafe = await crashAll(['--unsafe', 'no-fsync']);
    expect(unsafe.acked).toBe(200);
    expect(unsafe.lost.length).toBeGreaterThan(0);
    const safe = await crashAll([]);
    expect(safe).toEqual({ acked: 200, lost: [] });
  });

  it('cuts one way only: a cut n1 -> n2 stops that direction and n2 -> n1 still flows', async () => {
    const sim = newCluster(three, { seed: 'one-way' });
    await sim.run(async () => {
      await startAll(sim, three);
      await new TestClient(sim, 'c').leader(three);
      sim.network.cut('n1', 'n2');
      await sim.clock.sleep(10); // what was in flight when the cut came is dropped
      const before = { forward: sim.network.linkState('n1', 'n2').delivered, back: sim.network.linkState('n2', 'n1').delivered };
      await sim.clock.sleep(2_000);
      expect(sim.network.linkState('n1', 'n2').delivered).toBe(before.forward);
      expect(sim.network.linkState('n2', 'n1').delivered).toBeGreaterThan(before.back);
      sim.network.heal('n1', 'n2');
      await sim.clock.sleep(500);
      expect(sim.network.linkState('n1', 'n2').delivered).toBeGreaterThan(before.forward);
    });
  });

  it('gives clients what real sockets would: refused by a killed node, a timeout over a cut link or from a paused node, connection-lost when the node dies mid-request', async () => {
    const sim = newCluster(three, { seed: 'client-links' });
    const http = sim.client();
    const code = (p: Promise<unknown>): Promise<string> => p.then(() => 'answered', (e: { code: string }) => e.code);
    await sim.run(async () => {
      await startAll(sim, three);
      const leader = await new TestClient(sim, 'c').leader(three);
      const status = (id: string, timeoutMs = 500): Promise<unknown> => http.request({ method: 'GET', url: `http://${id}:8000/v1/status`, timeoutMs });
      expect(await code(status('n1'))).toBe('answered');
      sim.network.cut('client', 'n1');
      const t0 = sim.now;
      expect(await code(status('n1'))).toBe('timeout');
      expect(sim.now - t0).toBeCloseTo(500, 6);
      sim.network.heal('client', 'n1');
      sim.pause('n2');
      expect(await code(status('n2'))).toBe('timeout');
      sim.resume('n2');
      sim.kill('n3', { powerLoss: false });
      expect(await code(status('n3'))).toBe('refused');
      // A linearizable read waits for a quorum round; kill the leader while it waits.
      const follower = three.find((id) => id !== leader && id !== 'n3')!;
      sim.network.cut(leader, follower);
      const pending = code(http.request({ method: 'GET', url: `http://${leader}:8000/v1/kv/get?key=x`, timeoutMs: 5_000 }));
      await sim.clock.sleep(50);
      sim.kill(leader);
      expect(await pending).toBe('connection-lost');
    });
  });

  it('streams a watch through the handler: history, a progress line, then live events', async () => {
    const sim = newCluster(three, { seed: 'watch' });
    const http = sim.client();
    await sim.run(async () => {
      await startAll(sim, three);
      const c = new TestClient(sim, 'c');
      const leader = await c.leader(three);
      await c.put(leader, 'w/a', 1);
      let text = '';
      const watching = http.stream(`http://${leader}:8000/v1/watch?prefix=w/&fromRevision=1`, 2_000, (t) => (text += t));
      await sim.clock.sleep(100);
      await c.put(leader, 'w/b', 2);
      await c.put(leader, 'x/ignored', 3);
      expect(await watching).toEqual({ status: 200 });
      const lines = text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; key?: string; value?: unknown });
      expect(lines.filter((l) => l.type !== 'progress').map((l) => [l.key, l.value])).toEqual([
        ['w/a', 1],
        ['w/b', 2],
      ]);
      expect(lines.filter((l) => l.type === 'progress').length).toBeGreaterThanOrEqual(2);
    });
  });

  it('fails the run when code under simulation touches a real timer', async () => {
    const sim = newCluster(['n1'], { seed: 'guard' });
    await expect(
      sim.run(async () => {
        await sim.start('n1');
        await new Promise((resolve) => setTimeout(resolve, 1));
      }),
    ).rejects.toBeInstanceOf(SimulationViolation);
    // The guard is gone once the run ended.
    await new Promise((resolve) => setTimeout(resolve, 1));
  });
});
