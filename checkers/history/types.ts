/**
 * A recorded history in Jepsen's vocabulary. Every checker takes these; the native file
 * format is JSON Lines, one `Op` per line, and Jepsen's `history.edn` reads into the same shape.
 *
 * Semantics (as in Jepsen): an `invoke` starts an operation; its completion is `ok`
 * (happened), `fail` (definitely did not happen) or `info` (may have happened at any time
 * after the invocation, including after the history ends). A process issues no new
 * operation after an `info`; an invocation with no completion counts as `info`.
 */

export type OpType = 'invoke' | 'ok' | 'fail' | 'info';

/** A client process is an integer; fault injection is the "nemesis" process. */
export type Process = number | 'nemesis';

export interface Op {
  /** Position in the history, 0-based and strictly increasing. */
  readonly index: number;
  /** Nanoseconds since the test started. */
  readonly time: number;
  readonly process: Process;
  readonly type: OpType;
  /** The operation's function: "read", "write", "cas", "acquire", "add", "start-partition", ... */
  readonly f: string;
  /** Key for keyed workloads (P-compositionality splits on it). */
  readonly key?: string | number;
  /** Argument on invoke, result on completion (JSON-compatible). */
  readonly value: unknown;
  /** Error description on fail/info. */
  readonly error?: unknown;
  /** The node the client talked to, when known. */
  readonly node?: string;
}

/** An invocation paired with its completion (what the checkers actually reason about). */
export interface CompletedOp {
  readonly process: Process;
  readonly f: string;
  readonly key?: string | number;
  /** Invocation's value. */
  readonly invokeValue: unknown;
  /** Completion's value (ok), or undefined for info/fail. */
  readonly value: unknown;
  readonly type: 'ok' | 'fail' | 'info';
  /** Invocation time (ns). */
  readonly start: number;
  /** Completion time (ns); +Infinity for info (may take effect until the end of time). */
  readonly end: number;
  readonly invokeIndex: number;
  readonly completeIndex: number | null;
  readonly error?: unknown;
  readonly node?: string;
}

/**
 * A node-side event (role changes, status samples) that the election and replica checkers
 * read alongside the client history. One JSON object per line in `events.jsonl`.
 */
export type NodeEvent =
  | { readonly kind: 'role'; readonly time: number; readonly node: string; readonly role: string; readonly term: number; readonly leader: string | null }
  | {
      readonly kind: 'status';
      readonly time: number;
      readonly node: string;
      readonly role: string;
      readonly term: number;
      readonly leader: string | null;
      readonly commit: number;
      readonly applied: number;
      /**
       * 'applied': `term` is the term of the node's last applied entry, not its current term
       * (etcd's Maintenance.Status): monotonic, but no evidence of who leads which term.
       */
      readonly termSource?: 'applied';
    }
  | { readonly kind: 'digest'; readonly time: number; readonly node: string; readonly entries: readonly { readonly index: number; readonly term: number; readonly hash: string }[] }
  /** A hash of the whole key space at `revision` (etcd's Maintenance.HashKV): equal on every member at the same revision. */
  | { readonly kind: 'kv-hash'; readonly time: number; readonly node: string; readonly revision: number; readonly compactRevision: number; readonly hash: string };
