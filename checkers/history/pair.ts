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
  const type = done === null ? 'info' : done.type === 'invoke' ? 'info' : done.type;
  const base = {
    process: inv.process,
    f: inv.f,
    invokeValue: inv.value,
    value: type === 'ok' ? done?.value : undefined,
    type,
    start: inv.time,
    end: type === 'info' || done === null ? Number.POSITIVE_INFINITY : done.time,
    invokeIndex: inv.index,
    completeIndex: done?.index ?? null,
  } as const;
  return {
    ...base,
    ...(inv.key !== undefined ? { key: inv.key } : {}),
    ...(done?.error !== undefined ? { error: done.error } : {}),
    ...((done?.node ?? inv.node) !== undefined ? { node: (done?.node ?? inv.node) as string } : {}),
  };
}
