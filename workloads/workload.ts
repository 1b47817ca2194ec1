/**
 * What clients do during a run. A workload draws operations from a fast-check arbitrary
 * (seeded by `--seed`), resolves what depends on the run (unique values, the version this
 * process last saw), performs each through the abstract client operations of whichever system
 * is under test (workloads/client.ts), and names the checkers that judge the history it
 * produces. Workloads never import the harness or name a URL: the same workload runs against
 * every system whose client supports the operations it `requires`.
 */
import fc from 'fast-check';
import type { Checker } from '../checkers/checker.ts';
import type { OpError, OpName, OpResult, ReadConsistency, SystemClient } from './client.ts';

/** An operation before it runs: what the history's invoke records. */
export interface OpSpec {
  readonly f: string;
  readonly key?: string;
  readonly value: unknown;
}

/** A completed operation, as the history records it. */
export type Outcome =
  | { readonly type: 'ok'; readonly value: unknown; readonly node?: string }
  | { readonly type: 'fail' | 'info'; readonly error: OpError | string; readonly node?: string };

/** One logical client process, as a workload sees it. */
export interface ClientContext {
  /** The history's process number; a fresh one after every `info` (Jepsen semantics). */
  readonly process: number;
  /** This process's client, bound to its node. */
  readonly client: SystemClient;
  /** A name unique to this process in this run (lease holder, watcher id). */
  readonly holder: string;
  /** A value no other write in this run uses. */
  uniqueValue(): number;
  /** Remembered per-process state for the workload (e.g. last version seen per key). */
  readonly memory: Map<string, unknown>;
}

/** What a workload's checkers may depend on. */
export interface CheckerOptions {
  /** How reads were served: a stale-read-permitting consistency still gets checked against the strict models (and is expected to fail). */
  readonly readConsistency: ReadConsistency;
  /** Budget for searches (linearizability), ms. */
  readonly budgetMs?: number;
}

export interface Workload {
  readonly name: string;
  readonly description: string;
  /** The client operations it uses; a system lacking one is refused at start-up. */
  readonly requires: readonly OpName[];
  /** The stream of operations each process draws from. */
  operations(): fc.Arbitrary<OpSpec>;
  /**
   * Resolve what depends on the run (unique values, the version this process last saw)
   * before the invocation is recorded: the history records exactly what is invoked.
   */
  prepare(ctx: ClientContext, op: OpSpec): OpSpec;
  invoke(ctx: ClientContext, op: OpSpec): Promise<Outcome>;
  /** Reads after heal and recovery; each retried until it completes ok (bounded). */
  finalReads(): OpSpec[];
  /** The checkers that judge this workload's history. */
  checkers(options: CheckerOptions): Checker[];
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

/** A client result as a history completion, with the ok value shaped for the checkers. */
export function complete<T>(result: OpResult<T>, okValue: (value: T) => unknown): Outcome {
  const node = result.node !== undefined ? { node: result.node } : {};
  if (result.type === 'ok') return { type: 'ok', value: okValue(result.value), ...node };
  return { type: result.type, error: result.error, ...node };
}
