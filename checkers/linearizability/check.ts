import { availableParallelism } from 'node:os';
import type { CheckResult, Validity } from '../checker.ts';
import { pairOps } from '../history/pair.ts';
import type { CompletedOp, Op } from '../history/types.ts';
import { modelByName, MODELS } from '../models/index.ts';
import type { Model } from '../models/model.ts';
import { checkKey, searchableOps, type Key, type KeyVerdict } from './key-check.ts';
import { SearchPool } from './pool.ts';

export interface LinearizabilityOptions {
  /** A built-in model name (`register`, `cas-register`, `kv`, `versioned-kv`, `mutex`) or a model object. */
  readonly model: string | Model<unknown>;
  /** Initial value handed to `model.init` (`--init`). */
  readonly init?: unknown;
  /** Check every key even after one is found invalid. */
  readonly all?: boolean;
  /** Wall-clock budget for the whole check; when it runs out the verdict is `unknown`. Default: none. */
  readonly budgetMs?: number;
  /** Per-key cap on memoized configurations (the memory budget). Default 2,000,000 (about 200 MB). */
  readonly maxStates?: number;
  /** Worker threads; 0 searches in this thread. Default: one per core, used only for large histories. */
  readonly workers?: number;
  /** Heap cap per worker thread in MB (a runaway search ends as `unknown`, not an OOM). Default 1536. */
  readonly maxHeapMb?: number;
}

export interface LinearizedStep {
  readonly op: CompletedOp;
  /** The model state after this op. */
  readonly state: string;
}

/** Why a key is not linearizable: Knossos' `:op`, `:previous-ok` and `:final-paths`, in words. */
export interface LinearizabilityFailure {
  readonly key: Key;
  /** The operation that could not be linearized after any longest prefix. */
  readonly op: CompletedOp;
  /** A longest linearizable prefix of the key's history, in linearization order. */
  readonly prefix: readonly LinearizedStep[];
  /** Every state the model could have been in when this op had to be placed (capped at 16). */
  readonly states: readonly string[];
  readonly initialState: string;
}

export interface KeySummary {
  readonly key: Key;
  readonly valid: Validity;
  readonly ops: number;
  readonly states: number;
  readonly ms: number;
  readonly reason?: string;
}

export interface LinearizabilityResult extends CheckResult {
  readonly checker: 'linearizability';
  readonly model: string;
  /** Client operations (invocations) in the history. */
  readonly ops: number;
  readonly keys: number;
  /** Keys with a definite verdict. */
  readonly keysChecked: number;
  /** Keys without one: not reached (stopped early, budget) or searched into a budget. */
  readonly keysLeft: readonly Key[];
  readonly invalidKeys: readonly Key[];
  readonly states: number;
  readonly ms: number;
  /** The first invalid key's explanation. */
  readonly failure?: LinearizabilityFailure;
  /** Every invalid key's explanation (with `all`). */
  readonly failures: readonly LinearizabilityFailure[];
  readonly perKey: readonly KeySummary[];
  /** Where the time went, in ms. */
  readonly timings: { readonly pair: number; readonly split: number; readonly search: number };
}

/** Histories smaller than this are searched in-process: a worker costs more to start than they take. */
const WORKER_THRESHOLD_OPS = 50_000;

/**
 * Checks a history for linearizability against a model, per key (P-compositionality:
 * Herlihy & Wing 1990, Theorem 1 — a history is linearizable iff each object's
 * subhistory is), keys in parallel on worker threads. Throws on input the model cannot
 * read (an `f` it does not know), naming the operation's index.
 */
export async function checkLinearizability(history: readonly Op[], options: LinearizabilityOptions): Promise<LinearizabilityResult> {
  const t0 = performance.now();
  const model = typeof options.model === 'string' ? modelByName(options.model) : options.model;
  const completed = pairOps(history);
  const tPair = performance.now();
  const known = new Set(model.fs);
  for (const op of completed) {
    if (!known.has(op.f)) throw new Error(`op index ${op.invokeIndex}: model ${model.name} does not know f "${op.f}" (it knows ${model.fs.join(', ')})`);
  }
  const groups = splitByKey(completed);
  const searchable = groups.map((g) => ({ key: g.key, all: g.ops, ops: searchableOps(model, g.ops) }));
  const tSplit = performance.now();

  const maxStates = options.maxStates ?? 2_000_000;
  const deadline = options.budgetMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.budgetMs;
  const limits = { maxStates, deadline: Number.isFinite(deadline) ? deadline : 8.64e15 };
  const stopEarly = options.all !== true;

  const verdicts = new Map<Key, KeyVerdict>();
  const builtIn = MODELS[model.name] === model;
  const totalOps = completed.length;
  const workers = options.workers ?? (builtIn && totalOps >= WORKER_THRESHOLD_OPS && searchable.length > 1 ? availableParallelism() : 0);

  // Largest keys first: the long pole starts early, and a pool finishes sooner.
  const order = [...searchable].sort((a, b) => b.ops.length - a.ops.length);
  if (workers <= 0 || !builtIn) {
    for (const g of order) {
      if (Date.now() > limits.deadline) break;
      const v = checkKey(model, options.init, g.key, g.ops, limits);
      verdicts.set(g.key, v);
      if (v.valid === false && stopEarly) break;
    }
  } else {
    let workerError: string | undefined;
    const pool = new SearchPool(Math.min(workers, order.length), options.maxHeapMb ?? 1536);
    let stop = false;
    let watchdog: NodeJS.Timeout | undefined;
    try {
      const all = order.map(async (g, id) => {
        // Only what the search reads crosses the thread boundary (structured clone is per field).
        const slim = g.ops.map((op) => ({ f: op.f, invokeValue: op.invokeValue, value: op.value, type: op.type, invokeIndex: op.invokeIndex, completeIndex: op.completeIndex }));
        const r = await pool.run({ id, model: model.name, init: options.init, key: g.key, ops: slim, limits });
        if (stop) return;
        if (r instanceof Error) {
          if (/pool closed/.test(r.message)) return;
          const oom = (r as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
          workerError ??= oom ? undefined : r.message;
          verdicts.set(g.key, { key: g.key, valid: 'unknown', states: 0, ms: 0, reason: oom ? 'memory' : 'error' });
          return;
        }
        verdicts.set(g.key, r);
        if (r.valid === false && stopEarly) {
          stop = true;
          await pool.close();
        }
      });
      const watch = Number.isFinite(deadline)
        ? new Promise<void>((resolve) => {
            // Workers check the deadline themselves; this is the backstop if one cannot.
            watchdog = setTimeout(() => {
              stop = true;
              void pool.close().then(resolve);
            }, Math.max(0, deadline - Date.now()) + 2000);
          })
        : new Promise<void>(() => {});
      await Promise.race([Promise.all(all), watch]);
    } finally {
      if (watchdog !== undefined) clearTimeout(watchdog);
      await pool.close();
    }
    if (workerError !== undefined) process.emitWarning(`linearizability: a search worker failed: ${workerError}`);
  }
  const tSearch = performance.now();
  return summarize(model, searchable, verdicts, {
    ops: completed.length,
    ms: performance.now() - t0,
    timings: { pair: tPair - t0, split: tSplit - tPair, search: tSearch - tSplit },
  });
}

interface KeyGroup {
  readonly key: Key;
  readonly ops: CompletedOp[];
}

/** Groups operations by key, in order of each key's first appearance; ops without a key form key null. */
export function splitByKey(ops: readonly CompletedOp[]): KeyGroup[] {
  const byKey = new Map<Key, CompletedOp[]>();
  for (const op of ops) {
    const k = op.key ?? null;
    let list = byKey.get(k);
    if (list === undefined) {
      list = [];
      byKey.set(k, list);
    }
    list.push(op);
  }
  return [...byKey].map(([key, list]) => ({ key, ops: list }));
}

function summarize(
  model: Model<unknown>,
  groups: readonly { key: Key; all: readonly CompletedOp[]; ops: readonly CompletedOp[] }[],
  verdicts: ReadonlyMap<Key, KeyVerdict>,
  extra: { ops: number; ms: number; timings: LinearizabilityResult['timings'] },
): LinearizabilityResult {
  const perKey: KeySummary[] = [];
  const keysLeft: Key[] = [];
  const invalidKeys: Key[] = [];
  const failures: LinearizabilityFailure[] = [];
  let states = 0;
  let unknownReason: string | undefined;
  for (const g of groups) {
    const v = verdicts.get(g.key);
    if (v === undefined) {
      keysLeft.push(g.key);
      continue;
    }
    states += v.states;
    perKey.push({ key: g.key, valid: v.valid, ops: g.all.length, states: v.states, ms: Math.round(v.ms), ...(v.reason !== undefined ? { reason: v.reason } : {}) });
    if (v.valid === 'unknown') {
      keysLeft.push(g.key);
      unknownReason ??= v.reason;
    } else if (v.valid === false) {
      invalidKeys.push(g.key);
      failures.push(explain(g.key, g.ops, v));
    }
  }
  const valid: Validity = invalidKeys.length > 0 ? false : keysLeft.length > 0 ? 'unknown' : true;
  const keysChecked = perKey.filter((k) => k.valid !== 'unknown').length;
  const failure = failures[0];
  let summary: string;
  if (valid === true) {
    summary = `linearizable: ${extra.ops} ops over ${groups.length} key(s) fit the ${model.name} model (${states} configurations explored)`;
  } else if (valid === false && failure !== undefined) {
    summary = `not linearizable: ${describeFailure(failure)}`;
  } else {
    const why = unknownReason === 'time' ? 'the time budget ran out' : unknownReason === 'states' ? 'the state budget (--max-states) ran out' : unknownReason === 'memory' ? 'a search worker ran out of memory (maxHeapMb)' : unknownReason === 'error' ? 'a search worker failed' : 'the time budget ran out';
    summary = `unknown: ${why}; ${keysChecked} of ${groups.length} key(s) checked and linearizable, ${keysLeft.length} left (${keysLeft.slice(0, 5).map(showKey).join(', ')}${keysLeft.length > 5 ? ', ...' : ''})`;
  }
  return {
    checker: 'linearizability',
    valid,
    summary,
    model: model.name,
    ops: extra.ops,
    keys: groups.length,
    keysChecked,
    keysLeft,
    invalidKeys,
    states,
    ms: Math.round(extra.ms),
    ...(failure !== undefined ? { failure } : {}),
    failures,
    perKey,
    timings: { pair: Math.round(extra.timings.pair), split: Math.round(extra.timings.split), search: Math.round(extra.timings.search) },
  };
}

function explain(key: Key, ops: readonly CompletedOp[], v: KeyVerdict): LinearizabilityFailure {
  const e = v.explanation;
  const at = (i: number): CompletedOp => ops[i] as CompletedOp;
  if (e === undefined) {
    // Only when the explaining pass could not reach the depth (should not happen).
    return { key, op: at(0), prefix: [], states: [], initialState: v.initialState ?? '?' };
  }
  return {
    key,
    op: at(e.blocked),
    prefix: e.prefix.map((s) => ({ op: at(s.op), state: s.state })),
    states: e.states,
    initialState: v.initialState ?? '?',
  };
}

export function showKey(k: Key): string {
  return k === null ? '(no key)' : JSON.stringify(k);
}

/** "process 3: cas [1,2] -> ok" style, for explanations. */
export function describeOp(op: CompletedOp): string {
  const arg = op.invokeValue === null || op.invokeValue === undefined ? '' : ` ${JSON.stringify(op.invokeValue)}`;
  // A read that returned nil says so: "-> ok" alone would hide the value the model rejected.
  const res = op.type === 'ok' ? (op.value === undefined ? ' -> ok' : op.value === null ? (op.f === 'read' ? ' -> nil' : ' -> ok') : ` -> ${JSON.stringify(op.value)}`) : ` -> ${op.type}`;
  return `process ${op.process}: ${op.f}${arg}${res} (index ${op.invokeIndex}${op.completeIndex !== null ? `..${op.completeIndex}` : '..'})`;
}

export function describeFailure(f: LinearizabilityFailure): string {
  const last = f.prefix[f.prefix.length - 1];
  const after = last === undefined ? `from the initial state ${f.initialState}` : `after a linearizable prefix of ${f.prefix.length} op(s) ending with ${describeOp(last.op)}`;
  return `key ${showKey(f.key)}: ${describeOp(f.op)} cannot be linearized ${after}; the model could have been in ${f.states.length === 1 ? 'state' : 'states'} ${f.states.join(' | ')}`;
}
