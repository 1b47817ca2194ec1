import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, sameProposal } from './envelope.ts';

describe('entry envelope', () => {
  it('round-trips the proposal id and the payload for any input', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9-]{1,32}$/),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ maxLength: 300 }),
        (node, incarnation, counter, payload) => {
          const decoded = decodeEnvelope(encodeEnvelope({ node, incarnation, counter }, payload));
          expect(decoded.id).toEqual({ node, incarnation, counter });
          expect([...decoded.payload]).toEqual([...payload]);
        },
      ),
    );
  });

  it('tells two proposals apart by node, incarnation and counter', () => {
    const a = { node: 'n1', incarnation: 7, counter: 1 };
    expect(sameProposal(a, { ...a })).toBe(true);
    expect(sameProposal(a, { ...a, node: 'n2' })).toBe(false);
    expect(sameProposal(a, { ...a, incarnation: 8 })).toBe(false);
    expect(sameProposal(a, { ...a, counter: 2 })).toBe(false);
  });

  it('treats data without the magic byte as a bare payload', () => {
    const data = new TextEncoder().encode('{"op":"put"}');
    const decoded = decodeEnvelope(data);
    expect(decoded.id).toBeNull();
    expect(decoded.payload).toBe(data);
  });
});
