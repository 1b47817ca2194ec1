/**
 * Lost commits, as Jepsen's `set-full` checker: clients add unique elements to a set and
 * read the whole set. Every acknowledged add must show up in every read that begins after
 * it is known, from then on; an element once seen must never vanish; nothing may appear that
 * nobody added. `info` adds may or may not have happened: they are recovered if seen.
 *
 * Per element (Jepsen's timeline): it is *known* from the earlier of its add's `ok` and the
 * completion of the first read that saw it. Reads that begin after that must contain it.
 * It is *stable* if the last read that saw it began after the last read (begun after known)
 * that missed it; *lost* if it was known and the latest such read missed it; *never read*
 * if no read began after it was known.
 */
import type { CheckInput, CheckResult, Checker, Validity } from '../checker.ts';
import { pairOps } from '../history/pair.ts';
import type { CompletedOp } from '../history/types.ts';

export interface SetOptions {
  /** Operation names (default `add` and `read`). */
  readonly addF?: string;
  readonly readF?: string;
  /**
   * Stale elements (missing from a read that began after they were known, present again
   * later) make the history invalid, as Jepsen's `:linearizable? true`. Default false.
   */
  readonly linearizable?: boolean;
  /** How many elements of each outcome to list per set (default 50; counts cover all). */
  readonly maxListed?: number;
}

export type SetKey = string | number | null;

export interface Quantiles {
  readonly count: number;
  readonly min: number | null;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export interface LostElement {
  readonly element: unknown;
  readonly acknowledged: boolean;
  readonly knownTime: number;
  /** invokeIndex of the latest read that saw it (null: acknowledged but never seen). */
  readonly lastPresentRead: number | null;
  /** invokeIndex of the latest read, begun after it was known, that missed it. */
  readonly lastAbsentRead: number;
  readonly lostLatencyMs: number;
}

export interface StaleElement {
  readonly element: unknown;
  readonly knownTime: number;
  readonly lastAbsentRead: number;
  readonly stableLatencyMs: number;
}

export interface SetCounts {
  /** Distinct elements with at least one add invocation. */
  readonly attempted: number;
  /** ...of which at least one add was `ok`. */
  readonly acknowledged: number;
  /** Known (acknowledged or seen), then missing from the latest read begun after that: invalid. */
  readonly lost: number;
  /** Only `info` adds, and present in the end (stable). */
  readonly recovered: number;
  /** Only `info` adds, and never seen: may never have happened. */
  readonly unrecovered: number;
  /** Present in a read but never attempted: corruption, invalid. */
  readonly unexpected: number;
  /** Every add `fail`ed (definitely did not happen), yet present in a read: invalid. */
  readonly failedPresent: number;
  /** Appeared twice in one read: invalid. */
  readonly duplicated: number;
  /** Stable, but missing from some read begun after it was known. */
  readonly stale: number;
  readonly stable: number;
  /** Known, but no read began after that. */
  readonly neverRead: number;
  readonly reads: number;
}

export interface SetKeyResult extends SetCounts {
  readonly key: SetKey;
  readonly lostElements: readonly LostElement[];
  readonly unexpectedElements: readonly { readonly element: unknown; readonly firstRead: number }[];
  readonly failedPresentElements: readonly { readonly element: unknown; readonly firstRead: number }[];
  readonly duplicatedElements: readonly { readonly element: unknown; readonly read: number; readonly times: number }[];
  readonly recoveredElements: readonly unknown[];
  readonly unrecoveredElements: readonly unknown[];
  readonly staleElements: readonly StaleElement[];
  readonly stableLatencyMs: Quantiles;
  readonly lostLatencyMs: Quantiles;
}

export interface SetResult extends CheckResult, SetCounts {
  readonly checker: 'set';
  readonly sets: readonly SetKeyResult[];
  readonly stableLatencyMs: Quantiles;
  readonly lostLatencyMs: Quantiles;
}

interface Read {
  readonly start: number;
  readonly end: number;
  readonly invokeIndex: number;
  readonly completeIndex: number | null;
  readonly elements: readonly unknown[];
}

/** Per element, indexed by its interned id. */
interface ElementState {
  readonly value: unknown;
  readonly adds: CompletedOp[];
  /** The read (ok) that completed first with it. */
  firstSeen: Read | null;
  /** Position (in reads sorted by start) of the latest read with it, and where the run of consecutive reads with it that ends there began. */
  lastPos: number;
  runStart: number;
}

const MS = 1e6;
const COUNT_NAMES = ['attempted', 'acknowledged', 'lost', 'recovered', 'unrecovered', 'unexpected', 'failedPresent', 'duplicated', 'stale', 'stable', 'neverRead', 'reads'] as const;

export function checkSet(input: CheckInput, options: SetOptions = {}): SetResult {
  const addF = options.addF ?? 'add';
  const readF = options.readF ?? 'read';
  const bySet = new Map<SetKey, CompletedOp[]>();
  for (const op of pairOps(input.history)) {
    if (op.f !== addF && op.f !== readF) continue;
    const key = op.key ?? null;
    let list = bySet.get(key);
    if (list === undefined) bySet.set(key, (list = []));
    list.push(op);
  }
  const checked = [...bySet].sort((a, b) => String(a[0]).localeCompare(String(b[0]))).map(([key, ops]) => checkOneSet(key, ops, addF, options));
  const sets = checked.map((c) => c.result);

  const totals = Object.fromEntries(COUNT_NAMES.map((n) => [n, sets.reduce((s, r) => s + r[n], 0)])) as unknown as SetCounts;
  const stableLatencies = checked.flatMap((c) => c.stableLatencies);
  const lostLatencies = checked.flatMap((c) => c.lostLatencies);

  const linearizable = options.linearizable ?? false;
  const bad = totals.lost + totals.unexpected + totals.failedPresent + totals.duplicated + (linearizable ? totals.stale : 0);
  const valid: Validity = bad > 0 ? false : totals.reads === 0 ? 'unknown' : true;

  const parts: string[] = [];
  if (totals.reads === 0) parts.push('no successful reads');
  for (const n of ['lost', 'unexpected', 'failedPresent', 'duplicated'] as const) if (totals[n] > 0) parts.push(`${totals[n]} ${n === 'failedPresent' ? 'failed adds present' : n}`);
  if (linearizable && totals.stale > 0) parts.push(`${totals.stale} stale`);
  const firstLost = sets.find((s) => s.lostElements.length > 0)?.lostElements[0];
  if (firstLost !== undefined) parts.push(`e.g. ${JSON.stringify(firstLost.element)} lost`);
  const figures = `${totals.acknowledged}/${totals.attempted} acknowledged, ${totals.recovered} recovered, ${totals.stale} stale, ${totals.reads} reads`;
  const summary = bad === 0 && totals.reads > 0 ? `no lost or unexpected elements: ${figures}` : `${parts.join(', ')} (${figures})`;

  return { checker: 'set', valid, summary, ...totals, sets, stableLatencyMs: quantiles(stableLatencies), lostLatencyMs: quantiles(lostLatencies) };
}

export class SetChecker implements Checker {
  readonly name = 'set';
  constructor(private readonly options: SetOptions = {}) {}
  check(input: CheckInput): SetResult {
    return checkSet(input, this.options);
  }
}

/**
 * Interns elements to small integers: primitives by value (so 1 and "1" differ), anything
 * else by its JSON text. Reads of big sets repeat every element, so this is the hot path.
 */
class Interner {
  private readonly primitives = new Map<unknown, number>();
  private readonly others = new Map<string, number>();
  /** Fast path for the usual elements, small non-negative integers: id + 1, 0 for none. */
  private smallInts = new Int32Array(1024);
  readonly states: ElementState[] = [];
  id(v: unknown): number {
    if (typeof v === 'number' && v >= 0 && v < 1 << 24 && Number.isInteger(v)) {
      if (v >= this.smallInts.length) {
        const grown = new Int32Array(Math.max(v + 1, this.smallInts.length * 2));
        grown.set(this.smallInts);
        this.smallInts = grown;
      }
      const known = this.smallInts[v]!;
      if (known !== 0) return known - 1;
      const id = this.add(v);
      this.smallInts[v] = id + 1;
      return id;
    }
    const primitive = v === null || typeof v !== 'object';
    const map = primitive ? this.primitives : this.others;
    const k = primitive ? v : JSON.stringify(v);
    let id = (map as Map<unknown, number>).get(k);
    if (id === undefined) {
      id = this.add(v);
      (map as Map<unknown, number>).set(k, id);
    }
    return id;
  }
  private add(v: unknown): number {
    this.states.push({ value: v, adds: [], firstSeen: null, lastPos: -1, runStart: -1 });
    return this.states.length - 1;
  }
}

function checkOneSet(key: SetKey, ops: readonly CompletedOp[], addF: string, options: SetOptions): { result: SetKeyResult; stableLatencies: number[]; lostLatencies: number[] } {
  const maxListed = options.maxListed ?? 50;
  const interner = new Interner();
  const reads: Read[] = [];
  for (const op of ops) {
    if (op.f === addF) {
      interner.states[interner.id(op.invokeValue)]!.adds.push(op);
      continue;
    }
    if (op.type !== 'ok') continue;
    if (!Array.isArray(op.value)) throw new Error(`op ${op.completeIndex ?? op.invokeIndex}: ok read of set ${JSON.stringify(key)} must return an array of elements, got ${JSON.stringify(op.value)}`);
    reads.push({ start: op.start, end: op.end, invokeIndex: op.invokeIndex, completeIndex: op.completeIndex, elements: op.value as unknown[] });
  }
  reads.sort((a, b) => a.start - b.start || a.invokeIndex - b.invokeIndex);

  // One pass over every read's contents, in order of the reads' starts: per element, the
  // first read to complete with it, the latest read with it and the run of consecutive
  // reads ending there. The latest read (begun after it was known) that missed it is then
  // either the last read or the one just before that run: O(1) per element afterwards.
  const duplicatedElements: { element: unknown; read: number; times: number }[] = [];
  let duplicated = 0;
  reads.forEach((r, pos) => {
    let dupes: Map<number, number> | null = null;
    for (const v of r.elements) {
      const st = interner.states[interner.id(v)]!;
      if (st.lastPos === pos) {
        dupes ??= new Map<number, number>();
        const id = interner.id(v);
        dupes.set(id, (dupes.get(id) ?? 1) + 1);
        continue;
      }
      if (st.lastPos < 0 || st.lastPos !== pos - 1) st.runStart = pos;
      st.lastPos = pos;
      if (st.firstSeen === null || r.end < st.firstSeen.end) st.firstSeen = r;
    }
    for (const [id, times] of dupes ?? []) {
      duplicated += 1;
      if (duplicatedElements.length < maxListed) duplicatedElements.push({ element: interner.states[id]!.value, read: r.invokeIndex, times });
    }
  });

  let attempted = 0;
  let acknowledged = 0;
  let stableCount = 0;
  let neverRead = 0;
  let unexpected = 0;
  let failedPresent = 0;
  let recovered = 0;
  let unrecovered = 0;
  let lost = 0;
  let stale = 0;
  const lostElements: LostElement[] = [];
  const staleElements: StaleElement[] = [];
  const unexpectedElements: { element: unknown; firstRead: number }[] = [];
  const failedPresentElements: { element: unknown; firstRead: number }[] = [];
  const recoveredElements: unknown[] = [];
  const unrecoveredElements: unknown[] = [];
  const stableLatencies: number[] = [];
  const lostLatencies: number[] = [];

  for (const st of interner.states) {
    const attemptedHere = st.adds.length > 0;
    let ackTime = Number.POSITIVE_INFINITY;
    let onlyFailed = attemptedHere;
    for (const a of st.adds) {
      if (a.type === 'ok') ackTime = Math.min(ackTime, a.end);
      if (a.type !== 'fail') onlyFailed = false;
    }
    const acked = Number.isFinite(ackTime);
    if (attemptedHere) attempted += 1;
    if (acked) acknowledged += 1;
    const firstSeen = st.firstSeen;

    if (!attemptedHere) {
      unexpected += 1;
      if (unexpectedElements.length < maxListed) unexpectedElements.push({ element: st.value, firstRead: firstSeen!.invokeIndex });
      continue;
    }
    if (onlyFailed) {
      if (firstSeen !== null) {
        failedPresent += 1;
        if (failedPresentElements.length < maxListed) failedPresentElements.push({ element: st.value, firstRead: firstSeen.invokeIndex });
      }
      continue;
    }
    const known = Math.min(ackTime, firstSeen?.end ?? Number.POSITIVE_INFINITY);
    if (!Number.isFinite(known)) {
      // Only info adds, never seen: it may never have happened.
      unrecovered += 1;
      if (unrecoveredElements.length < maxListed) unrecoveredElements.push(st.value);
      continue;
    }

    const lastPresent = st.lastPos >= 0 ? reads[st.lastPos]! : null;
    const missedPos = st.lastPos === reads.length - 1 ? st.runStart - 1 : reads.length - 1;
    const lastAbsent = missedPos >= 0 && reads[missedPos]!.start > known ? reads[missedPos]! : null;
    const isStable = lastPresent !== null && (lastAbsent === null || lastAbsent.start < lastPresent.start);
    if (isStable) {
      stableCount += 1;
      const latency = Math.max(0, (lastAbsent === null ? known : lastAbsent.start) - known) / MS;
      stableLatencies.push(latency);
      if (!acked) {
        recovered += 1;
        if (recoveredElements.length < maxListed) recoveredElements.push(st.value);
      }
      if (lastAbsent !== null) {
        stale += 1;
        if (staleElements.length < maxListed) staleElements.push({ element: st.value, knownTime: known, lastAbsentRead: lastAbsent.invokeIndex, stableLatencyMs: latency });
      }
    } else if (lastAbsent !== null) {
      lost += 1;
      const latency = Math.max(0, (lastPresent === null ? known : lastPresent.start) - known) / MS;
      lostLatencies.push(latency);
      if (lostElements.length < maxListed) {
        lostElements.push({ element: st.value, acknowledged: acked, knownTime: known, lastPresentRead: lastPresent?.invokeIndex ?? null, lastAbsentRead: lastAbsent.invokeIndex, lostLatencyMs: latency });
      }
    } else {
      neverRead += 1;
    }
  }

  const result: SetKeyResult = {
    key,
    attempted,
    acknowledged,
    lost,
    recovered,
    unrecovered,
    unexpected,
    failedPresent,
    duplicated,
    stale,
    stable: stableCount,
    neverRead,
    reads: reads.length,
    lostElements,
    unexpectedElements,
    failedPresentElements,
    duplicatedElements,
    recoveredElements,
    unrecoveredElements,
    staleElements,
    stableLatencyMs: quantiles(stableLatencies),
    lostLatencyMs: quantiles(lostLatencies),
  };
  return { result, stableLatencies, lostLatencies };
}

export function quantiles(xs: readonly number[]): Quantiles {
  if (xs.length === 0) return { count: 0, min: null, p50: null, p95: null, p99: null, max: null };
  const s = [...xs].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least q of the sample at or below it.
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { count: s.length, min: s[0]!, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: s[s.length - 1]! };
}
