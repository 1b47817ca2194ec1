import type { Op } from '../history/types.ts';
import { HistoryBuilder } from '../testing/history-builder.ts';
import type { Element, MicroOp } from './append.ts';

/**
 * Elle's test notation for transactions, for hand-written histories: `ax1` appends 1 to key
 * "x", `ry12` reads y = [1, 2], `rx` reads x empty; `ax1ry1` is both, in order. Keys are
 * single letters, elements single digits.
 */
export function txn(spec: string): MicroOp[] {
  const out: MicroOp[] = [];
  let i = 0;
  while (i < spec.length) {
    const f = spec[i];
    const k = spec[i + 1];
    if ((f !== 'a' && f !== 'r') || k === undefined || !/[a-z]/.test(k)) throw new Error(`bad transaction spec ${spec} at ${i}`);
    i += 2;
    if (f === 'a') {
      out.push(['append', k, Number(spec[i])]);
      i++;
    } else {
      const list: Element[] = [];
      while (i < spec.length && /\d/.test(spec[i]!)) list.push(Number(spec[i++]));
      out.push(['r', k, list]);
    }
  }
  return out;
}

/** What a client asks for: the transaction with every read's value unknown (null). */
export function invocation(mops: readonly MicroOp[]): MicroOp[] {
  return mops.map((m): MicroOp => (m[0] === 'r' ? ['r', m[1], null] : m));
}

/** Transactions all invoked before any completes (no real-time order between them), all ok. */
export function concurrently(...specs: string[]): Op[] {
  const b = new HistoryBuilder();
  specs.forEach((s, p) => b.invoke(p, 'txn', invocation(txn(s))));
  specs.forEach((s, p) => b.ok(p, txn(s)));
  return b.ops;
}

/** Transactions one after another, each completing before the next is invoked, all ok. */
export function serially(...specs: string[]): Op[] {
  const b = new HistoryBuilder();
  specs.forEach((s) => b.invoke(0, 'txn', invocation(txn(s))).ok(0, txn(s)));
  return b.ops;
}

/** Starts a transaction in a HistoryBuilder; complete it with `b.ok(p, txn(spec))`, `b.fail(p)` or `b.info(p)`. */
export function begin(b: HistoryBuilder, process: number, spec: string): HistoryBuilder {
  return b.invoke(process, 'txn', invocation(txn(spec)));
}
