import { describe, expect, it } from 'vitest';
import type { MicroOp } from '../../../workloads/client.ts';
import { listsFromReads, NotAListError, planAppend, readOps } from './append-txn.ts';

describe('list-append as store txns', () => {
  const ops: MicroOp[] = [
    ['r', 'x', null],
    ['append', 'y', 5],
    ['r', 'y', null],
    ['append', 'x', 6],
    ['append', 'y', 7],
    ['r', 'x', null],
  ];

  it('reads each distinct key once, in order of first use', () => {
    expect(readOps(ops)).toEqual([
      { op: 'get', key: 'x' },
      { op: 'get', key: 'y' },
    ]);
  });

  it('fills every read with the list as of that point of the transaction and commits puts at the versions read', () => {
    const read = listsFromReads(ops, [
      { key: 'x', found: true, value: [1, 2], version: 2, createRevision: 1, modRevision: 4 },
      { key: 'y', found: false, version: 0 },
    ]);
    const plan = planAppend(ops, read);
    expect(plan.completed).toEqual([
      ['r', 'x', [1, 2]],
      ['append', 'y', 5],
      ['r', 'y', [5]],
      ['append', 'x', 6],
      ['append', 'y', 7],
      ['r', 'x', [1, 2, 6]],
    ]);
    expect(plan.commit).toEqual([
      { op: 'put', key: 'x', value: [1, 2, 6], expectedVersion: 2 },
      { op: 'put', key: 'y', value: [5, 7], expectedVersion: 0 },
    ]);
  });

  it('compares the keys it only read, so the commit fails if any of them changed', () => {
    const rw: MicroOp[] = [
      ['r', 'a', null],
      ['append', 'b', 1],
    ];
    const plan = planAppend(rw, listsFromReads(rw, [{ key: 'a', found: true, value: [9], version: 3 }, { key: 'b', found: true, value: [], version: 1 }]));
    expect(plan.commit).toEqual([
      { op: 'compare', key: 'a', expectedVersion: 3 },
      { op: 'put', key: 'b', value: [1], expectedVersion: 1 },
    ]);
  });

  it('a read-only transaction is its read alone', () => {
    const ro: MicroOp[] = [
      ['r', 'a', null],
      ['r', 'a', null],
    ];
    const plan = planAppend(ro, listsFromReads(ro, [{ key: 'a', found: false, version: 0 }]));
    expect(plan).toEqual({ completed: [['r', 'a', []], ['r', 'a', []]], commit: null });
  });

  it('refuses a stored value that is not a list of integers, and an answer of the wrong shape, naming the key', () => {
    const one: MicroOp[] = [['r', 'a', null]];
    expect(() => listsFromReads(one, [{ key: 'a', found: true, value: { x: 1 }, version: 1 }])).toThrow(NotAListError);
    expect(() => listsFromReads(one, [{ key: 'a', found: true, value: [1, 'two'], version: 1 }])).toThrow(/key "a" holds \[1,"two"\]/);
    expect(() => listsFromReads(one, [{ key: 'b', found: false, version: 0 }])).toThrow(/not the get of "a"/);
    expect(() => listsFromReads(one, [])).toThrow(/0 results for 1 keys/);
  });
});
