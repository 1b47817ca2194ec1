import type { CompletedOp } from '../history/types.ts';
import type { Model } from '../models/model.ts';
import { searchKey, type SearchExplanation, type SearchOp } from './wgl.ts';

export type Key = string | number | null;

/** The verdict for one key, as it crosses a worker-thread boundary (op ids index the key's ops). */
export interface KeyVerdict {
  readonly key: Key;
  readonly valid: true | false | 'unknown';
  /** Memoized configurations explored (both passes for an invalid key). */
  readonly states: number;
  readonly ms: number;
  readonly reason?: 'time' | 'states' | 'memory' | 'error';
  readonly explanation?: SearchExplanation;
  /** The model state before the first operation. */
  readonly initialState?: string;
}

export interface KeyCheckLimits {
  readonly maxStates: number;
  readonly deadline: number;
  /** Keys with at most this many operations are confirmed with exact linearized sets (default 4096). */
  readonly exactUpTo?: number;
}

/** Memory for exact linearized sets in the confirming pass. */
const EXACT_BYTES = 256 * 2 ** 20;

/**
 * Checks one key: a hashed search first; an invalid verdict is confirmed by a second
 * search (a hash collision can only cause a false "invalid"), which also records the
 * explanation at the deepest point the first pass reached.
 */
export function checkKey(model: Model<unknown>, initValue: unknown, key: Key, ops: readonly SearchOp[], limits: KeyCheckLimits): KeyVerdict {
  const t0 = performance.now();
  // A key that starts after the deadline (queued behind others) is not started at all.
  if (Date.now() > limits.deadline) return { key, valid: 'unknown', states: 0, ms: 0, reason: 'time' };
  const init = model.init(initValue);
  // First pass: hashed memo keys (a collision can only prune, so "valid" is sound).
  const first = searchKey(model, init, ops, { maxStates: limits.maxStates, deadline: limits.deadline });
  if (first.valid !== false) {
    const base = { key, valid: first.valid, states: first.states, ms: performance.now() - t0 };
    return first.valid === 'unknown' ? { ...base, reason: first.reason } : base;
  }
  // Second pass, to confirm "invalid" and record the explanation at the deepest point the
  // first pass reached: exact linearized sets for small keys (n/8 bytes per configuration,
  // capped at EXACT_BYTES in all), an independently seeded hash for large ones — a false
  // "invalid" then needs two independent 64-bit collisions on the same path.
  const exact = ops.length <= (limits.exactUpTo ?? 4096);
  const maxStates = exact ? Math.min(limits.maxStates, Math.floor(EXACT_BYTES / (ops.length / 8 + 64))) : limits.maxStates;
  const second = searchKey(model, init, ops, { maxStates, deadline: limits.deadline, exact, seed: 0x5bd1e995, explainDepth: first.bestDepth });
  const states = first.states + second.states;
  const ms = performance.now() - t0;
  if (second.valid === 'unknown') {
    // Could not confirm in budget: report unknown rather than overclaim.
    return { key, valid: 'unknown', states, ms, reason: second.reason };
  }
  if (second.valid === true) {
    // The hashed pass pruned a branch on a collision; the exact pass found a linearization.
    return { key, valid: true, states, ms };
  }
  return {
    key,
    valid: false,
    states,
    ms,
    initialState: model.describe(init),
    ...(second.explanation !== undefined ? { explanation: second.explanation } : {}),
  };
}

/**
 * The operations the search sees for a key: `fail` ops did not happen and are dropped;
 * `info` ops whose function never changes state (reads) tell nothing and are dropped,
 * and so are those the model's `prune` proves never need to happen.
 */
export function searchableOps(model: Model<unknown>, ops: readonly CompletedOp[]): CompletedOp[] {
  const kept = ops.filter((op) => op.type === 'ok' || (op.type === 'info' && !model.readOnly(op)));
  return model.prune !== undefined ? model.prune(kept) : kept;
}
