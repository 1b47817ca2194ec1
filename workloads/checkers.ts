/**
 * The checkers a workload's run is judged by, assembled from checkers/. Every run gets the
 * election checker (one leader per term, from node events) and the replicas checker (applied
 * log digests agree across nodes); keyed workloads add linearizability under their model.
 */
import type { Checker, CheckInput, CheckResult } from '../checkers/checker.ts';
import { ElectionChecker } from '../checkers/election/election.ts';
import { checkLinearizability } from '../checkers/linearizability/check.ts';
import { PerfChecker } from '../checkers/perf/perf.ts';
import { ReplicasChecker } from '../checkers/replicas/replicas.ts';

export interface StandardCheckerOptions {
  /** Linearizability model name (checkers/models), or null for none. */
  readonly model: string | null;
  /** Wall-clock budget for the linearizability search; past it the verdict is `unknown`. */
  readonly budgetMs?: number;
}

export function linearizabilityChecker(model: string, budgetMs = 60_000): Checker {
  return {
    name: 'linearizability',
    check: (input: CheckInput): Promise<CheckResult> => checkLinearizability(input.history, { model, budgetMs }),
  };
}

export function standardCheckers(options: StandardCheckerOptions): Checker[] {
  const out: Checker[] = [];
  if (options.model !== null) out.push(linearizabilityChecker(options.model, options.budgetMs));
  // perf: figures only (throughput, latency, availability per fault window); always valid.
  out.push(new ElectionChecker(), new ReplicasChecker(), new PerfChecker());
  return out;
}
