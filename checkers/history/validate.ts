import { HistoryError } from './errors.ts';
import type { Op, OpType, Process } from './types.ts';

export interface ReadOptions {
  /**
   * Jepsen's `jepsen.independent` workloads record `:value [k v]` tuples. When set, a
   * client operation whose value is a two-element array and that has no `key` of its own
   * is read as key `k` with value `v`, so the linearizability checker can split on it.
   */
  readonly independentKeys?: boolean;
}

/**
 * Turns raw records (parsed JSON objects, or EDN maps converted to objects) into `Op`s,
 * one at a time, checking each field and the history-wide rules as it goes: indices
 * strictly increase, a client process never invokes while its previous operation is
 * open, and nothing completes that was not invoked. Every error names file and line.
 *
 * `index` and `time` are required in the native JSON Lines format. Jepsen's EDN histories
 * older than jepsen.history lack them: the position in the file stands in for both
 * (positions preserve real-time order, which is all the checkers need from time).
 */
export class HistoryValidator {
  private readonly ops: Op[] = [];
  /** Line of each op, parallel to `ops`. */
  private readonly lines: number[] = [];
  /** Open invocation per client process, as its position in `ops` + 1 (0: none). Dense ids use the array. */
  private readonly openPos: number[] = [];
  private readonly openPosSparse = new Map<number, number>();
  private lastIndex = -1;

  constructor(
    private readonly file: string,
    private readonly format: 'jsonl' | 'edn',
    private readonly options: ReadOptions = {},
  ) {}

  private fail(line: number, reason: string): never {
    throw new HistoryError(this.file, line, reason);
  }

  /**
   * Validates one record and appends it. For JSON Lines the parsed object itself becomes
   * the `Op` (normalized in place: no copy per line, which matters at millions of lines).
   */
  add(raw: unknown, line: number): void {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      this.fail(line, `expected an operation object, got ${describeType(raw)}`);
    }
    const rec = raw as Record<string, unknown>;
    const required = this.format === 'jsonl';

    let index = rec['index'];
    if (index === undefined || index === null) {
      if (required) this.fail(line, 'missing field "index"');
      index = this.lastIndex + 1;
    } else if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) {
      this.fail(line, `"index" must be a non-negative integer, got ${show(index)}`);
    }
    if ((index as number) <= this.lastIndex) this.fail(line, `"index" ${show(index)} does not increase (previous ${this.lastIndex})`);

    let time = rec['time'];
    if (time === undefined || time === null) {
      if (required) this.fail(line, 'missing field "time"');
      time = index;
    } else if (typeof time !== 'number' || !Number.isFinite(time)) {
      this.fail(line, `"time" must be a number (ns since the test started), got ${show(time)}`);
    }

    const process = rec['process'];
    if (process === undefined || process === null) this.fail(line, 'missing field "process"');
    if (process !== 'nemesis' && !(typeof process === 'number' && Number.isSafeInteger(process))) {
      this.fail(line, `"process" must be an integer or "nemesis", got ${show(process)}`);
    }

    const type = rec['type'];
    if (type === undefined || type === null) this.fail(line, 'missing field "type"');
    if (type !== 'invoke' && type !== 'ok' && type !== 'fail' && type !== 'info') {
      this.fail(line, `"type" must be one of invoke, ok, fail, info; got ${show(type)}`);
    }

    const f = rec['f'];
    if (f === undefined || f === null) this.fail(line, 'missing field "f"');
    if (typeof f !== 'string' || f.length === 0) this.fail(line, `"f" must be a non-empty string, got ${show(f)}`);

    let key = rec['key'];
    if (key !== undefined && key !== null && typeof key !== 'string' && typeof key !== 'number') {
      this.fail(line, `"key" must be a string or a number, got ${show(key)}`);
    }
    let value: unknown = rec['value'] === undefined ? null : rec['value'];
    if (this.options.independentKeys === true && process !== 'nemesis' && (key === undefined || key === null) && Array.isArray(value) && value.length === 2) {
      const [k, v] = value as [unknown, unknown];
      if (typeof k !== 'string' && typeof k !== 'number') this.fail(line, `independent key must be a string or a number, got ${show(k)}`);
      key = k;
      value = v;
    }
    const node = rec['node'];
    if (node !== undefined && node !== null && typeof node !== 'string') this.fail(line, `"node" must be a string, got ${show(node)}`);

    // Pairing rules. The nemesis logs its own invoke/info pairs and is exempt (Jepsen does the same).
    if (typeof process === 'number') {
      const prior = (process < 1 << 20 && process >= 0 ? this.openPos[process] : this.openPosSparse.get(process)) ?? 0;
      const priorOp = prior > 0 ? (this.ops[prior - 1] as Op) : undefined;
      const priorLine = prior > 0 ? (this.lines[prior - 1] as number) : 0;
      if (type === 'invoke') {
        if (priorOp !== undefined) this.fail(line, `process ${process} invokes again while its operation from line ${priorLine} (index ${priorOp.index}) is still open`);
        this.setOpen(process, this.ops.length + 1);
      } else {
        if (priorOp === undefined) this.fail(line, `process ${process} completes (${type}) an operation it never invoked`);
        if (priorOp.f !== f) this.fail(line, `process ${process} completes "${f}" but invoked "${priorOp.f}" at line ${priorLine}`);
        this.setOpen(process, 0);
      }
    }

    let op: Op;
    if (this.format === 'jsonl') {
      // Normalize in place: drop nulls of optional fields, give value a default.
      if (rec['value'] !== value) rec['value'] = value;
      if (key === null) delete rec['key'];
      else if (rec['key'] !== key) rec['key'] = key;
      if (rec['error'] === null) delete rec['error'];
      if (node === null) delete rec['node'];
      op = rec as unknown as Op;
    } else {
      op = {
        index: index as number,
        time: time as number,
        process: process as Process,
        type: type as OpType,
        f,
        value,
        ...(key !== undefined && key !== null ? { key: key as string | number } : {}),
        ...(rec['error'] !== undefined && rec['error'] !== null ? { error: rec['error'] } : {}),
        ...(typeof node === 'string' ? { node } : {}),
      };
    }
    this.lastIndex = index as number;
    this.ops.push(op);
    this.lines.push(line);
  }

  private setOpen(process: number, pos: number): void {
    if (process < 1 << 20 && process >= 0) this.openPos[process] = pos;
    else if (pos === 0) this.openPosSparse.delete(process);
    else this.openPosSparse.set(process, pos);
  }

  finish(): Op[] {
    return this.ops;
  }
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

function show(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
