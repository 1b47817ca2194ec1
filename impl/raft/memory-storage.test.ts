import { describe, expect, it } from 'vitest';
import { MemoryStorage, bootstrapEntries } from './memory-storage.ts';
import type { Entry } from './types.ts';
import { CompactedError, UnavailableError, index, nodeId, term } from './types.ts';

function ents(from: number, terms: number[]): Entry[] {
  return terms.map((t, i) => ({ term: term(t), index: index(from + i), type: 'normal', data: new Uint8Array(10) }));
}

const conf = { voters: [nodeId('n1')], learners: [] };

describe('MemoryStorage', () => {
  it('starts empty with the dummy entry at index 0', () => {
    const s = new MemoryStorage();
    expect([s.firstIndex(), s.lastIndex(), s.term(index(0))]).toEqual([1, 0, 0]);
    expect(s.initialState().confState).toEqual({ voters: [], learners: [] });
  });

  it('bootstraps the initial voters as committed conf-change entries', () => {
    const s = MemoryStorage.bootstrap([nodeId('n1'), nodeId('n2')]);
    expect(s.lastIndex()).toBe(4);
    expect(s.getHardState()).toEqual({ term: 1, vote: null, commit: 4 });
    expect(s.allEntries().every((e) => e.type === 'conf-change' && e.term === 1)).toBe(true);
    expect(() => bootstrapEntries([])).toThrow(/at least one voter/);
    expect(() => bootstrapEntries([nodeId('a'), nodeId('a')])).toThrow(/duplicate voter/);
  });

  it('append overwrites a conflicting suffix and refuses a gap', () => {
    const s = new MemoryStorage();
    s.append(ents(1, [1, 1, 1, 1]));
    s.append(ents(3, [2]));
    expect(s.allEntries().map((e) => [e.index, e.term])).toEqual([[1, 1], [2, 1], [3, 2]]);
    expect(() => s.append(ents(5, [2]))).toThrow(/gap/);
  });

  it('entries honours [lo, hi), maxBytes (at least one entry) and the compacted prefix', () => {
    const s = new MemoryStorage();
    s.append(ents(1, [1, 1, 1, 1, 1]));
    expect(s.entries(index(2), index(5), Infinity).map((e) => e.index)).toEqual([2, 3, 4]);
    expect(s.entries(index(2), index(5), 25).map((e) => e.index)).toEqual([2, 3]);
    expect(s.entries(index(2), index(5), 1).map((e) => e.index)).toEqual([2]);
    expect(() => s.entries(index(2), index(7), Infinity)).toThrow(UnavailableError);
    s.setHardState({ term: term(1), vote: null, commit: index(5) });
    s.createSnapshot(index(3), conf, new Uint8Array([1]));
    s.compact(index(3));
    expect([s.firstIndex(), s.lastIndex(), s.term(index(3))]).toEqual([4, 5, 1]);
    expect(() => s.entries(index(3), index(5), Infinity)).toThrow(CompactedError);
    expect(() => s.term(index(2))).toThrow(CompactedError);
    expect(() => s.term(index(6))).toThrow(UnavailableError);
  });

  it('createSnapshot refuses uncommitted, future and older indexes', () => {
    const s = new MemoryStorage();
    s.append(ents(1, [1, 1, 1]));
    s.setHardState({ term: term(1), vote: null, commit: index(2) });
    expect(() => s.createSnapshot(index(3), conf, new Uint8Array())).toThrow(/not committed/);
    expect(() => s.createSnapshot(index(9), conf, new Uint8Array())).toThrow(/beyond the last index/);
    s.createSnapshot(index(2), conf, new Uint8Array());
    expect(() => s.createSnapshot(index(1), conf, new Uint8Array())).toThrow(/not newer/);
    expect(s.initialState().confState).toEqual(conf);
  });

  it('applySnapshot replaces the log and ignores an older snapshot', () => {
    const s = new MemoryStorage();
    s.append(ents(1, [1, 1, 1]));
    const snap = { metadata: { index: index(10), term: term(3), confState: conf }, data: new Uint8Array() };
    s.applySnapshot(snap);
    expect([s.firstIndex(), s.lastIndex(), s.term(index(10))]).toEqual([11, 10, 3]);
    s.applySnapshot({ ...snap, metadata: { ...snap.metadata, index: index(5) } });
    expect(s.snapshot()).toBe(snap);
  });
});
