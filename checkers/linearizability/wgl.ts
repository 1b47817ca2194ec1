import type { CompletedOp } from '../history/types.ts';
import type { Model } from '../models/model.ts';
import { ConfigSet } from './memo.ts';

/**
 * The Wing–Gong–Lowe linearizability search over one key's operations, as described in
 * G. Lowe, "Testing for linearizability" (2017) §3 and implemented by Porcupine
 * (A. Athalye, github.com/anishathalye/porcupine, checker.go): a depth-first search over
 * a list of call and return entries ordered by real time. At each step an operation may
 * be linearized next if its call precedes every pending return; the search lifts it out
 * of the list, and backtracks when it reaches a return whose operation it could not place.
 * Configurations (set of linearized operations, model state) already explored are
 * memoized, so no configuration is searched twice.
 *
 * `info` operations (outcome unknown) have no return entry: they may take effect at any
 * point after their invocation, or never. They live in a separate list and are tried only
 * after every `ok` candidate at the same point failed: delaying an operation that may
 * happen "whenever" is usually right, and it keeps the scan over the hot list short
 * however many crashed operations pile up (Porcupine instead puts their returns at the end
 * of the history; the search is complete either way, the order only changes speed).
 * The search succeeds once every `ok` operation is linearized; info operations left over
 * simply never happened.
 *
 * The memo key is a 64-bit Zobrist hash of the linearized set plus the interned model state.
 * A hash collision can only prune a branch, never invent a linearization, so a `valid`
 * verdict is always sound; `exact: true` stores the sets themselves, and the checker
 * re-runs an `invalid` key (exactly, or for large keys with an independent seed) before
 * reporting it.
 */

export interface SearchOptions {
  /** Give up with `unknown` after this many memoized configurations. */
  readonly maxStates: number;
  /** Give up with `unknown` at this `Date.now()`. */
  readonly deadline: number;
  /** Compare linearized sets exactly instead of by their 64-bit hash. */
  readonly exact?: boolean;
  /** Seed for the Zobrist table; a re-run with another seed has independent collisions. */
  readonly seed?: number;
  /** Record the explanation at this depth (set on the second pass for an invalid key). */
  readonly explainDepth?: number;
}

export type SearchResult =
  | { readonly valid: true; readonly states: number }
  | { readonly valid: false; readonly states: number; readonly bestDepth: number; readonly explanation?: SearchExplanation }
  | { readonly valid: 'unknown'; readonly states: number; readonly reason: 'time' | 'states' };

/** What the search reads of an operation (all a worker thread is sent). */
export type SearchOp = Pick<CompletedOp, 'f' | 'invokeValue' | 'value' | 'type' | 'invokeIndex' | 'completeIndex'>;

/** Indices refer to the `ops` array given to `searchKey`. */
export interface SearchExplanation {
  /** The operation whose completion the search could not get past. */
  readonly blocked: number;
  /** The longest linearizable prefix: operations in linearization order, with the state after each. */
  readonly prefix: readonly { readonly op: number; readonly state: string }[];
  /** Every state the search was stuck in while trying to place `blocked` (capped at 16). */
  readonly states: readonly string[];
}

const MAX_EXPLAINED_STATES = 16;

/**
 * Searches for a linearization of `ops` (one key's operations; `fail` and info reads
 * already removed). Positions in real time come from `invokeIndex` / `completeIndex`.
 */
export function searchKey<S>(model: Model<S>, init: S, ops: readonly SearchOp[], options: SearchOptions): SearchResult {
  const n = ops.length;
  let okLeft = 0;
  for (const op of ops) if (op.type === 'ok') okLeft++;
  if (okLeft === 0) return { valid: true, states: 0 };

  // --- Entry lists (dancing links over typed arrays). Main list: ok calls and returns,
  // entry 2i = call of op i, 2i+1 = return of op i, sentinel 2n. Info list: info calls, entry i, sentinel n.
  const mainHead = 2 * n;
  const mNext = new Int32Array(2 * n + 1);
  const mPrev = new Int32Array(2 * n + 1);
  const iHead = n;
  const iNext = new Int32Array(n + 1);
  const iPrev = new Int32Array(n + 1);
  const returnPos = new Float64Array(n);
  {
    const main: { e: number; pos: number }[] = [];
    const info: { e: number; pos: number }[] = [];
    for (let i = 0; i < n; i++) {
      const op = ops[i] as SearchOp;
      if (op.type === 'ok') {
        if (op.completeIndex === null) throw new Error(`op at index ${op.invokeIndex} is ok but has no completion index`);
        main.push({ e: 2 * i, pos: op.invokeIndex }, { e: 2 * i + 1, pos: op.completeIndex });
        returnPos[i] = op.completeIndex;
      } else {
        info.push({ e: i, pos: op.invokeIndex });
        returnPos[i] = Number.POSITIVE_INFINITY;
      }
    }
    // A call precedes its own return even when both carry the same position.
    main.sort((a, b) => a.pos - b.pos || (a.e & 1) - (b.e & 1));
    info.sort((a, b) => a.pos - b.pos);
    link(main.map((x) => x.e), mainHead, mNext, mPrev);
    link(info.map((x) => x.e), iHead, iNext, iPrev);
  }
  const invokePos = new Float64Array(n);
  for (let i = 0; i < n; i++) invokePos[i] = (ops[i] as SearchOp).invokeIndex;

  // --- Zobrist hashing of the linearized set (deterministic seeds: reproducible runs).
  const z1 = new Int32Array(n);
  const z2 = new Int32Array(n);
  let seed = (0x9e3779b9 ^ n ^ Math.imul(options.seed ?? 0, 0x85ebca6b)) | 1;
  const rnd = (): number => {
    // xorshift32
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed | 0;
  };
  for (let i = 0; i < n; i++) {
    z1[i] = rnd();
    z2[i] = rnd();
  }
  let h1 = 0;
  let h2 = 0;
  const exact = options.exact === true;
  const bits = exact ? new Uint32Array((n + 31) >>> 5) : null;
  const seen = new ConfigSet();
  // Interned model states: hash string -> small id, so memo keys are three integers.
  const stateIds = new Map<string, number>();
  const intern = (h: string): number => {
    let id = stateIds.get(h);
    if (id === undefined) {
      id = stateIds.size;
      stateIds.set(h, id);
    }
    return id;
  };
  const seenExact = exact ? new Map<string, Uint32Array[]>() : null;
  let states = 0;

  // --- The DFS stack.
  const stackOp = new Int32Array(n);
  const stackState: S[] = new Array<S>(n);
  const stackReturnPos = new Float64Array(n);
  const stackStateId = new Int32Array(n);
  const stackBlocked = new Int32Array(n);
  const stackPass = new Uint8Array(n);
  let depth = 0;
  let state = init;
  let stateId = intern(model.hash(init));
  let bestDepth = 0;

  const explainDepth = options.explainDepth;
  let explanation: { blocked: number; prefix: { op: number; state: string }[] } | null = null;

  // On the explaining pass: the states in which the search got stuck, per stuck op, at any depth
  // (Knossos' "final paths" end in every state the failing op was tried from).
  const stuckStates = new Map<number, Set<string>>();
  const recordBlock = (blockedOp: number): void => {
    if (depth > bestDepth) bestDepth = depth;
    if (explainDepth === undefined) return;
    let set = stuckStates.get(blockedOp);
    if (set === undefined && stuckStates.size < 4096) {
      set = new Set();
      stuckStates.set(blockedOp, set);
    }
    if (set !== undefined && set.size < MAX_EXPLAINED_STATES) set.add(model.describe(state));
    if (depth !== explainDepth) return;
    if (explanation === null) {
      const prefix: { op: number; state: string }[] = [];
      for (let k = 0; k < depth; k++) {
        const after = k + 1 < depth ? (stackState[k + 1] as S) : state;
        prefix.push({ op: stackOp[k] as number, state: model.describe(after) });
      }
      explanation = { blocked: blockedOp, prefix };
    }
  };

  /** Tries to linearize op i now: NOT_ALLOWED, LIFTED (pushed), or SEEN (that configuration was explored and failed). */
  const tryOp = (i: number, firstReturn: number, blockedOp: number, pass: number): number => {
    const next = model.step(state, ops[i] as SearchOp);
    if (next === null) return NOT_ALLOWED;
    const n1 = h1 ^ (z1[i] as number);
    const n2 = h2 ^ (z2[i] as number);
    // A read hands back the very state it was given: no hashing needed.
    const nextId = next === state ? stateId : intern(model.hash(next));
    if (seenExact !== null && bits !== null) {
      const key = `${n1}:${n2}:${nextId}`;
      bits[i >>> 5] = (bits[i >>> 5] as number) ^ (1 << (i & 31));
      let bucket = seenExact.get(key);
      if (bucket === undefined) {
        bucket = [];
        seenExact.set(key, bucket);
      }
      const dup = bucket.some((b) => sameBits(b, bits));
      if (dup) {
        bits[i >>> 5] = (bits[i >>> 5] as number) ^ (1 << (i & 31));
        return SEEN;
      }
      bucket.push(bits.slice());
    } else if (!seen.add(n1, n2, nextId)) {
      return SEEN;
    }
    states++;
    stackOp[depth] = i;
    stackState[depth] = state;
    stackStateId[depth] = stateId;
    stackReturnPos[depth] = firstReturn;
    stackBlocked[depth] = blockedOp;
    stackPass[depth] = pass;
    depth++;
    state = next;
    stateId = nextId;
    h1 = n1;
    h2 = n2;
    if (returnPos[i] === Number.POSITIVE_INFINITY) {
      unlinkOne(i, iNext, iPrev);
    } else {
      unlinkOne(2 * i, mNext, mPrev);
      unlinkOne(2 * i + 1, mNext, mPrev);
      okLeft--;
    }
    return LIFTED;
  };

  /** Undoes the last push; returns the op id. */
  const pop = (): number => {
    depth--;
    const i = stackOp[depth] as number;
    state = stackState[depth] as S;
    stateId = stackStateId[depth] as number;
    h1 ^= z1[i] as number;
    h2 ^= z2[i] as number;
    if (bits !== null) bits[i >>> 5] = (bits[i >>> 5] as number) ^ (1 << (i & 31));
    if (returnPos[i] === Number.POSITIVE_INFINITY) {
      relinkOne(i, iNext, iPrev);
    } else {
      relinkOne(2 * i + 1, mNext, mPrev);
      relinkOne(2 * i, mNext, mPrev);
      okLeft++;
    }
    return i;
  };

  // Scan state. The ok phase walks the main list (`cursor`) in two passes: first the reads
  // (read-only ops) that fit the current state, then everything else. The info phase walks
  // the info list in two passes: first the info ops that would let the blocked op (`blocked`,
  // owner of the earliest pending return) go next, then the rest.
  //
  // Reads first is a partial-order reduction, not just an ordering. If a read-only op R is
  // a candidate in configuration C and returns C's state, then C completes iff C+R does: any
  // completion of C that places R later can move R to the front (R's call precedes every
  // pending return, so real-time order holds; R changes no state, so nothing else moves).
  // So a "forced" read is never backtracked over: when C+R fails, C fails.
  //
  // Enabling info ops first is only an ordering (the search stays complete), but it stops
  // the search from linearizing arbitrary crashed writes ahead of the one a read actually
  // observed, which is what makes info-heavy histories explode.
  let phaseInfo = false;
  let okPass = 1;
  let cursor = mNext[mainHead] as number;
  let firstReturn = 0;
  let blocked = -1;
  let infoPass = 1;
  let iterations = 0;
  const maxStates = options.maxStates;
  const deadline = options.deadline;
  const readOnly = new Uint8Array(n);
  for (let i = 0; i < n; i++) readOnly[i] = model.readOnly(ops[i] as SearchOp) ? 1 : 0;
  const enables = (i: number): boolean => {
    const s1 = model.step(state, ops[i] as SearchOp);
    return s1 !== null && model.step(s1, ops[blocked] as SearchOp) !== null;
  };

  /** Pops until a configuration with untried alternatives; false when none is left. */
  const backtrack = (): boolean => {
    for (;;) {
      if (depth === 0) return false;
      const saved = depth - 1;
      const pass = stackPass[saved] as number;
      const savedFirstReturn = stackReturnPos[saved] as number;
      const savedBlocked = stackBlocked[saved] as number;
      const i = pop();
      if (pass === FORCED) continue; // the configuration below a forced read fails with it
      if (returnPos[i] === Number.POSITIVE_INFINITY) {
        phaseInfo = true;
        firstReturn = savedFirstReturn;
        blocked = savedBlocked;
        infoPass = pass;
        cursor = iNext[i] as number;
      } else {
        phaseInfo = false;
        okPass = 2;
        cursor = mNext[2 * i] as number;
      }
      return true;
    }
  };
  const invalid = (): SearchResult => {
    if (explanation === null) return { valid: false, states, bestDepth };
    const e = explanation as { blocked: number; prefix: { op: number; state: string }[] };
    return { valid: false, states, bestDepth, explanation: { blocked: e.blocked, prefix: e.prefix, states: [...(stuckStates.get(e.blocked) ?? [])] } };
  };

  for (;;) {
    if ((++iterations & 0xfff) === 0 && Date.now() > deadline) return { valid: 'unknown', states, reason: 'time' };
    if (!phaseInfo) {
      // Ok candidates: calls before the first return in the main list.
      if ((cursor & 1) === 0 && cursor !== mainHead) {
        const i = cursor >>> 1;
        if (okPass === 1) {
          if (readOnly[i] === 1) {
            const r = tryOp(i, 0, 0, FORCED);
            if (r === LIFTED) {
              if (okLeft === 0) return { valid: true, states };
              if (states > maxStates) return { valid: 'unknown', states, reason: 'states' };
              cursor = mNext[mainHead] as number;
              continue;
            }
            if (r === SEEN) {
              if (!backtrack()) return invalid();
              continue;
            }
          }
          cursor = mNext[cursor] as number;
          continue;
        }
        if (readOnly[i] === 0 && tryOp(i, 0, 0, 0) === LIFTED) {
          if (okLeft === 0) return { valid: true, states };
          if (states > maxStates) return { valid: 'unknown', states, reason: 'states' };
          okPass = 1;
          cursor = mNext[mainHead] as number;
        } else {
          cursor = mNext[cursor] as number;
        }
        continue;
      }
      if (okPass === 1) {
        okPass = 2;
        cursor = mNext[mainHead] as number;
        continue;
      }
      // Reached the first pending return: now the info candidates invoked before it.
      blocked = cursor >>> 1;
      firstReturn = returnPos[blocked] as number;
      phaseInfo = true;
      infoPass = 1;
      cursor = iNext[iHead] as number;
      continue;
    }
    if (cursor !== iHead && (invokePos[cursor] as number) < firstReturn) {
      if ((infoPass === 1) !== enables(cursor)) {
        cursor = iNext[cursor] as number;
        continue;
      }
      if (tryOp(cursor, firstReturn, blocked, infoPass) === LIFTED) {
        if (states > maxStates) return { valid: 'unknown', states, reason: 'states' };
        phaseInfo = false;
        okPass = 1;
        cursor = mNext[mainHead] as number;
      } else {
        cursor = iNext[cursor] as number;
      }
      continue;
    }
    if (infoPass === 1 && iNext[iHead] !== iHead) {
      infoPass = 2;
      cursor = iNext[iHead] as number;
      continue;
    }
    // Blocked: the op owning the first pending return cannot be placed after this prefix.
    recordBlock(blocked);
    if (!backtrack()) return invalid();
  }
}

const NOT_ALLOWED = 0;
const LIFTED = 1;
const SEEN = 2;
/** Stack-frame pass value marking a forced read (never backtracked over). */
const FORCED = 3;

function link(order: readonly number[], head: number, next: Int32Array, prev: Int32Array): void {
  let last = head;
  for (const e of order) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  next[last] = head;
  prev[head] = last;
}

function unlinkOne(e: number, next: Int32Array, prev: Int32Array): void {
  const p = prev[e] as number;
  const nx = next[e] as number;
  next[p] = nx;
  prev[nx] = p;
}

/** Dancing links: valid because entries are restored in exactly the reverse order of removal. */
function relinkOne(e: number, next: Int32Array, prev: Int32Array): void {
  next[prev[e] as number] = e;
  prev[next[e] as number] = e;
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}
