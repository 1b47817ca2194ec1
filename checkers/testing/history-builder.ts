import type { Op, OpType, Process } from '../history/types.ts';

/**
 * Writes histories by hand in tests: `b.invoke(0, 'write', 1).ok(0)` appends an
 * invocation and its completion with increasing index and time. A completion repeats the
 * invocation's `f` and key; `ok(p, value)` gives the result (defaults to the invoke value).
 */
export class HistoryBuilder {
  readonly ops: Op[] = [];
  private readonly open = new Map<Process, { f: string; value: unknown; key?: string | number }>();

  invoke(process: Process, f: string, value: unknown = null, key?: string | number): this {
    this.open.set(process, { f, value, ...(key !== undefined ? { key } : {}) });
    return this.push(process, 'invoke', f, value, key);
  }

  ok(process: Process, value?: unknown): this {
    return this.complete(process, 'ok', value);
  }

  fail(process: Process, value?: unknown): this {
    return this.complete(process, 'fail', value);
  }

  info(process: Process, value?: unknown): this {
    return this.complete(process, 'info', value);
  }

  private complete(process: Process, type: OpType, value: unknown): this {
    const inv = this.open.get(process);
    if (inv === undefined) throw new Error(`process ${process} has nothing open`);
    this.open.delete(process);
    return this.push(process, type, inv.f, value === undefined ? inv.value : value, inv.key);
  }

  private push(process: Process, type: OpType, f: string, value: unknown, key?: string | number): this {
    const index = this.ops.length;
    this.ops.push({ index, time: index * 1000, process, type, f, value, ...(key !== undefined ? { key } : {}) });
    return this;
  }
}
