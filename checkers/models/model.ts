import type { CompletedOp } from '../history/types.ts';

/**
 * What a model sees of an operation: its function, the invocation's argument, and the
 * completion's result. For `info` operations (`type: 'info'`) the result is unknown and
 * `value` is undefined: the model must say what state the operation would leave *if it
 * took effect*, or null when it could not have taken effect (the checker may then leave it
 * out, since an info operation may also never happen).
 */
export type ModelOp = Pick<CompletedOp, 'f' | 'invokeValue' | 'value' | 'type'>;

/**
 * A sequential specification (Porcupine's `Model`, Knossos' `Model` protocol): a pure step
 * function over immutable states. A new model is one small file implementing this.
 */
export interface Model<S = unknown> {
  readonly name: string;
  /** Functions this model understands; any other `f` in a history is an input error. */
  readonly fs: readonly string[];
  /** The initial state; `initValue` comes from `--init` (already JSON-parsed when it parses). */
  init(initValue?: unknown): S;
  /**
   * The state after `op`, or null when the op is not allowed in `state` (wrong read,
   * failed precondition). States themselves are never null (box a nullable value).
   */
  step(state: S, op: ModelOp): S | null;
  /** Equal states hash to equal strings and different states to different strings (it is the memo key). */
  hash(state: S): string;
  /** A short human description of a state, for explanations. */
  describe(state: S): string;
  /**
   * True when the op never changes the state (reads). An `info` read tells nothing and
   * is dropped before the search, as Knossos and Porcupine do.
   */
  readOnly(op: ModelOp): boolean;
  /**
   * Optional: drops `info` operations of one key's history that provably never need to
   * take effect (each is allowed to not happen, so dropping is sound when no linearization
   * needs it). Fewer crashed operations is what keeps the search tractable.
   */
  prune?<T extends ModelOp>(ops: readonly T[]): T[];
}

/** Structural equality for JSON-like values (results are parsed JSON or EDN). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    // 1 and "1" differ; undefined and null are both "no value".
    return (a === undefined && b === null) || (a === null && b === undefined);
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ak = Object.keys(a);
  const bk = Object.keys(b);
  if (ak.length !== bk.length) return false;
  for (const k of ak) if (!sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

/** A canonical string for a JSON-like value (object keys sorted), for hashing states. */
export function canonical(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (v === undefined) return 'null';
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? typeof v;
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

/**
 * For registers with unique written values (Jepsen's register workloads): an `info`
 * write or cas whose new value no completed read returned and no cas expected can be
 * dropped. In any linearization that places it, nothing between it and the next
 * write/successful cas observes its value (a read would return it, a cas would expect
 * it), so removing it leaves a linearization. `newValue` extracts what an op writes.
 */
export function pruneUnobservedWrites<T extends ModelOp>(ops: readonly T[], newValue: (op: ModelOp) => unknown): T[] {
  const observed = new Set<string>();
  let anyInfoWrite = false;
  for (const op of ops) {
    if (op.f === 'read' && op.type === 'ok') observed.add(canonical(op.value));
    else if (op.f === 'cas' && Array.isArray(op.invokeValue)) observed.add(canonical(op.invokeValue[0]));
    if (op.type === 'info' && op.f !== 'read') anyInfoWrite = true;
  }
  if (!anyInfoWrite) return [...ops];
  return ops.filter((op) => op.type !== 'info' || op.f === 'read' || observed.has(canonical(newValue(op))));
}

export function show(v: unknown): string {
  return v === undefined ? 'nil' : canonical(v);
}
