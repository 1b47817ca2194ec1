import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMessage } from './codec.ts';
import { PeerTransport, encodeFrame } from './peer-transport.ts';
import type { PeerTransportOptions } from './peer-transport.ts';
import type { Index, Message, MessageType, NodeId, Term } from '../raft/types.ts';

const SECRET = 'cluster-secret-for-tests';
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const started: PeerTransport[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.close()));
});

async function start(id: string, peers: Record<string, string> = {}, extra: Partial<PeerTransportOptions> = {}): Promise<PeerTransport> {
  const t = await PeerTransport.start({
    id: id as NodeId,
    secret: SECRET,
    peers: new Map(Object.entries(peers) as [NodeId, string][]),
    listenHost: '127.0.0.1',
    listenPort: 0,
    logger: quiet,
    backoffInitialMs: 20,
    backoffMaxMs: 200,
    ...extra,
  });
  started.push(t);
  return t;
}

const addr = (t: PeerTransport) => `127.0.0.1:${t.address.port}`;

function msg(from: string, to: string, type: MessageType = 'append', extra: Partial<Message> = {}): Message {
  return {
    type, from: from as NodeId, to: to as NodeId, term: 3 as Term, index: 10 as Index, logTerm: 2 as Term, entries: [],
    commit: 9 as Index, reject: false, rejectHint: 0 as Index, rejectHintTerm: 0 as Term, snapshot: null, context: null, ...extra,
  };
}

async function waitFor(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function collect(t: PeerTransport): Message[] {
  const got: Message[] = [];
  t.onMessage((m) => got.push(m));
  return got;
}

/** Open a raw TCP connection, write bytes, and resolve when the server closes it. */
function rawSend(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(bytes));
    s.on('error', () => undefined);
    s.on('close', () => resolve());
    s.on('data', () => undefined);
    setTimeout(() => s.destroy(), 5000).unref();
  });
}

describe('PeerTransport', () => {
  it('exchanges messages both ways on loopback, entries and snapshots included', async () => {
    const a = await start('a');
    const b = await start('b', { a: addr(a) });
    a.setPeer('b' as NodeId, addr(b));
    const atA = collect(a);
    const atB = collect(b);
    const snapshotStatus: [NodeId, boolean][] = [];
    a.onSnapshotStatus((peer, ok) => snapshotStatus.push([peer, ok]));
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 256);
    const withEntries = msg('a', 'b', 'append', {
      entries: [
        { index: 11 as Index, term: 3 as Term, type: 'normal', data: new Uint8Array([1, 2, 3]) },
        { index: 12 as Index, term: 3 as Term, type: 'noop', data: new Uint8Array(0) },
      ],
    });
    const withSnapshot = msg('a', 'b', 'snapshot', {
      snapshot: { metadata: { index: 50 as Index, term: 3 as Term, confState: { voters: ['a', 'b'] as NodeId[], learners: [] } }, data: big },
    });
    a.send(withEntries);
    a.send(withSnapshot);
    for (let i = 0; i < 100; i++) a.send(msg('a', 'b', 'heartbeat', { commit: i as Index }));
    b.send(msg('b', 'a', 'append-resp', { reject: true, rejectHint: 7 as Index }));
    await waitFor('b to receive 102 messages', () => atB.length === 102);
    await waitFor('a to receive 1 message', () => atA.length === 1);
    expect(atB[0]).toEqual(withEntries);
    // Compare the 3 MiB payload as a Buffer (deep equality on a typed array is slow).
    expect(Buffer.from(atB[1]!.snapshot!.data).equals(Buffer.from(big))).toBe(true);
    expect({ ...atB[1], snapshot: { ...atB[1]!.snapshot, data: null } }).toEqual({ ...withSnapshot, snapshot: { ...withSnapshot.snapshot, data: null } });
    expect(atB.slice(2).map((m) => m.commit)).toEqual(Array.from({ length: 100 }, (_, i) => i)); // in order
    expect(atA[0]).toEqual(msg('b', 'a', 'append-resp', { reject: true, rejectHint: 7 as Index }));
    expect(a.counters.sent).toBe(102);
    expect(snapshotStatus).toEqual([['b', true]]);
    expect(b.counters.received).toBe(102);
  });

  it('reconnects after the peer restarts, with backoff, counting reconnects', async () => {
    const a = await start('a');
    let b = await start('b', { a: addr(a) });
    const port = b.address.port;
    a.setPeer('b' as NodeId, addr(b));
    let got = collect(b);
    a.send(msg('a', 'b'));
    await waitFor('first delivery', () => got.length === 1);
    await b.close();
    // While b is down: sends queue (or fail) and the connection retries.
    for (let i = 0; i < 5; i++) {
      a.send(msg('a', 'b', 'heartbeat'));
      await new Promise((r) => setTimeout(r, 30));
    }
    await waitFor('a reconnect attempt', () => a.counters.reconnects > 0);
    b = await start('b', { a: addr(a) }, { listenPort: port });
    got = collect(b);
    await waitFor('delivery after restart', () => {
      if (got.length === 0) a.send(msg('a', 'b', 'heartbeat'));
      return got.length > 0;
    });
    expect(a.counters.reconnects).toBeGreaterThan(0);
    expect(a.counters.connects).toBeGreaterThanOrEqual(2);
  });

  it('drops and counts when a peer queue is full, reporting the peer unreachable, without throwing', async () => {
    // A port with no listener: the connection keeps failing, so frames pile up.
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const unreachable: NodeId[] = [];
    const a = await start('a', { b: `127.0.0.1:${deadPort}` }, { maxQueuedFrames: 5, onUnreachable: (p) => unreachable.push(p) });
    const snapshotStatus: [NodeId, boolean][] = [];
    a.onSnapshotStatus((peer, ok) => snapshotStatus.push([peer, ok]));
    for (let i = 0; i < 19; i++) a.send(msg('a', 'b'));
    a.send(msg('a', 'b', 'snapshot', { snapshot: { metadata: { index: 1 as Index, term: 1 as Term, confState: { voters: [], learners: [] } }, data: new Uint8Array(1) } }));
    expect(snapshotStatus).toEqual([['b', false]]);
    expect(a.queueDepths().get('b' as NodeId)).toBe(5);
    a.send(msg('a', 'nobody'));
    expect(a.counters.droppedQueueFull).toBe(15);
    expect(a.counters.droppedNoAddress).toBe(1);
    expect(unreachable.filter((p) => p === 'b').length).toBeGreaterThanOrEqual(15);
    expect(unreachable).toContain('nobody');
  });

  it('drops a message larger than the frame limit and counts it', async () => {
    const b = await start('b');
    const a = await start('a', { b: addr(b) }, { maxFrameBytes: 64 * 1024 });
    a.send(msg('a', 'b', 'append', { entries: [{ index: 1 as Index, term: 1 as Term, type: 'normal', data: new Uint8Array(100_000) }] }));
    expect(a.counters.droppedTooLarge).toBe(1);
  });

  it('rejects a forged frame (wrong secret), a stranger, and a frame for someone else, delivering none', async () => {
    const b = await start('b', { a: '127.0.0.1:1' });
    const got = collect(b);
    const port = b.address.port;
    await rawSend(port, encodeFrame('wrong-secret', 'a', 'b', encodeMessage(msg('a', 'b'))));
    await rawSend(port, encodeFrame(SECRET, 'mallory', 'b', encodeMessage(msg('mallory', 'b'))));
    await rawSend(port, encodeFrame(SECRET, 'a', 'c', encodeMessage(msg('a', 'c'))));
    // A valid frame after a forged one on the same connection is not delivered either: the stream is closed.
    await rawSend(port, Buffer.concat([encodeFrame('wrong-secret', 'a', 'b', encodeMessage(msg('a', 'b'))), encodeFrame(SECRET, 'a', 'b', encodeMessage(msg('a', 'b')))]));
    expect(b.counters.rejectedBadMac).toBe(2);
    expect(b.counters.rejectedUnknownPeer).toBe(1);
    expect(b.counters.rejectedWrongRecipient).toBe(1);
    expect(b.counters.received).toBe(0);
    expect(got).toEqual([]);
    // A genuine frame on a fresh connection is still accepted.
    const ok = new Promise<void>((resolve) => b.onMessage(() => resolve()));
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(encodeFrame(SECRET, 'a', 'b', encodeMessage(msg('a', 'b')))));
    await ok;
    s.destroy();
    expect(b.counters.received).toBe(1);
  });

  it('survives garbage bytes on the port and keeps serving', async () => {
    const a = await start('a');
    const b = await start('b', { a: addr(a) });
    a.setPeer('b' as NodeId, addr(b));
    const got = collect(b);
    const port = b.address.port;
    await rawSend(port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await rawSend(port, Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    // Well framed, right version byte, random MAC.
    await rawSend(port, Buffer.concat([Buffer.from([60, 0, 0, 0, 1]), Buffer.alloc(59, 0xab)]));
    // A frame with a valid MAC whose payload does not decode.
    await rawSend(port, encodeFrame(SECRET, 'a', 'b', Buffer.from([1, 200, 0, 0])));
    const junk = Buffer.alloc(10_000);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919) % 256;
    await rawSend(port, junk);
    expect(b.counters.rejectedMalformed).toBeGreaterThanOrEqual(4);
    expect(b.counters.rejectedBadMac).toBeGreaterThanOrEqual(1);
    a.send(msg('a', 'b'));
    await waitFor('a real message after the garbage', () => got.length === 1);
  });

  it('follows an address change made at runtime (membership change)', async () => {
    const b1 = await start('b');
    const b2 = await start('b');
    const a = await start('a', { b: addr(b1) });
    b1.setPeer('a' as NodeId, addr(a));
    b2.setPeer('a' as NodeId, addr(a));
    const got1 = collect(b1);
    const got2 = collect(b2);
    a.send(msg('a', 'b'));
    await waitFor('delivery to the first address', () => got1.length === 1);
    a.setPeer('b' as NodeId, addr(b2));
    await waitFor('delivery to the new address', () => {
      if (got2.length === 0) a.send(msg('a', 'b', 'heartbeat'));
      return got2.length > 0;
    });
    a.removePeer('b' as NodeId);
    a.send(msg('a', 'b'));
    expect(a.counters.droppedNoAddress).toBe(1);
  });

  it('validates its options with clear errors', async () => {
    await expect(PeerTransport.start({ id: 'a' as NodeId, secret: '', listenPort: 0, logger: quiet })).rejects.toThrow(/secret must not be empty/);
    await expect(PeerTransport.start({ id: 'A!' as NodeId, secret: 's', listenPort: 0, logger: quiet })).rejects.toThrow(/must match/);
    await expect(
      PeerTransport.start({ id: 'a' as NodeId, secret: 's', listenPort: 0, logger: quiet, peers: new Map([['b' as NodeId, 'nohost']]) }),
    ).rejects.toThrow(/"nohost" is not host:port/);
  });
});
