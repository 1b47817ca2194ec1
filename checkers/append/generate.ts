import type { Op, OpType } from '../history/types.ts';
import { prng } from '../testing/generate.ts';
import type { AppendKey, Element, MicroOp } from './append.ts';

export interface AppendGenerateOptions {
  /** Transactions to invoke (the final reads come on top). */
  readonly txns: number;
  /** Concurrent client processes. */
  readonly processes: number;
  /** Keys in use at any time. */
  readonly activeKeys: number;
  /**
   * Appends a key takes before a fresh key replaces it, as Elle's generator does: reads
   * return whole lists, so unbounded keys would make the history quadratic. Default 32.
   */
  readonly maxAppendsPerKey?: number;
  /** Micro-ops per transaction: uniform in 1..max. Default 4. */
  readonly maxTxnLength?: number;
  /** Fraction of transactions that end `info`: half of them took effect, half did not. */
  readonly infoRate?: number;
  /** Fraction that end `fail` (did not take effect). */
  readonly failRate?: number;
  /** Fraction of micro-ops that are reads. Default 0.5. */
  readonly readRate?: number;
  /** Integer keys, as Jepsen writes them (default: "k0", "k1", ...). */
  readonly numericKeys?: boolean;
  /** After everything, read every key ever used. Default true. */
  readonly finalReads?: boolean;
  /** Every transaction runs alone, one after another (a serial history). Default false. */
  readonly serial?: boolean;
  readonly seed: number;
}

type Outcome = 'ok' | 'fail' | 'info-applied' | 'info-lost';

interface Slot {
  pid: number;
  phase: 'idle' | 'invoked' | 'applied';
  txn: MicroOp[] | null;
  outcome: Outcome;
  result: MicroOp[] | null;
}

/**
 * A list-append history that is strict-serializable by construction: an in-memory store
 * applies each transaction atomically at one instant between its invocation and its
 * completion, so the order of those instants is a serial order that respects real time.
 * Processes interleave at random. `fail` transactions never apply; `info` ones apply or not.
 * A process that crashed (`info`) never invokes again: a fresh process id takes its place
 * (Jepsen's `process + concurrency`). Appended values are unique per key (a counter per key).
 */
export function generateAppendHistory(opts: AppendGenerateOptions): Op[] {
  const rnd = prng(opts.seed);
  const maxPerKey = opts.maxAppendsPerKey ?? 32;
  const maxLen = opts.maxTxnLength ?? 4;
  const readRate = opts.readRate ?? 0.5;
  const infoRate = opts.infoRate ?? 0;
  const failRate = opts.failRate ?? 0;
  const store = new Map<AppendKey, Element[]>();
  const planned = new Map<AppendKey, number>();
  const allKeys: AppendKey[] = [];
  let nextKey = 0;
  const freshKey = (): AppendKey => {
    const k = opts.numericKeys === true ? nextKey : `k${nextKey}`;
    nextKey++;
    allKeys.push(k);
    planned.set(k, 0);
    return k;
  };
  const active: AppendKey[] = [];
  for (let i = 0; i < opts.activeKeys; i++) active.push(freshKey());

  const out: Op[] = [];
  const emit = (process: number, type: OpType, value: unknown): void => {
    out.push({ index: out.length, time: out.length * 1000, process, type, f: 'txn', value });
  };
  const newTxn = (): MicroOp[] => {
    const n = 1 + Math.floor(rnd() * maxLen);
    const txn: MicroOp[] = [];
    for (let i = 0; i < n; i++) {
      const slot = Math.floor(rnd() * active.length);
      const k = active[slot]!;
      if (rnd() < readRate) {
        txn.push(['r', k, null]);
      } else {
        const count = planned.get(k)! + 1;
        planned.set(k, count);
        txn.push(['append', k, count]);
        if (count >= maxPerKey) active[slot] = freshKey();
      }
    }
    return txn;
  };
  const apply = (txn: readonly MicroOp[]): MicroOp[] =>
    txn.map((m): MicroOp => {
      let list = store.get(m[1]);
      if (list === undefined) store.set(m[1], (list = []));
      if (m[0] === 'append') {
        list.push(m[2]);
        return m;
      }
      return ['r', m[1], [...list]];
    });

  const P = opts.processes;
  const slots: Slot[] = [];
  for (let p = 0; p < P; p++) slots.push({ pid: p, phase: 'idle', txn: null, outcome: 'ok', result: null });
  let invoked = 0;
  let open = 0;
  while (invoked < opts.txns || open > 0) {
    // Serial: the one open transaction runs to completion before the next begins.
    const s = opts.serial === true ? (slots.find((x) => x.phase !== 'idle') ?? slots[Math.floor(rnd() * P)]!) : slots[Math.floor(rnd() * P)]!;
    if (s.phase === 'idle') {
      if (invoked >= opts.txns) continue;
      s.txn = newTxn();
      const u = rnd();
      s.outcome = u < failRate ? 'fail' : u < failRate + infoRate ? (rnd() < 0.5 ? 'info-applied' : 'info-lost') : 'ok';
      emit(s.pid, 'invoke', s.txn);
      s.phase = 'invoked';
      invoked++;
      open++;
    } else if (s.phase === 'invoked') {
      if (s.outcome === 'fail' || s.outcome === 'info-lost') {
        emit(s.pid, s.outcome === 'fail' ? 'fail' : 'info', s.txn);
        finish(s);
      } else {
        s.result = apply(s.txn!);
        s.phase = 'applied';
      }
    } else {
      emit(s.pid, s.outcome === 'ok' ? 'ok' : 'info', s.outcome === 'ok' ? s.result : s.txn);
      finish(s);
    }
  }
  function finish(s: Slot): void {
    if (s.outcome === 'info-applied' || s.outcome === 'info-lost') s.pid += P;
    s.phase = 'idle';
    s.txn = null;
    s.result = null;
    open--;
  }
  if (opts.finalReads ?? true) {
    const pid = slots[0]!.pid;
    for (let i = 0; i < allKeys.length; i += 10) {
      const txn: MicroOp[] = allKeys.slice(i, i + 10).map((k): MicroOp => ['r', k, null]);
      emit(pid, 'invoke', txn);
      emit(pid, 'ok', apply(txn));
    }
  }
  return out;
}

/** Micro-ops in a history: each transaction's count once (its completion's, else its invocation's). */
export function countMicroOps(history: readonly Op[]): number {
  let n = 0;
  for (const op of history) if (op.type === 'invoke' && Array.isArray(op.value)) n += op.value.length;
  return n;
}
