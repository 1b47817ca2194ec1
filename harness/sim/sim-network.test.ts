/**
 * The simulated network's links: order, latency and jitter, loss, bandwidth, cuts and
 * resets, measured on peer endpoints carrying real Raft messages.
 */
import { describe, expect, it } from 'vitest';
import { index, nodeId, term } from '../../impl/raft/index.ts';
import type { Message, NodeId } from '../../impl/raft/index.ts';
import type { PeerEndpoint } from '../../impl/node/seams.ts';
import { SimRandom } from './random.ts';
import { Scheduler, SimProcess } from './scheduler.ts';
import { SimNetwork, type NetworkOptions } from './sim-network.ts';
import { Trace } from './trace.ts';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

function message(from: string, to: string, i: number, dataBytes = 0): Message {
  return {
    type: 'append',
    from: nodeId(from),
    to: nodeId(to),
    term: term(1),
    index: index(i),
    logTerm: term(1),
    commit: index(0),
    reject: false,
    rejectHint: index(0),
    rejectHintTerm: term(0),
    context: null,
    entries: dataBytes > 0 ? [{ index: index(i + 1), term: term(1), type: 'normal', data: new Uint8Array(dataBytes) }] : [],
    snapshot: null,
  };
}

interface Pair {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  readonly a: PeerEndpoint;
  readonly b: PeerEndpoint;
  /** What b received: (arrival time, index). */
  readonly received: { at: number; index: number }[];
  readonly unreachable: string[];
}

function pair(options: NetworkOptions = {}): Pair {
  const scheduler = new Scheduler(false);
  const network = new SimNetwork(scheduler, SimRandom.fromSeed('net'), new Trace(0), options);
  const received: { at: number; index: number }[] = [];
  const unreachable: string[] = [];
  const open = (id: string, peer: string): PeerEndpoint =>
    network.openPeer(id, new SimProcess(id), {
      id: nodeId(id),
      secret: 'secret',
      peers: new Map<NodeId, { host: string; port: number }>([[nodeId(peer), { host: peer, port: 7000 }]]),
      listenHost: '0.0.0.0',
      listenPort: 7000,
      onUnreachable: (p) => unreachable.push(`${id}->${p}`),
      onSnapshotStatus: () => undefined,
      logger: quiet,
    });
  const a = open('a', 'b');
  const b = open('b', 'a');
  b.onMessage((m) => received.push({ at: scheduler.now, index: m.index }));
  return { scheduler, network, a, b, received, unreachable };
}

async function sendAll(p: Pair, count: number, everyMs: number, dataBytes = 0): Promise<void> {
  const sender = new SimProcess('driver');
  for (let i = 0; i < count; i++) p.scheduler.at(i * everyMs, () => p.a.send(message('a', 'b', i, dataBytes)), sender);
  await p.scheduler.runFor(count * everyMs + 20_000);
}

describe('SimNetwork links', () => {
  it('delivers in the order sent, each after latency ± jitter (never before its predecessor)', async () => {
    const p = pair({ latencyMs: 10, jitterMs: 5 });
    await sendAll(p, 200, 1);
    expect(p.received.map((r) => r.index)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    for (let i = 0; i < 200; i++) {
      const delay = p.received[i]!.at - i;
      expect(delay).toBeGreaterThanOrEqual(5);
      if (i > 0) expect(p.received[i]!.at).toBeGreaterThanOrEqual(p.received[i - 1]!.at);
    }
    const delays = p.received.map((r, i) => r.at - i);
    expect(Math.min(...delays)).toBeLessThan(8);
    expect(Math.max(...delays)).toBeGreaterThan(14);
  });

  it('loses about the configured share of messages', async () => {
    const p = pair({ lossRate: 0.2 });
    await sendAll(p, 2_000, 1);
    expect(p.received.length).toBeGreaterThan(1_500);
    expect(p.received.length).toBeLessThan(1_700);
  });

  it('limits bandwidth: 100 messages of ~1 kB at 10 kB/s take about 10 s', async () => {
    const p = pair({ latencyMs: 0, jitterMs: 0, bandwidthBytesPerSec: 10_000 });
    await sendAll(p, 100, 0.001, 1_000);
    expect(p.received.length).toBe(100);
    expect(p.received.at(-1)!.at).toBeGreaterThan(10_000);
    expect(p.received.at(-1)!.at).toBeLessThan(11_500);
  });

  it('a cut drops what is sent and what is in flight, one way only; a reset loses what is in flight and tells the sender', async () => {
    const p = pair({ latencyMs: 50, jitterMs: 0 });
    const driver = new SimProcess('driver');
    p.scheduler.at(0, () => p.a.send(message('a', 'b', 1)), driver);
    p.scheduler.at(10, () => p.network.cut('a', 'b'), driver);
    p.scheduler.at(20, () => p.a.send(message('a', 'b', 2)), driver);
    p.scheduler.at(30, () => p.network.heal('a', 'b'), driver);
    p.scheduler.at(40, () => p.a.send(message('a', 'b', 3)), driver);
    p.scheduler.at(50, () => p.network.reset('a', 'b'), driver);
    p.scheduler.at(60, () => p.a.send(message('a', 'b', 4)), driver);
    let back = 0;
    p.a.onMessage(() => back++);
    p.scheduler.at(70, () => p.network.cut('a', 'b'), driver);
    p.scheduler.at(70, () => p.b.send(message('b', 'a', 5)), driver);
    await p.scheduler.runFor(1_000);
    expect(p.received.map((r) => r.index)).toEqual([]);
    expect(back).toBe(1);
    expect(p.unreachable).toEqual(['a->b']);
  });

  it('refuses messages to a host where nothing listens, and tells the sender', async () => {
    const scheduler = new Scheduler(false);
    const network = new SimNetwork(scheduler, SimRandom.fromSeed('net'), new Trace(0));
    const unreachable: string[] = [];
    const proc = new SimProcess('a');
    const a = network.openPeer('a', proc, {
      id: nodeId('a'),
      secret: 'secret',
      peers: new Map([[nodeId('b'), { host: 'b', port: 7000 }]]),
      listenHost: '0.0.0.0',
      listenPort: 7000,
      onUnreachable: (peer) => unreachable.push(peer),
      onSnapshotStatus: () => undefined,
      logger: quiet,
    });
    scheduler.at(0, () => a.send(message('a', 'b', 1)), proc);
    await scheduler.runFor(100);
    expect(unreachable).toEqual(['b']);
  });

  it("carries the codec's bytes in 'bytes' mode and the sender's object in 'objects' mode", async () => {
    for (const wire of ['bytes', 'objects'] as const) {
      const p = pair({ wire });
      const sent = message('a', 'b', 7, 16);
      const got: Message[] = [];
      p.b.onMessage((m) => got.push(m));
      p.scheduler.at(0, () => p.a.send(sent), new SimProcess('driver'));
      await p.scheduler.runFor(100);
      expect(got).toHaveLength(1);
      expect(got[0]).toEqual(sent);
      expect(got[0] === sent).toBe(wire === 'objects');
    }
  });
});
