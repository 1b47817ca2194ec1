/**
 * Binary codec vs JSON with base64 for Raft messages: size and encode+decode time.
 * Usage: npx tsx impl/transport/bench/codec-bench.ts   (last line: JSON)
 */
import { decodeMessage, encodeMessage } from '../codec.ts';
import type { Entry, Index, Message, NodeId, Term } from '../../raft/types.ts';

function jsonEncode(m: Message): Buffer {
  return Buffer.from(
    JSON.stringify({
      ...m,
      entries: m.entries.map((e) => ({ ...e, data: Buffer.from(e.data).toString('base64') })),
      snapshot: m.snapshot && { ...m.snapshot, data: Buffer.from(m.snapshot.data).toString('base64') },
    }),
  );
}

function jsonDecode(b: Buffer): Message {
  interface Wire {
    entries: { index: Index; term: Term; type: Entry['type']; data: string }[];
    snapshot: { metadata: NonNullable<Message['snapshot']>['metadata']; data: string } | null;
  }
  const o = JSON.parse(b.toString('utf8')) as Omit<Message, 'entries' | 'snapshot'> & Wire;
  const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
  return {
    ...o,
    entries: o.entries.map((e) => ({ ...e, data: bytes(e.data) })),
    snapshot: o.snapshot && { metadata: o.snapshot.metadata, data: bytes(o.snapshot.data) },
  };
}

const base: Message = {
  type: 'append', from: 'n1' as NodeId, to: 'n2' as NodeId, term: 7 as Term, index: 1000 as Index, logTerm: 7 as Term, entries: [],
  commit: 990 as Index, reject: false, rejectHint: 0 as Index, rejectHintTerm: 0 as Term, snapshot: null, context: null,
};
const cases: Record<string, Message> = {
  heartbeat: { ...base, type: 'heartbeat' },
  'append 64 x 256 B': {
    ...base,
    entries: Array.from({ length: 64 }, (_, i) => ({ index: (1001 + i) as Index, term: 7 as Term, type: 'normal' as const, data: new Uint8Array(256).fill(i) })),
  },
  'snapshot 4 MiB': {
    ...base,
    type: 'snapshot',
    snapshot: { metadata: { index: 1000 as Index, term: 7 as Term, confState: { voters: ['n1', 'n2', 'n3'] as NodeId[], learners: [] } }, data: new Uint8Array(4 << 20).map((_, i) => (i * 31) % 251) },
  },
};

function time(fn: () => void, minMs = 300): number {
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < minMs) {
    fn();
    n++;
  }
  return (performance.now() - start) / n;
}

const rows: Record<string, unknown>[] = [];
for (const [name, m] of Object.entries(cases)) {
  const bin = encodeMessage(m);
  const js = jsonEncode(m);
  time(() => decodeMessage(encodeMessage(m)), 200); // warm up the JIT before measuring
  time(() => jsonDecode(jsonEncode(m)), 200);
  const binMs = time(() => decodeMessage(encodeMessage(m)));
  const jsonMs = time(() => jsonDecode(jsonEncode(m)));
  rows.push({ case: name, binaryBytes: bin.length, jsonBytes: js.length, binaryRoundTripMs: +binMs.toFixed(4), jsonRoundTripMs: +jsonMs.toFixed(4) });
  console.log(`${name.padEnd(20)} binary ${String(bin.length).padStart(9)} B ${binMs.toFixed(4).padStart(9)} ms   json+base64 ${String(js.length).padStart(9)} B ${jsonMs.toFixed(4).padStart(9)} ms`);
}
console.log(JSON.stringify({ codec: rows }));
