/**
 * Election safety from node event logs: at most one leader per term (Raft §5.2, Figure 3
 * "Election Safety"), and no node's term going backwards (currentTerm is persistent state,
 * Figure 2: a term that goes down means the node lost what it had made durable). Plus the
 * figures a person wants next to that verdict: when two nodes believed they led at once
 * (legal across terms: a deposed leader learns of the new term only when it hears from it,
 * §5.1), how long the cluster had no leader, and whether it had one again after the last
 * fault healed (if not, the run proved nothing about the healed cluster: unknown).
 */
import type { CheckInput, CheckResult, Checker, Validity } from '../checker.ts';
import type { NodeEvent, Op } from '../history/types.ts';

export interface ElectionOptions {
  /**
   * Also count a non-leader's `leader` field as a claim that that node leads the term
   * (default true). In Raft a follower learns the leader only from that leader's
   * AppendEntries in the same term, so its report is evidence too.
   */
  readonly followerReports?: boolean;
  /**
   * A node's term going backwards (Raft's currentTerm is persistent, Figure 2: a regression
   * means lost durable state) makes the verdict invalid. Default true; false reports it only
   * (for logs of nodes that were deliberately wiped and re-added).
   */
  readonly termRegressionInvalid?: boolean;
  /**
   * Status samples stamped closer together than this (ms) with no restart (`down` event)
   * of the node between them may have been in flight at once and arrived out of order, so
   * a lower term in the later one is not taken as a regression. Default 2000: the longest
   * status timeout the harness uses (its final sample, taken as the periodic ones stop).
   */
  readonly sampleOverlapMs?: number;
  /** How many overlap windows and leaderless gaps to list (default 50; totals count all). */
  readonly maxListed?: number;
}

/** One node observed as leader of a term: who, first seen when, and who said so. */
export interface LeaderClaim {
  readonly node: string;
  readonly firstTime: number;
  readonly reportedBy: readonly string[];
}

export interface TwoLeadersViolation {
  readonly kind: 'two-leaders';
  readonly term: number;
  readonly leaders: readonly LeaderClaim[];
}

/** One observation of a node's term: an event of its own role log or a status sample. */
export interface TermObservation {
  readonly kind: 'role' | 'status';
  /** ns, the events' clock. */
  readonly time: number;
  readonly term: number;
  readonly role: string;
}

/**
 * A node reported a lower term than it had reported before, in the same source: two
 * consecutive events of its own role log, or two consecutive status samples. Sources are
 * not compared with each other: a sample is stamped when its answer arrived, so one taken
 * just before a role change can arrive after it (a stale sample, not a regression).
 */
export interface TermRegression {
  readonly kind: 'term-regression';
  readonly node: string;
  /** When the lower term was seen (= `after.time`). */
  readonly time: number;
  readonly fromTerm: number;
  readonly toTerm: number;
  readonly before: TermObservation;
  readonly after: TermObservation;
}

/**
 * Whether the cluster had a leader again after the last fault was healed (the last
 * `stop-*` or `heal` nemesis completion with no fault left open). Null when the history
 * has no such heal (no nemesis ops, or a fault still in effect at the end).
 */
export interface Recovery {
  /** ns: when the last fault was healed. */
  readonly healedAt: number;
  /** ns: the first leader claim (a node saying it leads) after the heal, or null. */
  readonly leaderAt: number | null;
  readonly leader: string | null;
  /** Role and status events after the heal (0: no node answered). */
  readonly eventsAfter: number;
  readonly recovered: boolean;
}

/** A node believing itself leader of `term` over [from, to) (ns, the events' clock). */
export interface LeaderInterval {
  readonly node: string;
  readonly term: number;
  readonly from: number;
  readonly to: number;
}

export interface LeaderOverlap {
  readonly from: number;
  readonly to: number;
  readonly durationMs: number;
  readonly leaders: readonly { readonly node: string; readonly term: number }[];
  /** Same term: also a two-leaders violation. Different terms: a stale leader, legal in Raft. */
  readonly sameTerm: boolean;
}

export interface LeaderlessGap {
  readonly from: number;
  readonly to: number;
  readonly durationMs: number;
}

export interface ElectionResult extends CheckResult {
  readonly checker: 'election';
  readonly terms: number;
  readonly nodes: readonly string[];
  readonly violations: readonly TwoLeadersViolation[];
  readonly termRegressions: readonly TermRegression[];
  readonly recovery: Recovery | null;
  /** Status samples from an older term than the node had already reported: not used for intervals. */
  readonly staleSamples: number;
  readonly leaderIntervals: readonly LeaderInterval[];
  readonly overlaps: readonly LeaderOverlap[];
  readonly overlapCount: number;
  readonly overlapTotalMs: number;
  readonly longestOverlapMs: number;
  readonly leaderless: {
    readonly totalMs: number;
    readonly longest: LeaderlessGap | null;
    readonly gaps: readonly LeaderlessGap[];
    readonly gapCount: number;
    /** The span the figures cover: first to last event (ns). */
    readonly from: number;
    readonly to: number;
  };
}

type RoleEvent = Extract<NodeEvent, { kind: 'role' | 'status' }>;

/** Roles a Raft node reports; anything else ("down", "paused", "unknown") only ends leadership. */
const RAFT_ROLES: ReadonlySet<string> = new Set(['leader', 'follower', 'candidate', 'pre-candidate', 'learner']);

const nsToMs = (ns: number): number => ns / 1e6;

export function checkElection(input: CheckInput, options: ElectionOptions = {}): ElectionResult {
  const followerReports = options.followerReports ?? true;
  const maxListed = options.maxListed ?? 50;
  const events = roleEvents(input.events ?? []);

  if (events.length === 0) {
    return {
      checker: 'election',
      valid: 'unknown',
      summary: 'no role or status events to check',
      terms: 0,
      nodes: [],
      violations: [],
      termRegressions: [],
      recovery: null,
      staleSamples: 0,
      leaderIntervals: [],
      overlaps: [],
      overlapCount: 0,
      overlapTotalMs: 0,
      longestOverlapMs: 0,
      leaderless: { totalMs: 0, longest: null, gaps: [], gapCount: 0, from: 0, to: 0 },
    };
  }

  // term -> leader node -> claim
  const claims = new Map<number, Map<string, { firstTime: number; reportedBy: Set<string> }>>();
  const claim = (term: number, leader: string, by: string, time: number): void => {
    let perTerm = claims.get(term);
    if (perTerm === undefined) claims.set(term, (perTerm = new Map<string, { firstTime: number; reportedBy: Set<string> }>()));
    const c = perTerm.get(leader);
    if (c === undefined) perTerm.set(leader, { firstTime: time, reportedBy: new Set([by]) });
    else c.reportedBy.add(by);
  };

  // The last observation per node and source, for regressions (see TermRegression).
  const lastOwnRole = new Map<string, TermObservation>();
  const lastSample = new Map<string, TermObservation>();
  const lastDown = new Map<string, number>();
  const sampleOverlapNs = (options.sampleOverlapMs ?? 2000) * 1e6;
  const maxTerm = new Map<string, number>();
  const termRegressions: TermRegression[] = [];
  let staleSamples = 0;
  const open = new Map<string, { term: number; from: number }>();
  const intervals: LeaderInterval[] = [];
  const start = events[0]!.time;
  const end = events[events.length - 1]!.time;
  const healedAt = lastHeal(input.history);
  let eventsAfterHeal = 0;
  let leaderAfterHeal: { node: string; time: number } | null = null;

  for (const e of events) {
    // A sample whose term is the last applied entry's (etcd) says who leads now, but not in
    // which term: right after an election the new leader still reports the old term.
    const termClaims = !(e.kind === 'status' && e.termSource === 'applied');
    if (termClaims && e.role === 'leader') claim(e.term, e.node, e.node, e.time);
    if (termClaims && e.leader !== null && (followerReports || e.role === 'leader')) claim(e.term, e.leader, e.node, e.time);

    const raftRole = RAFT_ROLES.has(e.role);
    // 'down' (and any non-Raft role) is the harness marking a killed or paused node, term 0
    // by convention: not the node's term, so never compared.
    if (!raftRole) lastDown.set(e.node, e.time);
    else {
      const seen: TermObservation = { kind: e.kind, time: e.time, term: e.term, role: e.role };
      const last = e.kind === 'role' ? lastOwnRole : lastSample;
      const prev = last.get(e.node);
      // Two samples stamped close together may have been in flight at once and arrived out
      // of order; without a restart between them the lower one may simply be the older.
      const mayBeReordered = e.kind === 'status' && prev !== undefined && e.time - prev.time < sampleOverlapNs && (lastDown.get(e.node) ?? -Infinity) <= prev.time;
      if (prev !== undefined && e.term < prev.term && !mayBeReordered) {
        termRegressions.push({ kind: 'term-regression', node: e.node, time: e.time, fromTerm: prev.term, toTerm: e.term, before: prev, after: seen });
      }
      if (prev === undefined || e.term >= prev.term || !mayBeReordered) last.set(e.node, seen);
    }
    if (healedAt !== null && e.time > healedAt && raftRole) eventsAfterHeal += 1;
    // A status sample is stamped when its response arrived, possibly after a role change it
    // predates: one from an older term than the node already reported is stale, not news.
    const known = maxTerm.get(e.node);
    if (e.kind === 'status' && known !== undefined && e.term < known) {
      staleSamples += 1;
      continue;
    }
    if (raftRole) maxTerm.set(e.node, Math.max(known ?? e.term, e.term));
    if (healedAt !== null && e.time > healedAt && e.role === 'leader' && leaderAfterHeal === null) leaderAfterHeal = { node: e.node, time: e.time };

    const cur = open.get(e.node);
    const leads = e.role === 'leader';
    if (cur !== undefined && (!leads || cur.term !== e.term)) {
      intervals.push({ node: e.node, term: cur.term, from: cur.from, to: e.time });
      open.delete(e.node);
    }
    if (leads && !open.has(e.node)) open.set(e.node, { term: e.term, from: e.time });
  }
  for (const [node, cur] of open) intervals.push({ node, term: cur.term, from: cur.from, to: end });
  intervals.sort((a, b) => a.from - b.from || a.to - b.to);

  const violations: TwoLeadersViolation[] = [];
  for (const [term, perTerm] of [...claims].sort((a, b) => a[0] - b[0])) {
    if (perTerm.size < 2) continue;
    violations.push({
      kind: 'two-leaders',
      term,
      leaders: [...perTerm]
        .map(([node, c]) => ({ node, firstTime: c.firstTime, reportedBy: [...c.reportedBy].sort() }))
        .sort((a, b) => a.firstTime - b.firstTime),
    });
  }

  const overlaps = findOverlaps(intervals);
  const gaps = leaderlessGaps(intervals, start, end);
  const leaderlessTotal = gaps.reduce((s, g) => s + g.durationMs, 0);
  const longestGap = gaps.reduce<LeaderlessGap | null>((best, g) => (best === null || g.durationMs > best.durationMs ? g : best), null);
  const longestOverlapMs = overlaps.reduce((m, o) => Math.max(m, o.durationMs), 0);

  const recovery: Recovery | null =
    healedAt === null
      ? null
      : { healedAt, leaderAt: leaderAfterHeal?.time ?? null, leader: leaderAfterHeal?.node ?? null, eventsAfter: eventsAfterHeal, recovered: leaderAfterHeal !== null };
  const termRegressionInvalid = options.termRegressionInvalid ?? true;
  const valid: Validity =
    violations.length > 0 || (termRegressionInvalid && termRegressions.length > 0) ? false : recovery !== null && !recovery.recovered ? 'unknown' : true;

  const nodes = [...new Set(events.map((e) => e.node))].sort();
  const parts: string[] = [];
  if (violations.length > 0) {
    const first = violations[0]!;
    parts.push(`${first.leaders.length} leaders in term ${first.term}: ${first.leaders.map((l) => l.node).join(', ')}` + (violations.length > 1 ? ` (and ${violations.length - 1} more terms)` : ''));
  } else {
    parts.push(`one leader per term over ${claims.size} terms`);
  }
  if (termRegressions.length > 0) {
    const r = termRegressions[0]!;
    const more = termRegressions.length > 1 ? ` (${termRegressions.length} term regressions in all)` : '';
    parts.push(`${r.node}'s term went backwards from ${r.fromTerm} (${observed(r.before)}) to ${r.toTerm} (${observed(r.after)}): it lost durable state${more}`);
  }
  if (recovery !== null && !recovery.recovered) {
    parts.push(`the cluster never recovered: ${recovery.eventsAfter === 0 ? 'no node answered' : 'no leader'} after the heal at ${fmtS(recovery.healedAt)}`);
  }
  parts.push(`${overlaps.length} leader overlaps (longest ${fmtMs(longestOverlapMs)})`);
  parts.push(`${fmtMs(leaderlessTotal)} without a leader (longest ${fmtMs(longestGap?.durationMs ?? 0)})`);

  return {
    checker: 'election',
    valid,
    summary: parts.join('; '),
    terms: claims.size,
    nodes,
    violations,
    termRegressions,
    recovery,
    staleSamples,
    leaderIntervals: intervals,
    overlaps: overlaps.slice(0, maxListed),
    overlapCount: overlaps.length,
    overlapTotalMs: overlaps.reduce((s, o) => s + o.durationMs, 0),
    longestOverlapMs,
    leaderless: { totalMs: leaderlessTotal, longest: longestGap, gaps: gaps.slice(0, maxListed), gapCount: gaps.length, from: start, to: end },
  };
}

export class ElectionChecker implements Checker {
  readonly name = 'election';
  constructor(private readonly options: ElectionOptions = {}) {}
  check(input: CheckInput): ElectionResult {
    return checkElection(input, this.options);
  }
}

function roleEvents(events: readonly NodeEvent[]): RoleEvent[] {
  const out: { e: RoleEvent; i: number }[] = [];
  events.forEach((e, i) => {
    if (e.kind !== 'role' && e.kind !== 'status') return;
    const where = `event ${i} (${e.kind})`;
    if (typeof e.time !== 'number' || !Number.isFinite(e.time)) throw new Error(`${where}: time must be a finite number, got ${JSON.stringify(e.time)}`);
    if (typeof e.node !== 'string' || e.node === '') throw new Error(`${where}: node must be a non-empty string`);
    if (typeof e.role !== 'string') throw new Error(`${where}: role must be a string`);
    if (!Number.isInteger(e.term) || e.term < 0) throw new Error(`${where}: term must be a non-negative integer, got ${JSON.stringify(e.term)}`);
    if (e.leader !== null && typeof e.leader !== 'string') throw new Error(`${where}: leader must be a string or null`);
    out.push({ e, i });
  });
  // Stable by time, then by position in the log: events at the same instant keep their order.
  out.sort((a, b) => a.e.time - b.e.time || a.i - b.i);
  return out.map((x) => x.e);
}

function findOverlaps(intervals: readonly LeaderInterval[]): LeaderOverlap[] {
  const out: LeaderOverlap[] = [];
  const active: LeaderInterval[] = [];
  for (const iv of intervals) {
    for (let k = active.length - 1; k >= 0; k--) if (active[k]!.to <= iv.from) active.splice(k, 1);
    for (const other of active) {
      if (other.node === iv.node) continue;
      const from = Math.max(other.from, iv.from);
      const to = Math.min(other.to, iv.to);
      if (to <= from) continue;
      out.push({
        from,
        to,
        durationMs: nsToMs(to - from),
        leaders: [
          { node: other.node, term: other.term },
          { node: iv.node, term: iv.term },
        ],
        sameTerm: other.term === iv.term,
      });
    }
    active.push(iv);
  }
  return out.sort((a, b) => a.from - b.from);
}

function leaderlessGaps(intervals: readonly LeaderInterval[], start: number, end: number): LeaderlessGap[] {
  const gaps: LeaderlessGap[] = [];
  let covered = start;
  for (const iv of intervals) {
    if (iv.from > covered) gaps.push({ from: covered, to: iv.from, durationMs: nsToMs(iv.from - covered) });
    covered = Math.max(covered, iv.to);
  }
  if (end > covered) gaps.push({ from: covered, to: end, durationMs: nsToMs(end - covered) });
  return gaps;
}

/**
 * When the last fault was healed: the completion of the last `stop-X` or `heal` nemesis op
 * after which no fault (`start-X` without its stop) is in effect; null when there is none.
 */
export function lastHeal(history: readonly Op[]): number | null {
  const openFaults = new Set<string>();
  let healed: number | null = null;
  for (const op of history) {
    if (op.process !== 'nemesis' || op.type === 'invoke') continue;
    if (op.f.startsWith('start-')) openFaults.add(op.f.slice('start-'.length));
    else if (op.f.startsWith('stop-')) {
      openFaults.delete(op.f.slice('stop-'.length));
      if (openFaults.size === 0) healed = op.time;
    } else if (op.f === 'heal') {
      openFaults.clear();
      healed = op.time;
    }
  }
  return openFaults.size > 0 ? null : healed;
}

function observed(o: TermObservation): string {
  return `${o.kind === 'role' ? 'role log' : 'status sample'} at ${fmtS(o.time)}, ${o.role}`;
}

function fmtS(ns: number): string {
  return `${(ns / 1e9).toFixed(1)} s`;
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}
