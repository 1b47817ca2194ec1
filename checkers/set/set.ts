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
  readonly ids: ReadonlySet<string>;
}

interface ElementState {
  value: unknown;
  adds: CompletedOp[];
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

/** Canonical identity of an element (JSON text), so 1 and "1" differ and arrays compare by value. */
function elementId(v: unknown): string {
  return JSON.stringify(v) ?? 'undefined';
}

function checkOneSet(key: SetKey, ops: readonly CompletedOp[], addF: string, options: SetOptions): { result: SetKeyResult; stableLatencies: number[]; lostLatencies: number[] } {
  const maxListed = options.maxListed ?? 50;
  const elements = new Map<string, ElementState>();
  const reads: Read[] = [];
  const duplicatedElements: { element: unknown; read: number; times: number }[] = [];
  let duplicated = 0;

  for (const op of ops) {
    if (op.f === addF) {
      const id = elementId(op.invokeValue);
      let st = elements.get(id);
      if (st === undefined) elements.set(id, (st = { value: op.invokeValue, adds: [] }));
      st.adds.push(op);
      continue;
    }
    if (op.type !== 'ok') continue;
    if (!Array.isArray(op.value)) throw new Error(`op ${op.completeIndex ?? op.invokeIndex}: ok read of set ${JSON.stringify(key)} must return an array of elements, got ${JSON.stringify(op.value)}`);
    const ids = new Set<string>();
    const times = new Map<string, number>();
    for (const v of op.value as unknown[]) {
      const id = elementId(v);
      if (ids.has(id)) times.set(id, (times.get(id) ?? 1) + 1);
      ids.add(id);
      if (!elements.has(id)) elements.set(id, { value: v, adds: [] });
    }
    for (const [id, n] of times) {
      duplicated += 1;
      if (duplicatedElements.length < maxListed) duplicatedElements.push({ element: elements.get(id)!.value, read: op.invokeIndex, times: n });
    }
    reads.push({ start: op.start, end: op.end, invokeIndex: op.invokeIndex, ids });
  }
  reads.sort((a, b) => a.start - b.start || a.invokeIndex - b.invokeIndex);

  let attempted = 0;
  let acknowledged = 0;
  let stableCount = 0;
  let neverRead = 0;
  let unexpected = 0;
  let failedPresent = 0;
  const lostElements: LostElement[] = [];
  const staleElements: StaleElement[] = [];
  const unexpectedElements: { element: unknown; firstRead: number }[] = [];
  const failedPresentElements: { element: unknown; firstRead: number }[] = [];
  const recoveredElements: unknown[] = [];
  const unrecoveredElements: unknown[] = [];
  let recovered = 0;
  let unrecovered = 0;
  let lost = 0;
  let stale = 0;
  const stableLatencies: number[] = [];
  const lostLatencies: number[] = [];

  for (const [id, st] of elements) {
    const attemptedHere = st.adds.length > 0;
    const acked = st.adds.some((a) => a.type === 'ok');
    const onlyFailed = attemptedHere && st.adds.every((a) => a.type === 'fail');
    if (attemptedHere) attempted += 1;
    if (acked) acknowledged += 1;

    let firstSeen: Read | null = null;
    for (const r of reads) if (r.ids.has(id) && (firstSeen === null || r.end < firstSeen.end)) firstSeen = r;

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

    const ackTime = Math.min(...st.adds.filter((a) => a.type === 'ok').map((a) => a.end));
    const known = Math.min(ackTime, firstSeen?.end ?? Number.POSITIVE_INFINITY);
    if (!Number.isFinite(known)) {
      // Only info adds, never seen: it may never have happened.
      unrecovered += 1;
      if (unrecoveredElements.length < maxListed) unrecoveredElements.push(st.value);
      continue;
    }

    let lastPresent: Read | null = null;
    let lastAbsent: Read | null = null;
    for (const r of reads) {
      if (r.ids.has(id)) lastPresent = r;
      else if (r.start > known) lastAbsent = r;
    }
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
