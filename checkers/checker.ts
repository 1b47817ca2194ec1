import type { NodeEvent, Op } from './history/types.ts';

/** A verdict: `unknown` when a budget ran out or the input could not decide it. */
export type Validity = true | false | 'unknown';

/** Every checker answers with at least these fields, plus its own details. */
export interface CheckResult {
  readonly checker: string;
  readonly valid: Validity;
  /** One line a person reads first ("2 leaders in term 7: n1, n3"). */
  readonly summary: string;
  readonly [detail: string]: unknown;
}

export interface CheckInput {
  readonly history: readonly Op[];
  /** Node event logs (role changes, status samples, digests), when the run collected them. */
  readonly events?: readonly NodeEvent[];
  /** What the run could not collect from the nodes, and why (checkers that need it say so). */
  readonly collectionProblems?: readonly string[];
  /** How many members the cluster had, when the run knows (a one-member cluster has no replicas to compare). */
  readonly clusterSize?: number;
}

export interface Checker {
  readonly name: string;
  check(input: CheckInput): CheckResult | Promise<CheckResult>;
}

/** Combine verdicts: any false is false, else any unknown is unknown, else true. */
export function mergeValidity(vs: readonly Validity[]): Validity {
  if (vs.includes(false)) return false;
  if (vs.includes('unknown')) return 'unknown';
  return true;
}
