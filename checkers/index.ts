/**
 * The checkers library: read a history (JSON Lines or Jepsen EDN), check it for
 * linearizability against a model, and explain the verdict.
 *
 *   const history = readHistoryFile('history.jsonl');
 *   const result = await checkLinearizability(history, { model: 'versioned-kv' });
 *   if (result.valid === false) writeFileSync('why.html', renderLinearizabilityHtml(result, history));
 */
export type { CheckInput, CheckResult, Checker, Validity } from './checker.ts';
export { mergeValidity } from './checker.ts';

export type { CompletedOp, NodeEvent, Op, OpType, Process } from './history/types.ts';
export { pairOps } from './history/pair.ts';
export { HistoryError } from './history/errors.ts';
export { EdnReader, parseEdn } from './history/edn.ts';
export { detectFormat, parseEdnHistory, parseHistory, parseJsonLines, readHistoryFile, toJsonLines, writeHistoryFile, type HistoryFormat } from './history/read.ts';
export type { ReadOptions } from './history/validate.ts';

export type { Model, ModelOp } from './models/model.ts';
export { canonical, pruneUnobservedWrites, sameValue } from './models/model.ts';
export { MODELS, modelByName } from './models/index.ts';
export { registerModel, type RegisterState } from './models/register.ts';
export { casRegisterModel } from './models/cas-register.ts';
export { kvModel } from './models/kv.ts';
export { versionedKvModel, type VersionedState } from './models/versioned-kv.ts';
export { mutexModel } from './models/mutex.ts';

export {
  checkLinearizability,
  describeFailure,
  describeOp,
  splitByKey,
  type KeySummary,
  type LinearizabilityFailure,
  type LinearizabilityOptions,
  type LinearizabilityResult,
  type LinearizedStep,
} from './linearizability/check.ts';
export { renderLinearizabilityHtml } from './linearizability/html.ts';
export { searchKey, type SearchExplanation, type SearchOptions, type SearchResult, type SearchOp } from './linearizability/wgl.ts';
export type { Key } from './linearizability/key-check.ts';

/** The linearizability checker behind the common `Checker` interface. */
export { linearizabilityChecker } from './linearizability/checker.ts';

/** The invariant checkers: each a `Checker` class and a plain function with a typed result. */
export { ElectionChecker, checkElection, type ElectionOptions, type ElectionResult } from './election/election.ts';
export { LeaseChecker, checkLease, defaultMarginMs, type LeaseOptions, type LeaseResult } from './lease/lease.ts';
export { SetChecker, checkSet, type SetOptions, type SetResult } from './set/set.ts';
export { ReplicasChecker, checkReplicas, type ReplicasOptions, type ReplicasResult } from './replicas/replicas.ts';
export { WatchChecker, checkWatch, type WatchOptions, type WatchResult } from './watch/watch.ts';
export { PerfChecker, checkPerf, type PerfOptions, type PerfResult } from './perf/perf.ts';

export { AppendChecker, checkAppend, type AppendOptions, type AppendResult } from './append/append.ts';
export { renderAppendHtml, renderCycleHtml } from './append/html.ts';
