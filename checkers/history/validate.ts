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

const OP_TYPES: ReadonlySet<string> = new Set(['invoke', 'ok', 'fail', 'info']);

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
  private readonly open = new Map<number, { f: string; line: number; index: number }>();
  private lastIndex = -1;

  constructor(
    private readonly file: string,
    private readonly format: 'jsonl' | 'edn',
    private readonly options: ReadOptions = {},
  ) {}

  add(raw: unknown, line: number): void {
    const fail = (reason: string): never => {
      throw new HistoryError(this.file, line, reason);
    };
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      fail(`expected an operation object, got ${describeType(raw)}`);
    }
    const rec = raw as Record<string, unknown>;

    const position = this.ops.length;
    const index = field(rec, 'index', this.format === 'jsonl', fail) ?? (this.lastIndex < position ? position : this.lastIndex + 1);
    if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) fail(`"index" must be a non-negative integer, got ${show(index)}`);
    if ((index as number) <= this.lastIndex) fail(`"index" ${show(index)} does not increase (previous ${this.lastIndex})`);

    const time = field(rec, 'time', this.format === 'jsonl', fail) ?? index;
    if (typeof time !== 'number' || !Number.isFinite(time)) fail(`"time" must be a number (ns since the test started), got ${show(time)}`);

    const processRaw = field(rec, 'process', true, fail);
    let process: Process;
    if (processRaw === 'nemesis') process = 'nemesis';
    else if (typeof processRaw === 'number' && Number.isSafeInteger(processRaw)) process = processRaw;
    else return fail(`"process" must be an integer or "nemesis", got ${show(processRaw)}`);

    const type = field(rec, 'type', true, fail);
    if (typeof type !== 'string' || !OP_TYPES.has(type)) fail(`"type" must be one of invoke, ok, fail, info; got ${show(type)}`);

    const f = field(rec, 'f', true, fail);
    if (typeof f !== 'string' || f.length === 0) fail(`"f" must be a non-empty string, got ${show(f)}`);

    let key = rec['key'];
    if (key !== undefined && key !== null && typeof key !== 'string' && typeof key !== 'number') {
      fail(`"key" must be a string or a number, got ${show(key)}`);
    }
    let value: unknown = rec['value'] === undefined ? null : rec['value'];
    if (this.options.independentKeys === true && process !== 'nemesis' && (key === undefined || key === null) && Array.isArray(value) && value.length === 2) {
      const [k, v] = value as [unknown, unknown];
      if (typeof k !== 'string' && typeof k !== 'number') fail(`independent key must be a string or a number, got ${show(k)}`);
      key = k;
      value = v;
    }
    const node = rec['node'];
    if (node !== undefined && node !== null && typeof node !== 'string') fail(`"node" must be a string, got ${show(node)}`);

    const op: Op = {
      index: index as number,
      time: time as number,
      process,
      type: type as OpType,
      f: f as string,
      value,
      ...(key !== undefined && key !== null ? { key: key as string | number } : {}),
      ...(rec['error'] !== undefined && rec['error'] !== null ? { error: rec['error'] } : {}),
      ...(typeof node === 'string' ? { node } : {}),
    };

    // Pairing rules. The nemesis logs its own invoke/info pairs and is exempt (Jepsen does the same).
    if (typeof process === 'number') {
      const prior = this.open.get(process);
      if (op.type === 'invoke') {
        if (prior !== undefined) fail(`process ${process} invokes again while its operation from line ${prior.line} (index ${prior.index}) is still open`);
        this.open.set(process, { f: op.f, line, index: op.index });
      } else {
        if (prior === undefined) fail(`process ${process} completes (${op.type}) an operation it never invoked`);
        else if (prior.f !== op.f) fail(`process ${process} completes "${op.f}" but invoked "${prior.f}" at line ${prior.line}`);
        this.open.delete(process);
      }
    }
    this.lastIndex = op.index;
    this.ops.push(op);
  }

  finish(): Op[] {
    return this.ops;
  }
}

function field(rec: Record<string, unknown>, name: string, required: boolean, fail: (reason: string) => never): unknown {
  const v = rec[name];
  if (v === undefined || v === null) {
    if (required) fail(`missing field "${name}"`);
    return undefined;
  }
  return v;
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
