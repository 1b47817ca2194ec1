/**
 * Watch delivery: every watcher sees each key's committed changes in revision order, with no
 * gaps, duplicates or phantom values, across reconnects.
 *
 * The committed changes come from the client history: `ok` writes carry the store's revision
 * (impl/API.md). `info` writes may or may not have committed: one that a watcher saw is
 * thereby proven committed at the revision it was seen at, and from then on every other
 * watcher covering that revision must see it too. Watch sessions are ops in the same history
 * (one invoke/complete pair per connection, events in the completion), like Jepsen's etcd watch test.
 */
import type { CheckInput, CheckResult, Checker, Validity } from '../checker.ts';
import { pairOps } from '../history/pair.ts';
import type { CompletedOp, Op } from '../history/types.ts';

/** One committed change to a key, as a watcher should see it. */
export interface Change {
  readonly key: string;
  readonly revision: number;
  readonly type: 'put' | 'delete';
  /** Written value (put); undefined for delete. */
  readonly value?: unknown;
  /** The key's version after the write, when the ok value says. */
  readonly version?: number;
}

/** A change a write op attempted; `revision` is known only for ok writes. */
export interface AttemptedChange {
  readonly key: string;
  readonly type: 'put' | 'delete';
  readonly value?: unknown;
  readonly revision?: number;
  readonly version?: number;
}

export interface WatchOptions {
  /**
   * Map a client op to the changes it attempted, or null if it is not a write. Default:
   * `defaultWriteChanges` (f put/create/delete/txn, shapes in README.md). An ok write must
   * give every change a revision.
   */
  readonly writeChanges?: (op: CompletedOp) => readonly AttemptedChange[] | null;
  /** The watch session op's `f` (default `watch`). */
  readonly watchF?: string;
  /** How many violations of each kind to list (default 100; counts cover all). */
  readonly maxListed?: number;
}

export interface WatchEvent {
  readonly revision: number;
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly value?: unknown;
  readonly version?: number;
}

interface Session {
  readonly watcher: string;
  readonly prefix: string;
  readonly fromRevision: number | null;
  readonly events: readonly WatchEvent[];
  /** Highest progress notification the session got (in its events or as progressRevision), if any. */
  readonly progressRevision: number | null;
  /** Events that came after a progress notification at or above their revision, with that revision. */
  readonly afterProgress: readonly { readonly event: WatchEvent; readonly progressRevision: number }[];
  /** Highest revision the session is known to cover (last event or progress heartbeat). */
  readonly coveredTo: number | null;
  /** The system refused the start revision as compacted: nothing before this revision is owed. */
  readonly compacted: number | null;
  readonly invokeIndex: number;
  readonly outcome: 'ok' | 'fail' | 'info';
}

export type WatchViolation =
  | {
      readonly kind: 'gap';
      readonly watcher: string;
      readonly session: number | null;
      readonly change: Change;
      readonly writeIndex: number;
      readonly seenInOtherSession: boolean;
      /** The session whose progress notification covered the change it never delivered (etcd#15220), if one did. */
      readonly promisedBy?: { readonly session: number; readonly progressRevision: number };
      /**
       * A session of the watcher started from exactly the change's revision, and whether that
       * revision was a compaction revision the watcher had been told to resume from (etcd#18089
       * dropped a delete there).
       */
      readonly startOf?: { readonly session: number; readonly compactRevision: boolean };
    }
  | { readonly kind: 'duplicate'; readonly watcher: string; readonly session: number; readonly event: WatchEvent }
  | { readonly kind: 'out-of-order'; readonly watcher: string; readonly session: number; readonly previous: WatchEvent; readonly event: WatchEvent }
  | { readonly kind: 'before-start'; readonly watcher: string; readonly session: number; readonly fromRevision: number; readonly event: WatchEvent }
  /** An event delivered after a progress notification at a revision at or above its own: the notification promised it had been sent (etcd#15220). */
  | { readonly kind: 'late-event'; readonly watcher: string; readonly session: number; readonly progressRevision: number; readonly event: WatchEvent }
  | {
      readonly kind: 'phantom';
      readonly watcher: string;
      readonly session: number;
      readonly event: WatchEvent;
      readonly reason: 'no-such-write' | 'repeated-write' | 'value-mismatch' | 'outside-prefix' | 'failed-write';
      readonly expected?: Change;
      readonly writeIndex?: number;
    };

export type WatchViolationKind = WatchViolation['kind'];

export interface WatchResult extends CheckResult {
  readonly checker: 'watch';
  readonly watchers: readonly {
    readonly watcher: string;
    readonly prefix: string;
    readonly sessions: number;
    /** Sessions refused because their start revision was compacted. */
    readonly compactedSessions: number;
    readonly events: number;
    readonly fromRevision: number | null;
    readonly toRevision: number | null;
  }[];
  /** Changes known committed: from ok writes, plus info writes proven by a watcher. */
  readonly committedChanges: number;
  /** Info (or never completed) writes that a watcher saw, with the revision they committed at. */
  readonly provenInfoWrites: readonly { readonly writeIndex: number; readonly key: string; readonly revision: number }[];
  readonly counts: Readonly<Record<WatchViolationKind, number>>;
  readonly violations: readonly WatchViolation[];
}

interface Committed extends Change {
  readonly writeIndex: number;
  /** Dense number of this change (position in CommittedChanges.list). */
  readonly idx: number;
}

/** Committed changes by key and revision; revisions are small integers, so nested maps stay cheap. */
class CommittedChanges {
  readonly list: Committed[] = [];
  private readonly byKey = new Map<string, Map<number, Committed>>();
  get(key: string, revision: number): Committed | undefined {
    return this.byKey.get(key)?.get(revision);
  }
  /** Adds the change unless one is already known at that key and revision. */
  add(change: Omit<Committed, 'idx'>): void {
    let perKey = this.byKey.get(change.key);
    if (perKey === undefined) this.byKey.set(change.key, (perKey = new Map<number, Committed>()));
    if (perKey.has(change.revision)) return;
    const c: Committed = { ...change, idx: this.list.length };
    this.list.push(c);
    perKey.set(change.revision, c);
  }
}

interface Candidate {
  readonly change: AttemptedChange;
  readonly writeIndex: number;
  readonly outcome: 'info' | 'fail';
  provenAt: number | null;
}

export function checkWatch(input: CheckInput, options: WatchOptions = {}): WatchResult {
  const watchF = options.watchF ?? 'watch';
  const writeChanges = options.writeChanges ?? defaultWriteChanges;
  const maxListed = options.maxListed ?? 100;
  const byIndex = new Map<number, Op>();
  for (const op of input.history) byIndex.set(op.index, op);

  const committed = new CommittedChanges();
  const candidates = new Map<string, Candidate[]>(); // key -> info/fail writes
  const siblings = new Map<number, Candidate[]>(); // write's invokeIndex -> its changes
  const sessions: Session[] = [];
  for (const op of pairOps(input.history)) {
    if (op.f === watchF) {
      sessions.push(parseSession(op, op.completeIndex === null ? undefined : byIndex.get(op.completeIndex)));
      continue;
    }
    const changes = writeChanges(op);
    if (changes === null) continue;
    for (const c of changes) {
      if (op.type === 'ok') {
        if (c.revision === undefined) throw new Error(`op ${op.completeIndex ?? op.invokeIndex}: ok ${op.f} of key ${JSON.stringify(c.key)} has no revision (modRevision or revision in its value)`);
        committed.add({ ...stripRevision(c), revision: c.revision, writeIndex: op.invokeIndex });
      } else {
        const candidate: Candidate = { change: c, writeIndex: op.invokeIndex, outcome: op.type, provenAt: null };
        let list = candidates.get(c.key);
        if (list === undefined) candidates.set(c.key, (list = []));
        list.push(candidate);
        let group = siblings.get(op.invokeIndex);
        if (group === undefined) siblings.set(op.invokeIndex, (group = []));
        group.push(candidate);
      }
    }
  }

  const violations: WatchViolation[] = [];
  const counts: Record<WatchViolationKind, number> = { gap: 0, duplicate: 0, 'out-of-order': 0, 'before-start': 0, 'late-event': 0, phantom: 0 };
  const report = (v: WatchViolation): void => {
    counts[v.kind] += 1;
    // Listed per kind, so thousands of one kind (late events) do not hide the evidence of another.
    if (counts[v.kind] <= maxListed) violations.push(v);
  };

  const repeatedWrites = new Set<number>();
  // Changes a watcher missed at the compaction revision it resumed from (etcd#18089), by write.
  const missedAtCompaction = new Set<number>();
  // Ok puts by key, built on the first event no write explains (rare: only invalid histories).
  let okPuts: Map<string, Committed[]> | null = null;
  const onlyOkPut = (key: string, value: unknown): Committed | undefined => {
    if (okPuts === null) {
      okPuts = new Map();
      for (const c of committed.list) {
        if (c.type !== 'put') continue;
        let list = okPuts.get(c.key);
        if (list === undefined) okPuts.set(c.key, (list = []));
        list.push(c);
      }
    }
    const same = (okPuts.get(key) ?? []).filter((c) => sameValue(c.value, value));
    return same.length === 1 ? same[0] : undefined;
  };

  // 1. Match every delivered event to a committed change, proving info writes on the way.
  //    Events in revision order, so which info write is proven first does not depend on sessions' order.
  const provenInfoWrites: { writeIndex: number; key: string; revision: number }[] = [];
  const delivered = sessions.flatMap((s) => s.events.map((e) => ({ s, e }))).sort((a, b) => a.e.revision - b.e.revision);
  for (const { s, e } of delivered) {
    if (!e.key.startsWith(s.prefix)) {
      report({ kind: 'phantom', watcher: s.watcher, session: s.invokeIndex, event: e, reason: 'outside-prefix' });
      continue;
    }
    const c = committed.get(e.key, e.revision);
    if (c !== undefined) {
      if (!sameChange(c, e)) report({ kind: 'phantom', watcher: s.watcher, session: s.invokeIndex, event: e, reason: 'value-mismatch', expected: publicChange(c), writeIndex: c.writeIndex });
      continue;
    }
    const list = candidates.get(e.key) ?? [];
    const match = list.find((k) => k.outcome === 'info' && k.provenAt === null && sameChange(k.change, e));
    if (match !== undefined) {
      // The whole write committed at that revision: a txn's other changes too.
      for (const sibling of siblings.get(match.writeIndex) ?? [match]) {
        sibling.provenAt = e.revision;
        committed.add({ ...stripRevision(sibling.change), revision: e.revision, writeIndex: sibling.writeIndex });
        provenInfoWrites.push({ writeIndex: sibling.writeIndex, key: sibling.change.key, revision: e.revision });
      }
      continue;
    }
    const failed = list.find((k) => k.outcome === 'fail' && sameChange(k.change, e));
    // The one ok write that put this value, committed at another revision: the same write
    // applied a second time (etcd#14685: entries replayed after a crash).
    const original = failed === undefined && e.type === 'put' ? onlyOkPut(e.key, e.value) : undefined;
    if (original !== undefined) {
      repeatedWrites.add(original.writeIndex);
      report({ kind: 'phantom', watcher: s.watcher, session: s.invokeIndex, event: e, reason: 'repeated-write', expected: publicChange(original), writeIndex: original.writeIndex });
      continue;
    }
    report({ kind: 'phantom', watcher: s.watcher, session: s.invokeIndex, event: e, reason: failed !== undefined ? 'failed-write' : 'no-such-write', ...(failed !== undefined ? { writeIndex: failed.writeIndex } : {}) });
  }

  // 2. Per session: order, duplicates, start; per session and per watcher: gaps.
  const changes = [...committed.list].sort((a, b) => a.revision - b.revision);
  const byWatcher = new Map<string, Session[]>();
  for (const s of sessions) {
    let list = byWatcher.get(s.watcher);
    if (list === undefined) byWatcher.set(s.watcher, (list = []));
    list.push(s);
  }
  const watchers: WatchResult['watchers'][number][] = [];
  for (const [watcher, list] of [...byWatcher].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const prefix = list[0]!.prefix;
    const other = list.find((s) => s.prefix !== prefix);
    if (other !== undefined) throw new Error(`op ${other.invokeIndex}: watcher ${JSON.stringify(watcher)} changed prefix from ${JSON.stringify(prefix)} to ${JSON.stringify(other.prefix)}; use one watcher id per prefix`);
    // Which committed changes this watcher saw at all, and which session saw each last
    // (session position + 1): flat arrays indexed by the change's dense number.
    const seenAny = new Uint8Array(committed.list.length);
    for (const sess of list) {
      for (const e of sess.events) {
        const c = committed.get(e.key, e.revision);
        if (c !== undefined) seenAny[c.idx] = 1;
      }
    }
    const stamp = new Int32Array(committed.list.length);
    let lo: number | null = null;
    let hi: number | null = null;
    for (const [k, s] of list.entries()) {
      const mark = k + 1;
      const uncommittedSeen = new Set<string>(); // duplicates among phantom events
      let previous: WatchEvent | null = null;
      for (const e of s.events) {
        if (s.fromRevision !== null && e.revision < s.fromRevision) report({ kind: 'before-start', watcher, session: s.invokeIndex, fromRevision: s.fromRevision, event: e });
        const c = committed.get(e.key, e.revision);
        let duplicate: boolean;
        if (c !== undefined) {
          duplicate = stamp[c.idx] === mark;
          stamp[c.idx] = mark;
        } else {
          const id = `${e.key}\u0000${e.revision}`;
          duplicate = uncommittedSeen.has(id);
          uncommittedSeen.add(id);
        }
        if (duplicate) report({ kind: 'duplicate', watcher, session: s.invokeIndex, event: e });
        else if (previous !== null && e.revision < previous.revision) report({ kind: 'out-of-order', watcher, session: s.invokeIndex, previous, event: e });
        if (previous === null || e.revision >= previous.revision) previous = e;
      }
      for (const late of s.afterProgress) report({ kind: 'late-event', watcher, session: s.invokeIndex, progressRevision: late.progressRevision, event: late.event });
      const asked = s.fromRevision ?? s.events[0]?.revision ?? null;
      if (asked !== null) lo = lo === null ? asked : Math.min(lo, asked);
      // A compacted start owes nothing below the compaction.
      const from = asked !== null && s.compacted !== null ? Math.max(asked, s.compacted) : asked;
      // Resuming from R claims everything before R was seen (the client's resume point).
      if (s.fromRevision !== null && k > 0) hi = hi === null ? s.fromRevision - 1 : Math.max(hi, s.fromRevision - 1);
      if (s.coveredTo !== null) hi = hi === null ? s.coveredTo : Math.max(hi, s.coveredTo);
      if (from === null || s.coveredTo === null || s.coveredTo < from) continue;
      // A session skipped a change in its own range that another session of the watcher saw
      // (one never seen at all is reported once, below, for the whole watcher).
      for (const c of changesIn(changes, from, s.coveredTo)) {
        if (stamp[c.idx] === mark || seenAny[c.idx] === 0 || !c.key.startsWith(s.prefix)) continue;
        report({ kind: 'gap', watcher, session: s.invokeIndex, change: publicChange(c), writeIndex: c.writeIndex, seenInOtherSession: true });
      }
    }
    // Watcher-level: a change inside the watcher's whole range that no session delivered
    // (across reconnects: resuming from the wrong revision loses events).
    if (lo !== null && hi !== null) {
      // Revisions a session asked for and was told were compacted: gone, so not owed.
      const excused = list.filter((s) => s.compacted !== null && s.fromRevision !== null && s.fromRevision < s.compacted).map((s) => [s.fromRevision as number, s.compacted as number] as const);
      for (const c of changesIn(changes, lo, hi)) {
        if (seenAny[c.idx] === 1 || !c.key.startsWith(prefix)) continue;
        if (excused.some(([a, b]) => c.revision >= a && c.revision < b)) continue;
        // A session whose stream went past this revision only by a progress notification: it
        // was told the change had been sent.
        const promiser = list.find((s) => c.revision <= (s.progressRevision ?? 0) && c.revision >= (s.fromRevision ?? s.events[0]?.revision ?? Number.POSITIVE_INFINITY) && c.revision > (s.events.at(-1)?.revision ?? 0));
        const promisedBy = promiser === undefined ? {} : { promisedBy: { session: promiser.invokeIndex, progressRevision: promiser.progressRevision ?? 0 } };
        const starter = list.find((s) => s.fromRevision === c.revision);
        const atCompaction = starter !== undefined && list.some((s) => s.compacted === c.revision);
        if (atCompaction) missedAtCompaction.add(c.writeIndex);
        const startOf = starter === undefined ? {} : { startOf: { session: starter.invokeIndex, compactRevision: atCompaction } };
        report({ kind: 'gap', watcher, session: null, change: publicChange(c), writeIndex: c.writeIndex, seenInOtherSession: false, ...promisedBy, ...startOf });
      }
    }
    const compactedSessions = list.filter((s) => s.compacted !== null).length;
    watchers.push({ watcher, prefix, sessions: list.length, compactedSessions, events: list.reduce((n, s) => n + s.events.length, 0), fromRevision: lo, toRevision: hi });
  }

  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const checkedAnything = watchers.some((w) => w.events > 0 || w.toRevision !== null);
  const valid: Validity = total > 0 ? false : checkedAnything ? true : 'unknown';
  let summary: string;
  if (total > 0) {
    summary = (Object.entries(counts) as [WatchViolationKind, number][])
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${n} ${k}${n === 1 ? '' : 's'}`)
      .join(', ');
    const v = violations[0]!;
    const repeated = repeatedWrites.size > 0 ? `${repeatedWrites.size} acknowledged write${repeatedWrites.size === 1 ? '' : 's'} seen again at a later revision; ` : '';
    const atCompaction = missedAtCompaction.size > 0 ? `${missedAtCompaction.size} change${missedAtCompaction.size === 1 ? '' : 's'} missed at the compaction revision a watcher resumed from; ` : '';
    summary += ` (${repeated}${atCompaction}first: ${describe(v)})`;
  } else if (!checkedAnything) {
    summary = sessions.length === 0 ? 'no watch sessions to check' : 'watch sessions delivered nothing to check';
  } else {
    const compacted = watchers.reduce((n, w) => n + w.compactedSessions, 0);
    summary = `${watchers.length} watchers saw all ${changes.length} committed changes in their ranges, in order (${provenInfoWrites.length} info writes proven committed${compacted > 0 ? `; ${compacted} sessions started below a compaction and resumed after it` : ''})`;
  }
  return { checker: 'watch', valid, summary, watchers, committedChanges: changes.length, provenInfoWrites, counts, violations };
}

export class WatchChecker implements Checker {
  readonly name = 'watch';
  constructor(private readonly options: WatchOptions = {}) {}
  check(input: CheckInput): WatchResult {
    return checkWatch(input, this.options);
  }
}

/**
 * The store's writes (impl/API.md): `put`/`create` with invoke value `{"value": V, ...}`,
 * `delete`, and `txn` with `{"ops": [{"op", "key", "value"?}]}`; key from `op.key` (or the
 * invoke value's `key`); revision from the ok value's `modRevision`, else `revision`.
 */
export function defaultWriteChanges(op: CompletedOp): readonly AttemptedChange[] | null {
  const where = `op ${op.invokeIndex} (${op.f})`;
  const revision = op.type === 'ok' ? optionalNumber(field(op.value, 'modRevision') ?? field(op.value, 'revision'), `${where}: revision`) : undefined;
  const version = op.type === 'ok' ? optionalNumber(field(op.value, 'version'), `${where}: version`) : undefined;
  const rv = { ...(revision !== undefined ? { revision } : {}), ...(version !== undefined ? { version } : {}) };
  switch (op.f) {
    case 'put':
    case 'create': {
      const v = op.invokeValue;
      const value = isRecord(v) && 'value' in v ? v['value'] : v;
      return [{ key: keyOf(op, where), type: 'put', value, ...rv }];
    }
    case 'delete':
      return [{ key: keyOf(op, where), type: 'delete', ...(revision !== undefined ? { revision } : {}) }];
    case 'txn': {
      const ops = field(op.invokeValue, 'ops');
      if (!Array.isArray(ops)) throw new Error(`${where}: invoke value needs "ops" (an array)`);
      return ops.map((t: unknown, k) => {
        const kind = field(t, 'op');
        const key = field(t, 'key');
        if (typeof key !== 'string') throw new Error(`${where}, ops[${k}]: key must be a string`);
        if (kind === 'delete') return { key, type: 'delete' as const, ...(revision !== undefined ? { revision } : {}) };
        if (kind === 'put' || kind === 'create') return { key, type: 'put' as const, value: field(t, 'value'), ...(revision !== undefined ? { revision } : {}) };
        throw new Error(`${where}, ops[${k}]: op must be put, create or delete, got ${JSON.stringify(kind)}`);
      });
    }
    default:
      return null;
  }
}

function parseSession(op: CompletedOp, completion: Op | undefined): Session {
  const where = `op ${op.invokeIndex} (${op.f})`;
  const prefix = field(op.invokeValue, 'prefix') ?? '';
  if (typeof prefix !== 'string') throw new Error(`${where}: prefix must be a string`);
  const watcherRaw = field(op.invokeValue, 'watcher') ?? String(op.process);
  if (typeof watcherRaw !== 'string' && typeof watcherRaw !== 'number') throw new Error(`${where}: watcher must be a string`);
  const fromRevision = optionalNumber(field(op.invokeValue, 'fromRevision'), `${where}: fromRevision`) ?? null;
  // Events a session saw are facts however the stream ended, so they are read from the
  // completion of any type (pairOps keeps values of ok completions only).
  const out = completion?.value;
  const rawEvents = field(out, 'events') ?? [];
  if (!Array.isArray(rawEvents)) throw new Error(`op ${completion?.index ?? op.invokeIndex}: watch completion's "events" must be an array`);
  const events: WatchEvent[] = [];
  const finalProgress = optionalNumber(field(out, 'progressRevision'), `${where}: progressRevision`) ?? null;
  const compacted = optionalNumber(field(out, 'compacted'), `${where}: compacted`) ?? null;
  let coveredTo = finalProgress;
  // Progress notifications in the stream, in order: each promises every event up to it was sent.
  let progressed: number | null = null;
  const afterProgress: { event: WatchEvent; progressRevision: number }[] = [];
  rawEvents.forEach((e: unknown, k) => {
    const at = `op ${completion?.index ?? op.invokeIndex}, events[${k}]`;
    const revision = field(e, 'revision');
    if (!Number.isInteger(revision)) throw new Error(`${at}: revision must be an integer`);
    const rev = revision as number;
    const type = field(e, 'type');
    if (type === 'progress') {
      coveredTo = Math.max(coveredTo ?? rev, rev);
      progressed = Math.max(progressed ?? rev, rev);
      return;
    }
    if (type !== 'put' && type !== 'delete') throw new Error(`${at}: type must be put, delete or progress, got ${JSON.stringify(type)}`);
    const key = field(e, 'key');
    if (typeof key !== 'string') throw new Error(`${at}: key must be a string`);
    const version = optionalNumber(field(e, 'version'), `${at}: version`);
    const event: WatchEvent = { revision: rev, type, key, ...(type === 'put' ? { value: field(e, 'value') } : {}), ...(version !== undefined ? { version } : {}) };
    events.push(event);
    if (progressed !== null && rev <= progressed) afterProgress.push({ event, progressRevision: progressed });
    coveredTo = Math.max(coveredTo ?? rev, rev);
  });
  const outcome = completion === undefined || completion.type === 'invoke' ? 'info' : completion.type;
  const progressRevision = progressed === null ? finalProgress : finalProgress === null ? progressed : Math.max(progressed, finalProgress);
  return { watcher: String(watcherRaw), prefix, fromRevision, events, progressRevision, afterProgress, coveredTo, compacted, invokeIndex: op.invokeIndex, outcome };
}

function changesIn(sorted: readonly Committed[], from: number, to: number): Committed[] {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.revision < from) lo = mid + 1;
    else hi = mid;
  }
  const out: Committed[] = [];
  for (let i = lo; i < sorted.length && sorted[i]!.revision <= to; i++) out.push(sorted[i]!);
  return out;
}

function sameChange(c: AttemptedChange, e: WatchEvent): boolean {
  if (c.type !== e.type) return false;
  if (c.type === 'put' && !sameValue(c.value, e.value)) return false;
  if (c.version !== undefined && e.version !== undefined && c.version !== e.version) return false;
  return true;
}

function stripRevision(c: AttemptedChange): Omit<Change, 'revision'> {
  return { key: c.key, type: c.type, ...(c.type === 'put' ? { value: c.value } : {}), ...(c.version !== undefined ? { version: c.version } : {}) };
}

function publicChange(c: Committed): Change {
  return { key: c.key, revision: c.revision, type: c.type, ...(c.value !== undefined ? { value: c.value } : {}), ...(c.version !== undefined ? { version: c.version } : {}) };
}

function describe(v: WatchViolation): string {
  switch (v.kind) {
    case 'gap':
      return `watcher ${v.watcher} never saw ${v.change.type} of ${v.change.key} at revision ${v.change.revision}${v.promisedBy !== undefined ? ` (session ${v.promisedBy.session} got a progress notification at revision ${v.promisedBy.progressRevision}, which said it had been sent)` : ''}${v.startOf !== undefined ? ` (session ${v.startOf.session} started from that revision${v.startOf.compactRevision ? ', the compaction revision it was told to resume from' : ''})` : ''}`;
    case 'duplicate':
      return `watcher ${v.watcher} saw ${v.event.key}@${v.event.revision} twice in session ${v.session}`;
    case 'out-of-order':
      return `watcher ${v.watcher} saw revision ${v.event.revision} after ${v.previous.revision}`;
    case 'late-event':
      return `watcher ${v.watcher} got ${v.event.type} of ${v.event.key}@${v.event.revision} after a progress notification at revision ${v.progressRevision} (which promised it had been sent)`;
    case 'before-start':
      return `watcher ${v.watcher} got revision ${v.event.revision} from a watch starting at ${v.fromRevision}`;
    case 'phantom':
      if (v.reason === 'repeated-write' && v.expected !== undefined) {
        return `watcher ${v.watcher} saw ${v.event.type} of ${v.event.key}@${v.event.revision}: the write acknowledged at revision ${v.expected.revision} (op ${v.writeIndex}) applied again`;
      }
      return `watcher ${v.watcher} saw ${v.event.type} of ${v.event.key}@${v.event.revision} (${v.reason})`;
  }
}


function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field(v: unknown, name: string): unknown {
  return isRecord(v) ? v[name] : undefined;
}

function optionalNumber(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${what} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function keyOf(op: CompletedOp, where: string): string {
  const k = op.key ?? field(op.invokeValue, 'key');
  if (typeof k !== 'string' && typeof k !== 'number') throw new Error(`${where}: no key`);
  return String(k);
}

function sameValue(a: unknown, b: unknown): boolean {
  // Primitives (the usual values) compare directly; structures by canonical JSON.
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return a === b;
  return canonical(a) === canonical(b);
}

/** JSON text with object keys sorted, so values compare whatever order the server wrote them in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isRecord(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}
