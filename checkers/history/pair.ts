import type { CompletedOp, Op } from './types.ts';

/**
 * Pair every client invocation with its completion (Jepsen's `history/pair-index`).
 * An invocation with no completion counts as `info`: it may have happened, at any time
 * from its invocation on (end = +Infinity). Nemesis operations are skipped; read them
 * from the raw history. Throws if a process completes an operation it never invoked or
 * invokes twice without completing, naming the op index.
 */
export function pairOps(history: readonly Op[]): CompletedOp[] {
  const open = new Map<number | string, Op>();
  const out: CompletedOp[] = [];
  for (const op of history) {
    if (op.process === 'nemesis') continue;
    if (op.type === 'invoke') {
      const prior = open.get(op.process);
      if (prior !== undefined) {
        throw new Error(`op ${op.index}: process ${op.process} invoked again while op ${prior.index} is still open`);
      }
      open.set(op.process, op);
      continue;
    }
    const inv = open.get(op.process);
    if (inv === undefined) {
      throw new Error(`op ${op.index}: process ${op.process} completed (${op.type}) an operation it never invoked`);
    }
    open.delete(op.process);
    out.push(completed(inv, op));
  }
  for (const inv of open.values()) out.push(completed(inv, null));
  out.sort((a, b) => a.invokeIndex - b.invokeIndex);
  return out;
}

function completed(inv: Op, done: Op | null): CompletedOp {
  const type = done === null || done.type === 'invoke' ? 'info' : done.type;
  // Built field by field rather than with spreads: this runs once per operation, and
  // histories reach millions of operations. Optional fields stay absent, not undefined.
  const out: { -readonly [K in keyof CompletedOp]: CompletedOp[K] } = {
    process: inv.process,
    f: inv.f,
    invokeValue: inv.value,
    value: type === 'ok' ? done?.value : undefined,
    type,
    start: inv.time,
    end: type === 'info' ? Number.POSITIVE_INFINITY : (done as Op).time,
    invokeIndex: inv.index,
    completeIndex: done?.index ?? null,
  };
  if (inv.key !== undefined) out.key = inv.key;
  if (done?.error !== undefined) out.error = done.error;
  const node = done?.node ?? inv.node;
  if (node !== undefined) out.node = node;
  return out;
}
