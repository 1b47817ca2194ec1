/**
 * What clients do during a run. A workload draws operations from a fast-check arbitrary
 * (seeded by `--seed`), turns each into calls on the store, classifies the outcome as Jepsen
 * does, and names the checkers that judge the history it produces.
 */
import fc from 'fast-check';
import type { Checker } from '../checkers/checker.ts';
import type { NodeId } from '../harness/runtime/runtime.ts';
import type { CallOptions, CallOutcome } from '../harness/store-http.ts';

/** An operation before it runs: what the history's invoke records. */
export interface OpSpec {
  readonly f: string;
  readonly key?: string;
  readonly value: unknown;
}

export type Outcome =
  | { readonly type: 'ok'; readonly value: unknown; readonly node: NodeId }
  | { readonly type: 'fail' | 'info'; readonly error: unknown; readonly node: NodeId };

/** One logical client process's view of the cluster. */
export interface ClientSession {
  /** The history's process number; a fresh one after every `info` (Jepsen semantics). */
  readonly process: number;
  /** Exactly-once id of this process (impl/API.md); new with the process. */
  readonly clientId: string;
  /** The next request sequence number for this client id. */
  nextSeq(): number;
  /** The node this process talks to first. */
  readonly node: NodeId;
  readonly opTimeoutMs: number;
  /** A value no other write in this run uses. */
  uniqueValue(): number;
  /**
   * Call the bound node; on `not-leader` with a hint, retry at the hinted node (same
   * request id, so it never applies twice). Returns the last outcome and who answered.
   */
  request(path: string, opts: Omit<CallOptions, 'timeoutMs'>): Promise<{ readonly outcome: CallOutcome; readonly node: NodeId }>;
  /** Base URL of a node's client proxy (for streaming calls the workload makes itself). */
  urlOf(node: NodeId): string;
  /** Remembered per-process state for the workload (e.g. last version seen per key). */
  readonly memory: Map<string, unknown>;
}

export interface Workload {
  readonly name: string;
  readonly description: string;
  /** The stream of operations each process draws from. */
  operations(): fc.Arbitrary<OpSpec>;
  /**
   * Resolve what depends on the run (unique values, the version this process last saw)
   * before the invocation is recorded: the history records exactly what is invoked.
   */
  prepare(session: ClientSession, op: OpSpec): OpSpec;
  invoke(session: ClientSession, op: OpSpec): Promise<Outcome>;
  /** Reads after heal and recovery; each retried until it completes ok (bounded). */
  finalReads(): OpSpec[];
  /** The checkers that judge this workload's history. */
  checkers(): Checker[];
}

/**
 * A deterministic stream of ops for one process slot: chunks of fast-check samples, each
 * chunk seeded from (seed, slot, chunk number), so the same seed gives the same stream.
 */
export function opStream(arb: fc.Arbitrary<OpSpec>, seed: number, slot: number): () => OpSpec {
  let chunk: OpSpec[] = [];
  let chunkNo = 0;
  let i = 0;
  return () => {
    if (i >= chunk.length) {
      chunk = fc.sample(arb, { seed: (seed ^ Math.imul(slot + 1, 0x9e3779b1) ^ Math.imul(chunkNo + 1, 0x85ebca6b)) | 0, numRuns: 256 });
      chunkNo++;
      i = 0;
    }
    return chunk[i++] as OpSpec;
  };
}

/**
 * Map a call outcome to a history completion. `readOnly` ops had no effect whatever
 * happened, so an indefinite error on a read is a `fail` (as Jepsen records crashed reads),
 * and the process carries on.
 */
export function classify(outcome: CallOutcome, node: NodeId, readOnly: boolean, okValue: (body: Record<string, unknown>) => unknown): Outcome {
  if (outcome.kind === 'ok') return { type: 'ok', value: okValue(outcome.body), node };
  const error = outcome.status === null ? outcome.code : { code: outcome.code, status: outcome.status };
  return { type: outcome.definite || readOnly ? 'fail' : 'info', error, node };
}
