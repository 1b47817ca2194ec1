import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MESSAGE_TYPES, decodeMessage, encodeMessage } from './codec.ts';
import { DecodeError } from '../storage/binary.ts';
import type { Entry, EntryType, Index, Message, NodeId, Snapshot, Term } from '../raft/types.ts';

const u64 = fc.oneof(fc.nat(1000), fc.maxSafeNat());
const idArb = fc.stringMatching(/^[a-z0-9-]{1,32}$/).map((s) => s as NodeId);
const bytes = fc.uint8Array({ maxLength: 300 });
const entryArb: fc.Arbitrary<Entry> = fc.record({
  index: u64.map((n) => n as Index),
  term: u64.map((n) => n as Term),
  type: fc.constantFrom<EntryType>('normal', 'conf-change', 'noop'),
  data: bytes,
});
const snapArb: fc.Arbitrary<Snapshot> = fc.record({
  metadata: fc.record({
    index: u64.map((n) => n as Index),
    term: u64.map((n) => n as Term),
    confState: fc.record({ voters: fc.array(idArb, { maxLength: 5 }), learners: fc.array(idArb, { maxLength: 3 }) }),
  }),
  data: fc.uint8Array({ maxLength: 5000 }),
});
const messageArb: fc.Arbitrary<Message> = fc.record({
  type: fc.constantFrom(...MESSAGE_TYPES),
  from: idArb,
  to: idArb,
  term: u64.map((n) => n as Term),
  index: u64.map((n) => n as Index),
  logTerm: u64.map((n) => n as Term),
  entries: fc.array(entryArb, { maxLength: 8 }),
  commit: u64.map((n) => n as Index),
  reject: fc.boolean(),
  rejectHint: u64.map((n) => n as Index),
  rejectHintTerm: u64.map((n) => n as Term),
  snapshot: fc.option(snapArb, { nil: null }),
  context: fc.option(fc.string({ unit: 'grapheme', maxLength: 40 }), { nil: null }),
});

describe('message codec', () => {
  it('round-trips every message type with entries, snapshots and contexts', () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }),
      { numRuns: 500 },
    );
  });

  it('covers all twelve message types', () => {
    expect(new Set(MESSAGE_TYPES).size).toBe(12);
  });

  it('rejects truncated or garbage input with a DecodeError, never anything else', () => {
    fc.assert(
      fc.property(messageArb, fc.nat(), (m, cut) => {
        const buf = encodeMessage(m);
        const at = cut % buf.length;
        expect(() => decodeMessage(buf.subarray(0, at))).toThrow(DecodeError);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        try {
          decodeMessage(Buffer.from(junk));
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('names the field that is wrong', () => {
    const m = encodeMessage({
      type: 'append', from: 'n1' as NodeId, to: 'n2' as NodeId, term: 1 as Term, index: 0 as Index, logTerm: 0 as Term,
      entries: [], commit: 0 as Index, reject: false, rejectHint: 0 as Index, rejectHintTerm: 0 as Term, snapshot: null, context: null,
    });
    const bad = Buffer.from(m);
    bad[1] = 99;
    expect(() => decodeMessage(bad)).toThrow(/unknown message type code 99/);
    expect(() => decodeMessage(m.subarray(0, 10))).toThrow(/to length: needs 4 bytes/);
  });
});
