/**
 * Jepsen's list-append (Elle): transactions of 1–4 micro-operations, each `["append", k, v]`
 * (add v to the end of list k) or `["r", k, null]` (read the whole list), over a small
 * rotating key space. Every value is unique per key, and a read returns a list, so a read
 * says in which order every append it saw happened: the checker recovers the write-write,
 * write-read and read-write dependencies between transactions from the history alone and
 * looks for cycles (strict serializability adds real-time order), duplicated or lost
 * elements, and reads of writes that failed.
 *
 * Keys: `activeKeys` keys are in use at a time (slots); once a key has had `maxWritesPerKey`
 * appends it retires and the next fresh key takes its slot (Jepsen's `:key-count` and
 * `:max-writes-per-key`), so lists stay short and the checker's inferences stay cheap. What
 * is shared across processes (which key is in which slot, appends per key) lives in the
 * workload instance, one per run. After healing, every key ever used is read.
 *
 * History: `f: "txn"`; the invoke value is the micro-op list with reads as null; the ok value
 * is the same list with every read filled in. How a system runs a transaction is its client's
 * business (`SystemClient.txn`; the store: harness/systems/raftstore/append-txn.ts).
 */
import fc from 'fast-check';
import { AppendChecker } from '../checkers/append/append.ts';
import type { Checker } from '../checkers/checker.ts';
import type { MicroOp } from './client.ts';
import { standardCheckers } from './checkers.ts';
import type { CheckerOptions, ClientContext, OpSpec, Outcome, Workload } from './workload.ts';
import { complete } from './workload.ts';

export interface AppendOptions {
  /** Keys in use at a time. */
  readonly activeKeys: number;
  /** Appends (invoked) to a key before it retires. */
  readonly maxWritesPerKey: number;
  /** Micro-operations per transaction: 1..this. */
  readonly maxTxnLength: number;
  /** Keys per final read transaction. */
  readonly finalReadChunk: number;
}

export const APPEND_DEFAULTS: AppendOptions = { activeKeys: 5, maxWritesPerKey: 32, maxTxnLength: 4, finalReadChunk: 16 };

/** A drawn micro-op before `prepare`: which slot it touches. */
interface MicroTemplate {
  readonly kind: 'r' | 'append';
  readonly slot: number;
}

/** Which key is in which slot, and how many appends each key has had. */
export class KeySpace {
  private readonly slots: number[];
  private readonly appends = new Map<number, number>();
  private nextKey: number;

  constructor(private readonly options: Pick<AppendOptions, 'activeKeys' | 'maxWritesPerKey'>) {
    if (!Number.isSafeInteger(options.activeKeys) || options.activeKeys < 1) throw new Error(`append: activeKeys must be a positive integer, got ${options.activeKeys}`);
    if (!Number.isSafeInteger(options.maxWritesPerKey) || options.maxWritesPerKey < 1) throw new Error(`append: maxWritesPerKey must be a positive integer, got ${options.maxWritesPerKey}`);
    this.slots = Array.from({ length: options.activeKeys }, (_, i) => i);
    this.nextKey = options.activeKeys;
  }

  keyIn(slot: number): string {
    return keyName(this.slots[slot % this.slots.length] ?? 0);
  }

  /**
   * Count one transaction's appends per slot; a key that reached its quota retires after the
   * transaction (not mid-way, so one transaction's micro-ops on a slot all name one key).
   */
  noteAppends(slots: readonly number[]): void {
    for (const slot of slots) {
      const s = slot % this.slots.length;
      const key = this.slots[s] ?? 0;
      const n = (this.appends.get(key) ?? 0) + 1;
      this.appends.set(key, n);
      if (n >= this.options.maxWritesPerKey && this.slots[s] === key) this.slots[s] = this.nextKey++;
    }
  }

  /** Every key that has been in a slot, in order. */
  allKeys(): string[] {
    return Array.from({ length: this.nextKey }, (_, i) => keyName(i));
  }
}

function keyName(i: number): string {
  return `k${i}`;
}

function isMicroOps(value: unknown): value is MicroOp[] {
  return Array.isArray(value) && value.every((m) => Array.isArray(m) && (m[0] === 'r' || m[0] === 'append') && typeof m[1] === 'string');
}

export function appendWorkload(overrides: Partial<AppendOptions> = {}): Workload {
  const options: AppendOptions = { ...APPEND_DEFAULTS, ...overrides };
  const keys = new KeySpace(options);
  const micro = fc.record({ kind: fc.constantFrom<'r' | 'append'>('r', 'append'), slot: fc.nat(options.activeKeys - 1) });
  return {
    name: 'append',
    description: `list-append transactions of 1–${options.maxTxnLength} micro-ops over ${options.activeKeys} rotating keys (${options.maxWritesPerKey} appends each); Elle-style checker, strict serializability`,
    requires: ['txn-append'],
    operations: () => fc.array(micro, { minLength: 1, maxLength: options.maxTxnLength }).map((templates): OpSpec => ({ f: 'txn', value: templates })),
    prepare(ctx: ClientContext, op: OpSpec): OpSpec {
      // Final reads come already resolved.
      if (isMicroOps(op.value)) return op;
      const templates = op.value as readonly MicroTemplate[];
      const ops = templates.map((t): MicroOp => (t.kind === 'r' ? ['r', keys.keyIn(t.slot), null] : ['append', keys.keyIn(t.slot), ctx.uniqueValue()]));
      keys.noteAppends(templates.filter((t) => t.kind === 'append').map((t) => t.slot));
      return { f: 'txn', value: ops };
    },
    async invoke(ctx: ClientContext, op: OpSpec): Promise<Outcome> {
      return complete(await ctx.client.txn(op.value as readonly MicroOp[]), (completed) => completed);
    },
    finalReads(): OpSpec[] {
      const all = keys.allKeys();
      const out: OpSpec[] = [];
      for (let i = 0; i < all.length; i += options.finalReadChunk) {
        out.push({ f: 'txn', value: all.slice(i, i + options.finalReadChunk).map((k): MicroOp => ['r', k, null]) });
      }
      return out;
    },
    checkers: (o: CheckerOptions): Checker[] => [
      new AppendChecker({ consistency: 'strict-serializable', ...(o.budgetMs !== undefined ? { budgetMs: o.budgetMs } : {}) }),
      ...standardCheckers({ model: null }),
    ],
  };
}
