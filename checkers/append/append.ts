/**
 * Elle's list-append analysis (Kingsbury and Alvaro, "Elle: Inferring Isolation Anomalies
 * from Experimental Observations", VLDB 2020; jepsen-io/elle, list_append.clj), written anew.
 *
 * Transactions append unique elements to lists and read whole lists. Because every read
 * returns the whole list, each read reveals a prefix of its key's version order; the
 * longest read of a key gives the order of every element anyone saw. From that order:
 *
 * - ww: T1 -> T2 when T2 appended the element right after T1's (an append nobody read
 *   comes after every element anyone read);
 * - wr: T1 -> T2 when T2 read a list whose last element T1 appended;
 * - rw: T1 -> T2 when T1 read a state and T2 appended the element right after it;
 * - rt (strict serializability only): T1 -> T2 when T1 completed before T2 was invoked.
 *
 * A cycle in these edges is an anomaly (cycles.ts names it). Besides cycles, the checker
 * reports what needs no graph: reads of failed appends (G1a), of another transaction's
 * intermediate state (G1b), reads that no single order explains (incompatible-order),
 * repeated elements, reads of elements nobody appended (garbage-read), transactions that
 * contradict themselves (internal, future-read), two committed transactions that read the
 * same state of a key and both appended to it (lost-update), and acknowledged appends that
 * no later read saw (lost-append).
 *
 * History shape: `f: "txn"`, value a list of micro-ops `["append", k, v]` and `["r", k, l]`;
 * an `ok` completion carries every read's list (null or [] for an empty key). `fail`
 * transactions did not happen; `info` ones may have (their appends count where seen, their
 * reads are unknown). Keys are strings or numbers; appended values must be unique per key.
 *
 * The core is pure: no I/O. Time is read only to honour `budgetMs` (through `now`).
 */
import type { CheckInput, CheckResult, Checker, Validity } from '../checker.ts';
import type { Op, Process } from '../history/types.ts';
import { searchScc, type FoundCycle, type SearchContext } from './cycles.ts';
import { addRealtimeChain, ALL, DATA, EdgeBuilder, PathFinder, releaseScratch, RW, stronglyConnected, WR, WW, type EdgeKind, type Work } from './graph.ts';

export type Consistency = 'strict-serializable' | 'serializable';
export const CONSISTENCIES: readonly Consistency[] = ['strict-serializable', 'serializable'];

export type AppendKey = string | number;
export type Element = number | string;
export type MicroOp = readonly ['append', AppendKey, Element] | readonly ['r', AppendKey, readonly Element[] | null];

export interface AppendOptions {
  /** What the store promises. Default strict-serializable (real-time order counts). */
  readonly consistency?: Consistency;
  /** Wall-clock budget; when it runs out before a verdict, the verdict is `unknown`. */
  readonly budgetMs?: number;
  /** How many anomalies of each type to describe in full (all are counted). Default 10. */
  readonly maxAnomaliesListed?: number;
  /** Memory budget: the most dependency edges to build (about 20 bytes each). Default 50,000,000. */
  readonly maxEdges?: number;
  /** Search steps (edges looked at) one component's hardest search may take. Default 20,000,000. */
  readonly maxSearchStepsPerComponent?: number;
  /** The clock the budget is measured with, in ms (tests inject one). Default performance.now. */
  readonly now?: () => number;
}

/** A transaction as the report shows it. `index` is its completion's index (its invocation's if it never completed). */
export interface TxnRef {
  readonly index: number;
  readonly invokeIndex: number;
  readonly completeIndex: number | null;
  readonly process: Process;
  readonly type: 'ok' | 'info' | 'fail';
  readonly value: readonly MicroOp[];
}

export interface CycleStep {
  /** Positions in the anomaly's `txns`. */
  readonly from: number;
  readonly to: number;
  readonly kind: EdgeKind;
  readonly key?: AppendKey;
  /** One line: why `from` precedes `to`. */
  readonly explanation: string;
}

export interface CycleAnomaly {
  readonly type: string;
  /** T1, T2, ... in cycle order. */
  readonly txns: readonly TxnRef[];
  readonly steps: readonly CycleStep[];
  /** How many transactions the strongly connected component holding the cycle has. */
  readonly componentSize: number;
  readonly explanation: string;
}

export interface OpAnomaly {
  readonly type: string;
  /** The transactions involved, the one that observed the anomaly first. */
  readonly txns: readonly TxnRef[];
  readonly key?: AppendKey;
  readonly element?: Element;
  /** The micro-op that shows it, when there is one. */
  readonly mop?: MicroOp;
  readonly explanation: string;
  readonly [detail: string]: unknown;
}

export type AppendAnomaly = CycleAnomaly | OpAnomaly;

export function isCycleAnomaly(a: AppendAnomaly): a is CycleAnomaly {
  return Array.isArray((a as CycleAnomaly).steps);
}

export interface AppendResult extends CheckResult {
  readonly checker: 'append';
  readonly consistency: Consistency;
  readonly txns: number;
  readonly microOps: number;
  readonly keys: number;
  /** Every anomaly type found, most severe first. */
  readonly anomalyTypes: readonly string[];
  /** The ones the consistency model forbids (any makes the history invalid). */
  readonly forbiddenTypes: readonly string[];
  readonly anomalyCounts: Readonly<Record<string, number>>;
  /** Up to `maxAnomaliesListed` of each type, each with the operations that prove it. */
  readonly anomalies: Readonly<Record<string, readonly AppendAnomaly[]>>;
  readonly edges: number;
  readonly components: { readonly count: number; readonly largest: number };
  /** Why the verdict is unknown, when it is. */
  readonly unknownReason?: string;
  /** Searches the step budget cut short (the anomalies found still stand). */
  readonly searchCutShort?: readonly string[];
  readonly ms: number;
  readonly timings: { readonly read: number; readonly infer: number; readonly graph: number; readonly cycles: number };
}

/** Cycle anomalies, most severe first (Elle's order); the `-realtime` variants follow their base. */
const CYCLE_TYPES = ['G0', 'G1c', 'G-single', 'G-nonadjacent', 'G2-item'];
const SERIALIZABLE_FORBIDS = ['duplicate-elements', 'garbage-read', 'incompatible-order', 'internal', 'future-read', 'G1a', 'G1b', ...CYCLE_TYPES, 'lost-update'];
const STRICT_ONLY = [...CYCLE_TYPES.map((t) => `${t}-realtime`), 'lost-append'];
/** Report order. */
export const ANOMALY_TYPES: readonly string[] = [...SERIALIZABLE_FORBIDS.slice(0, 7), ...CYCLE_TYPES.flatMap((t) => [t, `${t}-realtime`]), 'lost-update', 'lost-append'];

/** The anomaly types a consistency model forbids. */
export function forbiddenBy(consistency: Consistency): ReadonlySet<string> {
  return new Set(consistency === 'serializable' ? SERIALIZABLE_FORBIDS : [...SERIALIZABLE_FORBIDS, ...STRICT_ONLY]);
}

class BudgetSpent extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** Bad input: not a list-append history. The message names the op index. */
export class AppendInputError extends Error {}

interface Txn {
  readonly id: number;
  type: 'ok' | 'info' | 'fail';
  readonly process: Process;
  readonly invokeIndex: number;
  completeIndex: number | null;
  readonly invokeValue: unknown;
  completeValue: unknown;
  mops: readonly MicroOp[];
}

const INIT = Symbol('initial state');

/** Everything known about one key. */
class KeyInfo {
  /** element -> the transaction that appended it (any outcome). */
  readonly writer = new Map<Element, number>();
  /** Elements a transaction appended and then appended after, to the same key. */
  intermediate: Set<Element> | null = null;
  /** Ok reads in invocation order: transaction and micro-op index. */
  readonly readTxn: number[] = [];
  readonly readMop: number[] = [];
  longest = -1;
  longestLength = -1;
  /** The version order: the longest read's elements, first occurrence each. */
  vo: readonly Element[] = [];
  pos = new Map<Element, number>();
  /** Writer of each position of `vo` (-1: nobody appended it). */
  voWriter: Int32Array = new Int32Array(0);
  /** Reads grouped by the position of their last element + 1 (0: read empty): `readersAt[p]..readersAt[p+1]` in `readersOrder`. */
  readersAt: Int32Array = new Int32Array(1);
  readersOrder: Int32Array = new Int32Array(0);
  /** Per read: does it agree with `vo`? Its length, for lost-append. */
  compatible: Uint8Array = new Uint8Array(0);
  /** Longest compatible read length among reads i.. (suffix maximum), for lost-append. */
  suffixMaxLength: Int32Array = new Int32Array(0);
  constructor(readonly key: AppendKey) {}
}

/** Counts every anomaly and keeps the first few of each type. */
class Anomalies {
  readonly counts = new Map<string, number>();
  readonly listed = new Map<string, AppendAnomaly[]>();
  constructor(private readonly max: number) {}
  add(type: string, build: () => AppendAnomaly): void {
    const n = (this.counts.get(type) ?? 0) + 1;
    this.counts.set(type, n);
    if (n <= this.max) {
      let l = this.listed.get(type);
      if (l === undefined) this.listed.set(type, (l = []));
      l.push(build());
    }
  }
}

export function checkAppend(history: readonly Op[], options: AppendOptions = {}): AppendResult {
  return new Analysis(history, options).run();
}

/** The append checker behind the common `Checker` interface. */
export class AppendChecker implements Checker {
  readonly name = 'append';
  constructor(private readonly options: AppendOptions = {}) {}
  check(input: CheckInput): AppendResult {
    return checkAppend(input.history, this.options);
  }
}

class Analysis {
  private readonly consistency: Consistency;
  private readonly realtime: boolean;
  private readonly now: () => number;
  private readonly deadline: number;
  private readonly maxEdges: number;
  private readonly anomalies: Anomalies;
  private readonly t0: number;
  private txns: Txn[] = [];
  /** Client events in history order: txn id for an invocation, ~id for a completion. */
  private events: Int32Array = new Int32Array(0);
  private readonly keys = new Map<AppendKey, KeyInfo>();
  private microOps = 0;
  private readonly edges = new EdgeBuilder();
  private timeNodes = 0;
  private edgeCount = 0;
  private components = { count: 0, largest: 0 };
  private cutShort: string[] = [];
  private timings = { read: 0, infer: 0, graph: 0, cycles: 0 };
  private checkpoints = 0;

  constructor(
    private readonly history: readonly Op[],
    private readonly options: AppendOptions,
  ) {
    this.consistency = options.consistency ?? 'strict-serializable';
    this.realtime = this.consistency === 'strict-serializable';
    this.now = options.now ?? (() => performance.now());
    this.t0 = this.now();
    this.deadline = options.budgetMs === undefined ? Number.POSITIVE_INFINITY : this.t0 + options.budgetMs;
    this.maxEdges = options.maxEdges ?? 50_000_000;
    this.anomalies = new Anomalies(options.maxAnomaliesListed ?? 10);
  }

  run(): AppendResult {
    let unknownReason: string | undefined;
    try {
      let t = this.now();
      this.readTxns();
      this.timings.read = this.now() - t;
      const duplicate = this.indexWrites();
      if (duplicate !== null) return this.finish(duplicate);
      if (!this.txns.some((x) => x.type === 'ok')) return this.finish('the history has no committed (ok) transactions to check');
      t = this.now();
      this.perTxnChecks();
      this.inferVersionOrders();
      this.timings.infer = this.now() - t;
      t = this.now();
      this.writeEdges();
      if (this.realtime) this.realtimeEdges();
      this.timings.graph = this.now() - t;
      t = this.now();
      this.findCycles();
      this.timings.cycles = this.now() - t;
    } catch (e) {
      if (!(e instanceof BudgetSpent)) throw e;
      unknownReason = e.reason;
    } finally {
      releaseScratch();
    }
    return this.finish(unknownReason);
  }

  private checkpoint(where: string): void {
    if ((++this.checkpoints & 0x3ff) !== 0) return;
    if (this.now() > this.deadline) throw new BudgetSpent(`the time budget (${this.options.budgetMs} ms) ran out while ${where}`);
    if (this.edges.length > this.maxEdges) throw new BudgetSpent(`the memory budget (${this.maxEdges} edges) ran out while ${where}`);
  }

  // ---- reading -------------------------------------------------------------------------

  private readTxns(): void {
    const open = new Map<Process, number>();
    const events: number[] = [];
    for (const op of this.history) {
      if (op.process === 'nemesis') continue;
      if (op.f !== 'txn') throw new AppendInputError(`op index ${op.index}: f "${op.f}" is not a list-append transaction (f "txn")`);
      if (op.type === 'invoke') {
        const prior = open.get(op.process);
        if (prior !== undefined) throw new AppendInputError(`op index ${op.index}: process ${op.process} invokes while its transaction from index ${this.txns[prior]!.invokeIndex} is still open`);
        const id = this.txns.length;
        this.txns.push({ id, type: 'info', process: op.process, invokeIndex: op.index, completeIndex: null, invokeValue: op.value, completeValue: undefined, mops: [] });
        open.set(op.process, id);
        events.push(id);
      } else {
        const id = open.get(op.process);
        if (id === undefined) throw new AppendInputError(`op index ${op.index}: process ${op.process} completes (${op.type}) a transaction it never invoked`);
        open.delete(op.process);
        const t = this.txns[id]!;
        t.type = op.type;
        t.completeIndex = op.index;
        t.completeValue = op.value;
        events.push(~id);
      }
      this.checkpoint('reading the history');
    }
    this.events = Int32Array.from(events);
    for (const t of this.txns) {
      // An ok completion carries the reads; fail and info keep what was asked for.
      const ok = t.type === 'ok';
      t.mops = microOps(ok ? t.completeValue : t.invokeValue, ok ? (t.completeIndex as number) : t.invokeIndex, ok);
      t.completeValue = undefined;
      this.microOps += t.mops.length;
    }
  }

  private keyInfo(k: AppendKey): KeyInfo {
    let ki = this.keys.get(k);
    if (ki === undefined) this.keys.set(k, (ki = new KeyInfo(k)));
    return ki;
  }

  /** Who appended what; ok reads per key. Returns why the history cannot be checked, or null. */
  private indexWrites(): string | null {
    for (const t of this.txns) {
      const mops = t.mops;
      for (let i = 0; i < mops.length; i++) {
        const m = mops[i]!;
        const ki = this.keyInfo(m[1]);
        if (m[0] === 'append') {
          const prior = ki.writer.get(m[2]);
          if (prior !== undefined) {
            const p = this.txns[prior]!;
            return `duplicate-appends: ${show(m[2])} was appended to key ${show(m[1])} by the transaction at index ${idx(p)} and again by the one at index ${idx(t)}; the analysis needs every appended value to be unique per key`;
          }
          ki.writer.set(m[2], t.id);
          // An earlier append by this transaction to the same key is intermediate.
          for (let j = i + 1; j < mops.length; j++) {
            const later = mops[j]!;
            if (later[0] === 'append' && later[1] === m[1]) {
              (ki.intermediate ??= new Set()).add(m[2]);
              break;
            }
          }
        } else if (t.type === 'ok') {
          ki.readTxn.push(t.id);
          ki.readMop.push(i);
          const len = (m[2] ?? EMPTY).length;
          if (len > ki.longestLength) {
            ki.longestLength = len;
            ki.longest = ki.readTxn.length - 1;
          }
        }
      }
      this.checkpoint('indexing appends');
    }
    return null;
  }

  // ---- anomalies within one transaction --------------------------------------------------

  private perTxnChecks(): void {
    const lostUpdate = new Map<AppendKey, Map<Element | typeof INIT, number[]>>();
    for (const t of this.txns) {
      if (t.type !== 'ok' || t.mops.length < 2) continue;
      this.internal(t);
      // Lost update: the first read of a key, then an append to it.
      const firstRead = new Map<AppendKey, readonly Element[]>();
      const appended = new Set<AppendKey>();
      for (const m of t.mops) {
        if (m[0] === 'r') {
          if (!firstRead.has(m[1]) && !appended.has(m[1])) firstRead.set(m[1], m[2] ?? EMPTY);
        } else if (!appended.has(m[1])) {
          appended.add(m[1]);
          const read = firstRead.get(m[1]);
          if (read !== undefined) {
            let byState = lostUpdate.get(m[1]);
            if (byState === undefined) lostUpdate.set(m[1], (byState = new Map<Element | typeof INIT, number[]>()));
            const state = read.length === 0 ? INIT : read[read.length - 1]!;
            let list = byState.get(state);
            if (list === undefined) byState.set(state, (list = []));
            list.push(t.id);
          }
        }
      }
      this.checkpoint('checking transactions');
    }
    for (const [key, byState] of lostUpdate) {
      for (const [state, ids] of byState) {
        if (ids.length < 2) continue;
        const txns = ids.map((i) => this.txns[i]!);
        this.anomalies.add('lost-update', () => ({
          type: 'lost-update',
          txns: txns.map(ref),
          key,
          ...(state === INIT ? {} : { element: state }),
          explanation: `${txns.length} committed transactions (${txns.map((x) => `index ${idx(x)}`).join(', ')}) read key ${show(key)} ${state === INIT ? 'empty' : `ending in ${show(state)}`} and then appended to it: each overwrote a state another had already moved past, which no serial order allows`,
        }));
      }
    }
  }

  /**
   * Elle's internal consistency: a read must show what this transaction itself read and
   * appended before it. Also future-read: a read holding an element this transaction
   * appends only later.
   */
  private internal(t: Txn): void {
    // key -> expected list; `prefixKnown` false: only the tail (our own appends) is known.
    // A read's list is shared until an append needs to extend it.
    let state: Map<AppendKey, { list: readonly Element[]; owned: boolean; prefixKnown: boolean }> | null = null;
    let reads: Map<AppendKey, (readonly ['r', AppendKey, readonly Element[] | null])[]> | null = null;
    for (const m of t.mops) {
      const k = m[1];
      if (m[0] === 'append') {
        state ??= new Map();
        const s = state.get(k);
        if (s === undefined) state.set(k, { list: [m[2]], owned: true, prefixKnown: false });
        else {
          if (!s.owned) {
            s.list = [...s.list];
            s.owned = true;
          }
          (s.list as Element[]).push(m[2]);
        }
        const r = reads?.get(k)?.find((rm) => (rm[2] ?? EMPTY).includes(m[2]));
        if (r !== undefined) {
          this.anomalies.add('future-read', () => ({
            type: 'future-read',
            txns: [ref(t)],
            key: k,
            element: m[2],
            mop: r,
            explanation: `the transaction at index ${idx(t)} read key ${show(k)} = ${showList(r[2] ?? EMPTY)}, which holds ${show(m[2])}, before it appended ${show(m[2])} itself`,
          }));
        }
      } else {
        const v = m[2] ?? EMPTY;
        const s = state?.get(k);
        if (s !== undefined && !(s.prefixKnown ? sameList(v, s.list) : endsWith(v, s.list))) {
          const expected = s.prefixKnown ? [...s.list] : ['...', ...s.list];
          const said = s.prefixKnown ? showList(s.list) : `[…, ${s.list.map(show).join(', ')}]`;
          this.anomalies.add('internal', () => ({
            type: 'internal',
            txns: [ref(t)],
            key: k,
            mop: m,
            expected,
            explanation: `the transaction at index ${idx(t)} read key ${show(k)} = ${showList(v)}, but its own earlier ${s.prefixKnown ? 'read and appends' : 'appends'} say it must be ${said}`,
          }));
        }
        (state ??= new Map()).set(k, { list: v, owned: false, prefixKnown: true });
        reads ??= new Map();
        const rl = reads.get(k);
        if (rl === undefined) reads.set(k, [m]);
        else rl.push(m);
      }
    }
  }

  // ---- version orders and what reads show -----------------------------------------------

  private inferVersionOrders(): void {
    for (const ki of this.keys.values()) {
      const nReads = ki.readTxn.length;
      const longestList = ki.longest < 0 ? EMPTY : this.readList(ki, ki.longest);
      // The version order: the longest read, each element once (duplicates reported below).
      const seen = new Map<Element, number>();
      const vo: Element[] = [];
      let firstRepeat = -1;
      for (let i = 0; i < longestList.length; i++) {
        const e = longestList[i]!;
        if (seen.has(e)) {
          if (firstRepeat < 0) firstRepeat = i;
        } else {
          seen.set(e, vo.length);
          vo.push(e);
        }
      }
      ki.vo = vo;
      ki.pos = seen;
      ki.voWriter = new Int32Array(vo.length);
      const failedAt: number[] = [];
      const garbageAt: number[] = [];
      for (let p = 0; p < vo.length; p++) {
        const w = ki.writer.get(vo[p]!);
        ki.voWriter[p] = w ?? -1;
        if (w === undefined) garbageAt.push(p);
        else if (this.txns[w]!.type === 'fail') failedAt.push(p);
      }
      // Group reads by their last element's position; classify each read.
      ki.compatible = new Uint8Array(nReads);
      const lastPos = new Int32Array(nReads);
      const counts = new Int32Array(vo.length + 2);
      for (let r = 0; r < nReads; r++) {
        const list = this.readList(ki, r);
        const compatible = isPrefix(list, longestList);
        ki.compatible[r] = compatible ? 1 : 0;
        const t = this.txns[ki.readTxn[r]!]!;
        const mop = t.mops[ki.readMop[r]!]!;
        if (compatible) {
          if (firstRepeat >= 0 && list.length > firstRepeat) this.duplicates(t, mop, list);
          for (const p of failedAt) if (p < list.length) this.g1a(t, mop, list, ki, p);
          for (const p of garbageAt) if (p < list.length) this.garbage(t, mop, list, ki.key, vo[p]!);
        } else {
          this.incompatible(ki, r, longestList);
          this.duplicates(t, mop, list);
          for (const e of list) {
            const w = ki.writer.get(e);
            if (w === undefined) this.garbage(t, mop, list, ki.key, e);
            else if (this.txns[w]!.type === 'fail') this.g1a(t, mop, list, ki, -1, e);
          }
        }
        const last = list.length === 0 ? undefined : list[list.length - 1];
        if (last !== undefined && ki.intermediate?.has(last) === true) {
          const w = ki.writer.get(last)!;
          if (w !== t.id) this.g1b(t, mop, list, ki, this.txns[w]!, last);
        }
        const p = last === undefined ? -1 : (ki.pos.get(last) ?? -2);
        lastPos[r] = p;
        if (p >= -1) counts[p + 2]!++;
        this.checkpoint('inferring version orders');
      }
      // Counting sort of reads by last position (+1): readersAt is the row start per state.
      for (let p = 1; p < counts.length; p++) counts[p]! += counts[p - 1]!;
      ki.readersAt = counts.slice(0, vo.length + 2);
      const fill = counts.slice(0, vo.length + 1);
      ki.readersOrder = new Int32Array(counts[vo.length + 1]!);
      for (let r = 0; r < nReads; r++) if (lastPos[r]! >= -1) ki.readersOrder[fill[lastPos[r]! + 1]!++] = r;
      ki.suffixMaxLength = new Int32Array(nReads + 1);
      for (let r = nReads - 1; r >= 0; r--) {
        const len = ki.compatible[r] === 1 ? this.readList(ki, r).length : 0;
        ki.suffixMaxLength[r] = Math.max(len, ki.suffixMaxLength[r + 1]!);
      }
    }
  }

  private readList(ki: KeyInfo, r: number): readonly Element[] {
    const m = this.txns[ki.readTxn[r]!]!.mops[ki.readMop[r]!]!;
    return (m[2] as readonly Element[] | null) ?? EMPTY;
  }

  private duplicates(t: Txn, mop: MicroOp, list: readonly Element[]): void {
    const counts = new Map<Element, number>();
    for (const e of list) counts.set(e, (counts.get(e) ?? 0) + 1);
    const dups = [...counts].filter(([, n]) => n > 1);
    if (dups.length === 0) return;
    this.anomalies.add('duplicate-elements', () => ({
      type: 'duplicate-elements',
      txns: [ref(t)],
      key: mop[1],
      mop,
      duplicates: Object.fromEntries(dups.map(([e, n]) => [String(e), n])),
      explanation: `the transaction at index ${idx(t)} read key ${show(mop[1])} = ${showList(list)}, in which ${dups.map(([e, n]) => `${show(e)} appears ${n} times`).join(', ')}; each value is appended once`,
    }));
  }

  private g1a(t: Txn, mop: MicroOp, list: readonly Element[], ki: KeyInfo, p: number, element?: Element): void {
    const e = element ?? ki.vo[p]!;
    const w = this.txns[ki.writer.get(e)!]!;
    this.anomalies.add('G1a', () => ({
      type: 'G1a',
      txns: [ref(t), ref(w)],
      key: ki.key,
      element: e,
      mop,
      explanation: `aborted read: the transaction at index ${idx(t)} read key ${show(ki.key)} = ${showList(list)}, which holds ${show(e)}, appended by the transaction at index ${idx(w)}, which failed`,
    }));
  }

  private g1b(t: Txn, mop: MicroOp, list: readonly Element[], ki: KeyInfo, w: Txn, e: Element): void {
    const own = w.mops.filter((m) => m[0] === 'append' && m[1] === ki.key).map((m) => m[2] as Element);
    this.anomalies.add('G1b', () => ({
      type: 'G1b',
      txns: [ref(t), ref(w)],
      key: ki.key,
      element: e,
      mop,
      explanation: `intermediate read: the transaction at index ${idx(t)} read key ${show(ki.key)} = ${showList(list)}, ending at ${show(e)}, but the transaction at index ${idx(w)} appended ${own.map(show).join(', ')} to it: ${show(e)} was never its final state`,
    }));
  }

  private garbage(t: Txn, mop: MicroOp, list: readonly Element[], key: AppendKey, e: Element): void {
    this.anomalies.add('garbage-read', () => ({
      type: 'garbage-read',
      txns: [ref(t)],
      key,
      element: e,
      mop,
      explanation: `the transaction at index ${idx(t)} read key ${show(key)} = ${showList(list)}, which holds ${show(e)}, but no transaction ever appended ${show(e)} to it`,
    }));
  }

  private incompatible(ki: KeyInfo, r: number, longest: readonly Element[]): void {
    const list = this.readList(ki, r);
    let at = 0;
    while (at < list.length && at < longest.length && list[at] === longest[at]) at++;
    const t = this.txns[ki.readTxn[r]!]!;
    const l = this.txns[ki.readTxn[ki.longest]!]!;
    this.anomalies.add('incompatible-order', () => ({
      type: 'incompatible-order',
      txns: [ref(t), ref(l)],
      key: ki.key,
      values: [list, longest],
      position: at,
      explanation: `key ${show(ki.key)} was read as ${showList(list)} at index ${idx(t)} and as ${showList(longest)} at index ${idx(l)} (its longest read); they differ at position ${at} (${at < list.length ? show(list[at]!) : 'end'} vs ${at < longest.length ? show(longest[at]!) : 'end'}), so no single order of appends explains both`,
    }));
  }

  // ---- the dependency graph -------------------------------------------------------------

  /** The element just before `e` in the key's version order: its position (-1: the empty list). */
  private prevPos(ki: KeyInfo, e: Element): number {
    const p = ki.pos.get(e);
    return p === undefined ? ki.vo.length - 1 : p - 1;
  }

  private writeEdges(): void {
    for (const ki of this.keys.values()) {
      for (let p = 0; p < ki.vo.length; p++) {
        // wr: every read whose last element is vo[p] depends on its writer.
        const w = ki.voWriter[p]!;
        if (w < 0 || this.txns[w]!.type === 'fail') continue;
        for (let i = ki.readersAt[p + 1]!; i < ki.readersAt[p + 2]!; i++) this.edges.add(w, ki.readTxn[ki.readersOrder[i]!]!, WR);
      }
      // Reads whose last element is not in the version order (incompatible reads).
      for (let r = 0; r < ki.readTxn.length; r++) {
        if (ki.compatible[r] === 1) continue;
        const list = this.readList(ki, r);
        if (list.length === 0 || ki.pos.has(list[list.length - 1]!)) continue;
        const w = ki.writer.get(list[list.length - 1]!);
        if (w !== undefined && this.txns[w]!.type !== 'fail') this.edges.add(w, ki.readTxn[r]!, WR);
      }
      this.checkpoint('building write-read edges');
    }
    for (const t of this.txns) {
      if (t.type === 'fail') continue;
      for (const m of t.mops) {
        if (m[0] !== 'append') continue;
        const ki = this.keys.get(m[1])!;
        const prev = this.prevPos(ki, m[2]);
        if (prev >= 0) {
          const w = ki.voWriter[prev]!;
          if (w >= 0 && this.txns[w]!.type !== 'fail') this.edges.add(w, t.id, WW);
        }
        for (let i = ki.readersAt[prev + 1]!; i < ki.readersAt[prev + 2]!; i++) this.edges.add(ki.readTxn[ki.readersOrder[i]!]!, t.id, RW);
        if (t.type === 'ok') this.lostAppend(t, ki, m[2]);
      }
      this.checkpoint('building write-write and read-write edges');
    }
  }

  /**
   * An acknowledged append that no read begun after its acknowledgement saw, while such a
   * read exists. (Reads are in invocation order, so the first read begun after the
   * acknowledgement is found by binary search.)
   */
  private lostAppend(t: Txn, ki: KeyInfo, e: Element): void {
    const done = t.completeIndex as number;
    const n = ki.readTxn.length;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.txns[ki.readTxn[mid]!]!.invokeIndex > done) hi = mid;
      else lo = mid + 1;
    }
    if (lo === n) return;
    const p = ki.pos.get(e);
    if (p !== undefined && ki.suffixMaxLength[lo]! > p) return;
    for (let r = lo; r < n; r++) if (ki.compatible[r] === 0 && this.readList(ki, r).includes(e)) return;
    const first = this.txns[ki.readTxn[lo]!]!;
    const last = this.txns[ki.readTxn[n - 1]!]!;
    const lastList = this.readList(ki, n - 1);
    this.anomalies.add('lost-append', () => ({
      type: 'lost-append',
      txns: [ref(t), ref(first), ...(last !== first ? [ref(last)] : [])],
      key: ki.key,
      element: e,
      explanation: `the transaction at index ${idx(t)} appended ${show(e)} to key ${show(ki.key)} and was acknowledged, but none of the ${n - lo} read(s) of that key begun afterwards saw it (the first began at index ${first.invokeIndex}; the last, at index ${last.invokeIndex}, read ${showList(lastList)})`,
    }));
  }

  private realtimeEdges(): void {
    this.timeNodes = addRealtimeChain(
      this.events,
      this.txns.map((t) => (t.type === 'ok' ? 'ok' : t.type === 'info' ? 'info' : 'fail')),
      this.edges,
    );
    this.checkpoint('building real-time edges');
  }

  private findCycles(): void {
    const vertices = this.txns.length + this.timeNodes;
    const g = this.edges.build(vertices);
    this.edgeCount = g.targets.length;
    const comp = new Int32Array(vertices);
    const work: Work = {
      steps: 0,
      alive: () => this.now() <= this.deadline,
    };
    const sccs = stronglyConnected(g, this.realtime ? ALL : DATA, null, null, 0, comp, work);
    if (sccs === null) throw new BudgetSpent(`the time budget (${this.options.budgetMs} ms) ran out while finding strongly connected components`);
    const first = this.txns.length;
    const opCount = (s: Int32Array): number => {
      let n = 0;
      for (const v of s) if (v < first) n++;
      return n;
    };
    this.components = { count: sccs.length, largest: sccs.reduce((m, s) => Math.max(m, opCount(s)), 0) };
    if (sccs.length === 0) return;
    const ctx: SearchContext = {
      g,
      firstTimeNode: first,
      comp,
      subComp: new Int32Array(vertices).fill(-1),
      finder: new PathFinder(g, first),
      work,
      stepsPerScc: this.options.maxSearchStepsPerComponent ?? 20_000_000,
    };
    // Small components first: they give the shortest explanations, and a big one cannot starve them.
    sccs.sort((a, b) => a.length - b.length);
    for (const members of sccs) {
      const found = searchScc(ctx, members, comp[members[0]!]!, this.realtime);
      this.cutShort.push(...found.cutShort);
      const size = opCount(members);
      for (const c of found.cycles) this.anomalies.add(c.type, () => this.describeCycle(c, size));
      if (!work.alive()) throw new BudgetSpent(`the time budget (${this.options.budgetMs} ms) ran out while searching ${sccs.length} cyclic components for cycles`);
    }
  }

  // ---- explanations ---------------------------------------------------------------------

  private describeCycle(c: FoundCycle, componentSize: number): CycleAnomaly {
    const n = c.txns.length;
    const name = (i: number): string => `T${i + 1}`;
    const steps: CycleStep[] = [];
    for (let i = 0; i < n; i++) {
      const a = this.txns[c.txns[i]!]!;
      const b = this.txns[c.txns[(i + 1) % n]!]!;
      const s = this.explainEdge(a, b, c.kinds[i]!, name(i), name((i + 1) % n));
      steps.push({ from: i, to: (i + 1) % n, kind: c.kinds[i]!, ...(s.key !== undefined ? { key: s.key } : {}), explanation: s.text });
    }
    const txns = c.txns.map((id) => ref(this.txns[id]!));
    const lines = [`${c.type}: a cycle of ${n} transactions${componentSize > n ? ` (in a strongly connected component of ${componentSize})` : ''}.`];
    txns.forEach((t, i) => lines.push(`  ${name(i)} = index ${t.index} (process ${t.process}, ${t.type}): ${showTxn(t.value)}`));
    steps.forEach((s, i) => lines.push(`  ${i === n - 1 ? 'yet ' : ''}${name(s.from)} < ${name(s.to)}: ${s.explanation}${i === n - 1 ? ': a contradiction' : ''}`));
    return { type: c.type, txns, steps, componentSize, explanation: lines.join('\n') };
  }

  /** Why `a` precedes `b` by an edge of `kind` (the same rules that built the edge). */
  private explainEdge(a: Txn, b: Txn, kind: EdgeKind, an: string, bn: string): { text: string; key?: AppendKey } {
    switch (kind) {
      case 'rt':
        return { text: `${an} completed (index ${a.completeIndex}) before ${bn} was invoked (index ${b.invokeIndex}) (rt)` };
      case 'wr':
        for (const m of b.mops) {
          if (m[0] !== 'r' || b.type !== 'ok') continue;
          const list = m[2] ?? EMPTY;
          if (list.length === 0) continue;
          const e = list[list.length - 1]!;
          if (this.keys.get(m[1])!.writer.get(e) === a.id) return { key: m[1], text: `${bn} read key ${show(m[1])} = ${showList(list)}, whose last element ${show(e)} ${an} appended (wr)` };
        }
        break;
      case 'ww':
        for (const m of b.mops) {
          if (m[0] !== 'append') continue;
          const ki = this.keys.get(m[1])!;
          const prev = this.prevPos(ki, m[2]);
          if (prev < 0 || ki.voWriter[prev] !== a.id) continue;
          const seen = ki.pos.has(m[2]);
          const longest = this.txns[ki.readTxn[ki.longest]!]!;
          return {
            key: m[1],
            text: seen
              ? `${bn} appended ${show(m[2])} to key ${show(m[1])} right after ${an}'s append of ${show(ki.vo[prev]!)} (ww: the version order ${showAround(ki.vo, prev)}, read at index ${idx(longest)})`
              : `${bn} appended ${show(m[2])} to key ${show(m[1])}, which no read saw, so after ${show(ki.vo[prev]!)}, the last element any read saw, which ${an} appended (ww: the longest read, at index ${idx(longest)}, ends ${showAround(ki.vo, prev)})`,
          };
        }
        break;
      case 'rw':
        for (const m of b.mops) {
          if (m[0] !== 'append') continue;
          const ki = this.keys.get(m[1])!;
          const prev = this.prevPos(ki, m[2]);
          for (const r of a.type === 'ok' ? a.mops : []) {
            if (r[0] !== 'r' || r[1] !== m[1]) continue;
            const list = r[2] ?? EMPTY;
            const last = list.length === 0 ? -1 : (ki.pos.get(list[list.length - 1]!) ?? -2);
            if (last !== prev) continue;
            const seen = ki.pos.has(m[2]);
            const state = list.length === 0 ? `key ${show(m[1])} empty` : `key ${show(m[1])} = ${showList(list)}`;
            return {
              key: m[1],
              text: seen
                ? `${an} read ${state} and did not see ${bn}'s append of ${show(m[2])}, the next element in the version order ${showAround(ki.vo, prev + 1)} (rw)`
                : `${an} read ${state}, the last state any read saw, so it did not see ${bn}'s append of ${show(m[2])}, which no read saw (rw)`,
            };
          }
        }
        break;
    }
    throw new Error(`internal error: no ${kind} edge from the transaction at index ${idx(a)} to the one at index ${idx(b)}`);
  }

  // ---- the verdict ----------------------------------------------------------------------

  private finish(unknownReason?: string): AppendResult {
    const forbidden = forbiddenBy(this.consistency);
    const counts = this.anomalies.counts;
    const order = (t: string): number => {
      const i = ANOMALY_TYPES.indexOf(t);
      return i < 0 ? ANOMALY_TYPES.length : i;
    };
    const anomalyTypes = [...counts.keys()].sort((a, b) => order(a) - order(b));
    const forbiddenTypes = anomalyTypes.filter((t) => forbidden.has(t));
    const valid: Validity = forbiddenTypes.length > 0 ? false : unknownReason !== undefined ? 'unknown' : true;
    const okTxns = this.txns.filter((t) => t.type === 'ok').length;
    const size = `${this.txns.length} txns (${okTxns} ok), ${this.microOps} micro-ops, ${this.keys.size} keys`;
    const list = (ts: readonly string[]): string => ts.map((t) => `${t} ×${counts.get(t)}`).join(', ');
    let summary: string;
    if (valid === true) {
      const allowed = anomalyTypes.length > 0 ? `; allowed by ${this.consistency}: ${list(anomalyTypes)}` : '';
      summary = `${this.consistency}: no forbidden anomalies in ${size}${allowed}`;
    } else if (valid === false) {
      const firstType = forbiddenTypes[0]!;
      const first = this.anomalies.listed.get(firstType)?.[0];
      const example = first === undefined ? '' : `; e.g. ${firstType}: ${isCycleAnomaly(first) ? first.steps.map((s) => s.explanation).join('; ') : first.explanation}`;
      summary = `not ${this.consistency}: ${list(forbiddenTypes)} in ${size}${unknownReason !== undefined ? ` (search incomplete: ${unknownReason})` : ''}${example}`;
      if (summary.length > 600) summary = `${summary.slice(0, 597)}...`;
    } else {
      summary = `unknown: ${unknownReason} (${size})`;
    }
    const anomalies: Record<string, readonly AppendAnomaly[]> = {};
    for (const t of anomalyTypes) anomalies[t] = this.anomalies.listed.get(t) ?? [];
    const ms = this.now() - this.t0;
    return {
      checker: 'append',
      valid,
      summary,
      consistency: this.consistency,
      txns: this.txns.length,
      microOps: this.microOps,
      keys: this.keys.size,
      anomalyTypes,
      forbiddenTypes,
      anomalyCounts: Object.fromEntries(anomalyTypes.map((t) => [t, counts.get(t)!])),
      anomalies,
      edges: this.edgeCount,
      components: this.components,
      ...(unknownReason !== undefined ? { unknownReason } : {}),
      ...(this.cutShort.length > 0 ? { searchCutShort: this.cutShort } : {}),
      ms: Math.round(ms),
      timings: { read: Math.round(this.timings.read), infer: Math.round(this.timings.infer), graph: Math.round(this.timings.graph), cycles: Math.round(this.timings.cycles) },
    };
  }
}

const EMPTY: readonly Element[] = [];

/** Validates a transaction's value as micro-ops; `withReads`: an ok completion, whose reads must be lists. */
function microOps(value: unknown, index: number, withReads: boolean): MicroOp[] {
  if (!Array.isArray(value)) throw new AppendInputError(`op index ${index}: a transaction's value must be a list of micro-ops, got ${describe(value)}`);
  for (let i = 0; i < value.length; i++) {
    const m: unknown = value[i];
    if (!Array.isArray(m) || m.length !== 3) badMicroOp(index, i, m, 'is not [f, key, value]');
    const f: unknown = m[0];
    const k: unknown = m[1];
    const v: unknown = m[2];
    if (typeof k !== 'string' && typeof k !== 'number') badMicroOp(index, i, m, 'has a key that is not a string or a number');
    if (f === 'append') {
      if (!((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string')) badMicroOp(index, i, m, 'appends something that is not a number or a string');
    } else if (f === 'r') {
      if (withReads && v !== null) {
        if (!Array.isArray(v)) badMicroOp(index, i, m, 'reads something that is not a list (or null for an empty key)');
        for (let j = 0; j < v.length; j++) {
          const e: unknown = v[j];
          if (typeof e !== 'number' && typeof e !== 'string') badMicroOp(index, i, m, `reads a list holding ${describe(e)}, not a number or a string`);
        }
      }
    } else {
      badMicroOp(index, i, m, 'is neither "append" nor "r"');
    }
  }
  return value as MicroOp[];
}

function badMicroOp(index: number, i: number, m: unknown, why: string): never {
  throw new AppendInputError(`op index ${index}: micro-op ${i} ${describe(m)} ${why}`);
}

function describe(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function isPrefix(a: readonly Element[], b: readonly Element[]): boolean {
  if (a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameList(a: readonly Element[], b: readonly Element[]): boolean {
  return a.length === b.length && isPrefix(a, b);
}

function endsWith(a: readonly Element[], tail: readonly Element[]): boolean {
  if (tail.length > a.length) return false;
  const off = a.length - tail.length;
  for (let i = 0; i < tail.length; i++) if (a[off + i] !== tail[i]) return false;
  return true;
}

function idx(t: Txn): number {
  return t.completeIndex ?? t.invokeIndex;
}

function ref(t: Txn): TxnRef {
  return { index: idx(t), invokeIndex: t.invokeIndex, completeIndex: t.completeIndex, process: t.process, type: t.type, value: t.mops };
}

export function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** A list, shortened in the middle when long. */
export function showList(l: readonly Element[]): string {
  if (l.length <= 10) return `[${l.map(show).join(', ')}]`;
  return `[${l.slice(0, 4).map(show).join(', ')}, …, ${l.slice(-4).map(show).join(', ')}] (${l.length} elements)`;
}

/** The version order around position p: `[…, 3, 4, 5, …]`. */
function showAround(vo: readonly Element[], p: number): string {
  const from = Math.max(0, p - 2);
  const to = Math.min(vo.length, p + 3);
  return `[${from > 0 ? '…, ' : ''}${vo.slice(from, to).map(show).join(', ')}${to < vo.length ? ', …' : ''}]`;
}

export function showTxn(mops: readonly MicroOp[]): string {
  return `[${mops.map((m) => (m[0] === 'append' ? `append ${show(m[1])} ${show(m[2])}` : `r ${show(m[1])} ${m[2] === null ? 'nil' : showList(m[2])}`)).join(', ')}]`;
}
