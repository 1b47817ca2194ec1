/**
 * PeerTransport throughput on loopback: one sender, one receiver, append messages of
 * 16 entries x 128 B, sent in bursts of 64 (one Ready's worth), for a fixed duration.
 * Usage: npx tsx impl/transport/bench/transport-bench.ts [--seconds 3]   (last line: JSON)
 */
import { parseArgs } from 'node:util';
import { PeerTransport } from '../peer-transport.ts';
import type { Index, Message, NodeId, Term } from '../../raft/types.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' } } });
const seconds = Number(values.seconds);
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const b = await PeerTransport.start({ id: 'b' as NodeId, secret: 's3cret', listenHost: '127.0.0.1', listenPort: 0, logger: quiet });
const a = await PeerTransport.start({
  id: 'a' as NodeId, secret: 's3cret', listenHost: '127.0.0.1', listenPort: 0, logger: quiet,
  peers: new Map([['b' as NodeId, `127.0.0.1:${b.address.port}`]]), maxQueuedFrames: 100_000,
});
b.setPeer('a' as NodeId, `127.0.0.1:${a.address.port}`);
let received = 0;
b.onMessage(() => received++);
const data = new Uint8Array(128).fill(1);
const m: Message = {
  type: 'append', from: 'a' as NodeId, to: 'b' as NodeId, term: 1 as Term, index: 1 as Index, logTerm: 1 as Term, commit: 1 as Index,
  reject: false, rejectHint: 0 as Index, rejectHintTerm: 0 as Term, snapshot: null, context: null,
  entries: Array.from({ length: 16 }, (_, i) => ({ index: (2 + i) as Index, term: 1 as Term, type: 'normal' as const, data })),
};
const start = performance.now();
let sent = 0;
while (performance.now() - start < seconds * 1000) {
  // Keep at most ~2000 messages in flight so the queue never drops.
  if (sent - received < 2000) {
    for (let i = 0; i < 64; i++) a.send(m);
    sent += 64;
  }
  await new Promise((r) => setImmediate(r));
}
while (received < sent - a.counters.droppedQueueFull && performance.now() - start < (seconds + 5) * 1000) await new Promise((r) => setTimeout(r, 5));
const elapsed = (performance.now() - start) / 1000;
const frameBytes = 4 + 1 + 4 + 2 + 32 + 100 + 16 * (8 + 8 + 1 + 4 + 128);
const result = {
  messagesPerSec: Math.round(received / elapsed),
  entriesPerSec: Math.round((received * 16) / elapsed),
  approxMBPerSec: Math.round(((received * frameBytes) / elapsed / 1e6) * 10) / 10,
  dropped: a.counters.droppedQueueFull,
};
await a.close();
await b.close();
console.log(`${result.messagesPerSec} messages/s (${result.entriesPerSec} entries/s, ~${result.approxMBPerSec} MB/s), dropped ${result.dropped}`);
console.log(JSON.stringify(result));
