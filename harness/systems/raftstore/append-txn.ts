/**
 * A list-append transaction (workloads/append.ts) as the store's txns (impl/API.md,
 * "Transactions"): the store has no append, so a transaction is a read-modify-write.
 *
 * 1. One read-only txn of `get`s, one per distinct key, at one point of the log.
 * 2. The micro-ops run locally on what was read, in order (a read after an append in the
 *    same transaction sees it), which fills in every read.
 * 3. If anything was appended, one txn commits it: `put` with `expectedVersion` = the version
 *    read for each key appended to, `compare` at the version read for each key only read. It
 *    commits only if none of the keys changed since step 1, so the whole transaction takes
 *    effect at the commit's point in the log (reads included). A version conflict means it
 *    did not commit. A read-only transaction is step 1 alone.
 *
 * Lists are stored as JSON arrays of integers (an absent key is the empty list). Pure: no I/O,
 * so both client modes (single attempt, StoreClient's retries) share it and it is unit-tested.
 */
import type { MicroOp } from '../../../workloads/client.ts';

/** The store's txn ops this file produces (a subset of impl/API.md's). */
export type StoreTxnOp =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'compare'; readonly key: string; readonly expectedVersion: number }
  | { readonly op: 'put'; readonly key: string; readonly value: readonly number[]; readonly expectedVersion: number };

/** What step 1 read of one key. */
export interface ReadList {
  readonly list: readonly number[];
  /** 0 = absent. */
  readonly version: number;
}

/** Distinct keys in order of first use. */
export function keysOf(ops: readonly MicroOp[]): string[] {
  return [...new Set(ops.map((op) => op[1]))];
}

/** Step 1: one `get` per distinct key. */
export function readOps(ops: readonly MicroOp[]): StoreTxnOp[] {
  return keysOf(ops).map((key) => ({ op: 'get', key }));
}

/** A stored value that is not a list of integers: only a broken store or a foreign writer makes one. */
export class NotAListError extends Error {
  constructor(
    readonly key: string,
    readonly value: unknown,
  ) {
    super(`key ${JSON.stringify(key)} holds ${JSON.stringify(value)?.slice(0, 80) ?? 'nothing'}, not a list of integers`);
    this.name = 'NotAListError';
  }
}

/**
 * Step 1's answer (the store's txn `results`, in the order of `readOps`) as lists. Throws
 * NotAListError for a value that is not a list of integers, Error for an answer of the wrong shape.
 */
export function listsFromReads(ops: readonly MicroOp[], results: readonly unknown[]): Map<string, ReadList> {
  const keys = keysOf(ops);
  if (results.length !== keys.length) throw new Error(`read txn answered ${results.length} results for ${keys.length} keys`);
  const lists = new Map<string, ReadList>();
  keys.forEach((key, i) => {
    const r = results[i] as { key?: unknown; found?: unknown; value?: unknown; version?: unknown } | null;
    if (r === null || typeof r !== 'object' || r.key !== key || typeof r.version !== 'number') throw new Error(`read txn result ${i} is not the get of ${JSON.stringify(key)}: ${JSON.stringify(r)}`);
    if (r.found !== true) {
      lists.set(key, { list: [], version: 0 });
      return;
    }
    if (!Array.isArray(r.value) || !r.value.every((x) => Number.isSafeInteger(x))) throw new NotAListError(key, r.value);
    lists.set(key, { list: r.value as number[], version: r.version });
  });
  return lists;
}

export interface AppendPlan {
  /** The micro-ops with every read filled in: what the history records if it commits. */
  readonly completed: MicroOp[];
  /** Step 3's ops, or null for a read-only transaction (step 1 was the whole of it). */
  readonly commit: StoreTxnOp[] | null;
}

/** Step 2: run the micro-ops on what was read; step 3's ops. */
export function planAppend(ops: readonly MicroOp[], read: ReadonlyMap<string, ReadList>): AppendPlan {
  const current = new Map<string, number[]>();
  const appended = new Set<string>();
  const listOf = (key: string): number[] => {
    let list = current.get(key);
    if (list === undefined) {
      const r = read.get(key);
      if (r === undefined) throw new Error(`no read of key ${JSON.stringify(key)}`);
      list = [...r.list];
      current.set(key, list);
    }
    return list;
  };
  const completed = ops.map((op): MicroOp => {
    if (op[0] === 'append') {
      listOf(op[1]).push(op[2]);
      appended.add(op[1]);
      return op;
    }
    return ['r', op[1], [...listOf(op[1])]];
  });
  if (appended.size === 0) return { completed, commit: null };
  const commit = keysOf(ops).map((key): StoreTxnOp => {
    const version = read.get(key)?.version ?? 0;
    return appended.has(key) ? { op: 'put', key, value: listOf(key), expectedVersion: version } : { op: 'compare', key, expectedVersion: version };
  });
  return { completed, commit };
}
