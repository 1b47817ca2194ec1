/**
 * Lease safety: per lease name, no two holders may believe they hold the lease at once, and
 * fencing tokens grow with every grant. A holder's belief is its *safe window* as promised in
 * impl/API.md ("Lease guarantee"): from the moment the grant was acknowledged until its
 * invocation time + ttl − margin, the margin covering clock-rate drift between holder and leader.
 * Timing windows come from the client's clock (the history's), never the store's.
 */
import type { CheckInput, CheckResult, Checker, Validity } from '../checker.ts';
import { pairOps } from '../history/pair.ts';
import type { CompletedOp } from '../history/types.ts';

export interface LeaseOptions {
  /**
   * Safety margin (ms) subtracted from every window: a number, or a function of the grant's
   * ttlMs. Default as the store: max(100 ms, 10% of ttlMs).
   */
  readonly marginMs?: number | ((ttlMs: number) => number);
  /**
   * A re-acquire by the current holder may return its existing token, like a renewal
   * (default true: the store does so, "same tenure", impl/store/kv-state-machine.ts). With
   * false, equal tokens are legal only for a `renew` by the same holder.
   */
  readonly reacquireKeepsToken?: boolean;
  /** How many violations of each kind to list (default 50; counts cover all). */
  readonly maxListed?: number;
}

/** One acknowledged acquire or renew: the holder may act as holder during [from, to) (ns). */
export interface SafeWindow {
  readonly lease: string;
  readonly holder: string;
  readonly token: string;
  readonly f: 'acquire' | 'renew';
  /** When the grant was acknowledged (the ok's time). */
  readonly from: number;
  /** invocation time + ttlMs − margin, or the holder's release invocation if earlier. */
  readonly to: number;
  readonly invokeIndex: number;
}

export interface OverlapViolation {
  readonly kind: 'overlap';
  readonly lease: string;
  readonly first: SafeWindow;
  readonly second: SafeWindow;
  readonly from: number;
  readonly to: number;
  readonly overlapMs: number;
}

export interface TokenOrderViolation {
  readonly kind: 'token-order';
  readonly lease: string;
  /** Completed before `later` was invoked... */
  readonly earlier: { readonly holder: string; readonly token: string; readonly f: string; readonly start: number; readonly end: number; readonly invokeIndex: number };
  /** ...yet got a token that is not greater (or equal, for a different holder). */
  readonly later: { readonly holder: string; readonly token: string; readonly f: string; readonly start: number; readonly end: number; readonly invokeIndex: number };
}

export type LeaseViolation = OverlapViolation | TokenOrderViolation;

export interface LeaseStats {
  readonly lease: string;
  readonly grants: number;
  readonly holders: number;
  /** Acquires that ended in `info`: may have been granted; their tokens are unknown and ignored. */
  readonly indeterminateAcquires: number;
  /** Grants acknowledged too late to leave any safe time (ok after invocation + ttl − margin). */
  readonly emptyWindows: number;
  readonly maxToken: string | null;
}

export interface LeaseResult extends CheckResult {
  readonly checker: 'lease';
  readonly leases: readonly LeaseStats[];
  readonly overlapCount: number;
  readonly tokenViolationCount: number;
  readonly violations: readonly LeaseViolation[];
}

interface Grant {
  readonly lease: string;
  readonly holder: string;
  readonly token: bigint;
  readonly f: 'acquire' | 'renew';
  readonly start: number;
  readonly end: number;
  readonly invokeIndex: number;
  windowTo: number;
}

const MS = 1e6;

export function defaultMarginMs(ttlMs: number): number {
  return Math.max(100, ttlMs * 0.1);
}

export function checkLease(input: CheckInput, options: LeaseOptions = {}): LeaseResult {
  const margin = options.marginMs ?? defaultMarginMs;
  const marginFor = (ttl: number): number => (typeof margin === 'number' ? margin : margin(ttl));
  const maxListed = options.maxListed ?? 50;

  const byLease = new Map<string, CompletedOp[]>();
  for (const op of pairOps(input.history)) {
    if (op.f !== 'acquire' && op.f !== 'renew' && op.f !== 'release') continue;
    const name = leaseName(op);
    let list = byLease.get(name);
    if (list === undefined) byLease.set(name, (list = []));
    list.push(op);
  }

  const overlaps: OverlapViolation[] = [];
  const tokenViolations: TokenOrderViolation[] = [];
  const stats: LeaseStats[] = [];
  for (const [lease, ops] of [...byLease].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const grants = collectGrants(lease, ops, marginFor);
    overlaps.push(...findOverlaps(lease, grants));
    tokenViolations.push(...findTokenViolations(lease, grants, options.reacquireKeepsToken ?? true));
    const maxToken = grants.reduce<bigint | null>((m, g) => (m === null || g.token > m ? g.token : m), null);
    stats.push({
      lease,
      grants: grants.length,
      holders: new Set(grants.map((g) => g.holder)).size,
      indeterminateAcquires: ops.filter((o) => o.f === 'acquire' && o.type === 'info').length,
      emptyWindows: grants.filter((g) => g.windowTo <= g.end).length,
      maxToken: maxToken === null ? null : maxToken.toString(),
    });
  }

  const totalGrants = stats.reduce((s, l) => s + l.grants, 0);
  const valid: Validity = overlaps.length > 0 || tokenViolations.length > 0 ? false : totalGrants === 0 ? 'unknown' : true;
  let summary: string;
  if (overlaps.length > 0) {
    const o = overlaps[0]!;
    summary = `lease ${o.lease}: ${o.first.holder} (token ${o.first.token}) and ${o.second.holder} (token ${o.second.token}) both held it for ${o.overlapMs.toFixed(1)} ms`;
  } else if (tokenViolations.length > 0) {
    const t = tokenViolations[0]!;
    summary = `lease ${t.lease}: token ${t.later.token} (${t.later.holder}) granted after token ${t.earlier.token} (${t.earlier.holder}) completed`;
  } else if (totalGrants === 0) {
    summary = 'no granted leases to check';
  } else {
    summary = `${totalGrants} grants over ${stats.length} leases: no overlapping holders, tokens increase`;
  }
  if (overlaps.length + tokenViolations.length > 1) summary += ` (${overlaps.length} overlaps, ${tokenViolations.length} token-order violations)`;

  return {
    checker: 'lease',
    valid,
    summary,
    leases: stats,
    overlapCount: overlaps.length,
    tokenViolationCount: tokenViolations.length,
    violations: [...overlaps.slice(0, maxListed), ...tokenViolations.slice(0, maxListed)],
  };
}

export class LeaseChecker implements Checker {
  readonly name = 'lease';
  constructor(private readonly options: LeaseOptions = {}) {}
  check(input: CheckInput): LeaseResult {
    return checkLease(input, this.options);
  }
}

function leaseName(op: CompletedOp): string {
  if (op.key !== undefined) return String(op.key);
  const name = field(op.invokeValue, 'name');
  if (typeof name === 'string') return name;
  throw new Error(`op ${op.invokeIndex}: ${op.f} has no key (the lease name)`);
}

function field(v: unknown, name: string): unknown {
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[name] : undefined;
}

function parseToken(v: unknown, where: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'bigint') return v;
  throw new Error(`${where}: token must be an integer (number or decimal string), got ${JSON.stringify(v)}`);
}

function collectGrants(lease: string, ops: readonly CompletedOp[], marginFor: (ttl: number) => number): Grant[] {
  const grants: Grant[] = [];
  const ttlByToken = new Map<string, number>(); // holder/token -> ttl of its last grant, for renews that carry none
  const releases: CompletedOp[] = [];
  for (const op of ops) {
    const where = `op ${op.invokeIndex} (${op.f} of lease ${lease})`;
    const holder = field(op.invokeValue, 'holder');
    if (typeof holder !== 'string' || holder === '') throw new Error(`${where}: invoke value needs "holder" (a non-empty string)`);
    if (op.f === 'release') {
      releases.push(op);
      continue;
    }
    if (op.type !== 'ok') continue;
    const f = op.f as 'acquire' | 'renew';
    const token = parseToken(field(op.value, 'token') ?? (f === 'renew' ? field(op.invokeValue, 'token') : undefined), where);
    const ttl = field(op.invokeValue, 'ttlMs') ?? field(op.value, 'ttlMs') ?? ttlByToken.get(`${holder}/${token}`);
    if (typeof ttl !== 'number' || !(ttl > 0)) throw new Error(`${where}: no ttlMs (a positive number) in the invoke value, the ok value or an earlier grant of token ${token}`);
    ttlByToken.set(`${holder}/${token}`, ttl);
    grants.push({ lease, holder, token, f, start: op.start, end: op.end, invokeIndex: op.invokeIndex, windowTo: op.start + (ttl - marginFor(ttl)) * MS });
  }
  // A holder that invoked release stops acting as holder then, whatever the outcome: cap its
  // earlier windows (of the released token, when the release names one).
  for (const rel of releases) {
    const holder = field(rel.invokeValue, 'holder') as string;
    const raw = field(rel.invokeValue, 'token');
    const token = raw === undefined ? null : parseToken(raw, `op ${rel.invokeIndex} (release of lease ${lease})`);
    for (const g of grants) {
      if (g.holder === holder && (token === null || g.token === token) && g.end <= rel.start) g.windowTo = Math.min(g.windowTo, rel.start);
    }
  }
  return grants;
}

function windowOf(g: Grant): SafeWindow {
  return { lease: g.lease, holder: g.holder, token: g.token.toString(), f: g.f, from: g.end, to: g.windowTo, invokeIndex: g.invokeIndex };
}

function findOverlaps(lease: string, grants: readonly Grant[]): OverlapViolation[] {
  const windows = grants.filter((g) => g.windowTo > g.end).sort((a, b) => a.end - b.end);
  const out: OverlapViolation[] = [];
  const active: Grant[] = [];
  for (const w of windows) {
    for (let k = active.length - 1; k >= 0; k--) if (active[k]!.windowTo <= w.end) active.splice(k, 1);
    for (const other of active) {
      if (other.holder === w.holder) continue;
      const from = w.end;
      const to = Math.min(other.windowTo, w.windowTo);
      out.push({ kind: 'overlap', lease, first: windowOf(other), second: windowOf(w), from, to, overlapMs: (to - from) / MS });
    }
    active.push(w);
  }
  return out;
}

/**
 * Grant order is real-time order: if grant A completed before grant B was invoked, B's token
 * must exceed A's; equal only when B is a renewal by A's holder (or, with
 * `reacquireKeepsToken`, any grant to A's holder). One witness, the largest earlier token,
 * is reported per offending grant.
 */
function findTokenViolations(lease: string, grants: readonly Grant[], reacquireKeepsToken: boolean): TokenOrderViolation[] {
  const byEnd = [...grants].sort((a, b) => a.end - b.end);
  const byStart = [...grants].sort((a, b) => a.start - b.start);
  const out: TokenOrderViolation[] = [];
  let maxGrant: Grant | null = null;
  let holdersAtMax = new Map<string, Grant>();
  let i = 0;
  for (const later of byStart) {
    while (i < byEnd.length && byEnd[i]!.end < later.start) {
      const g = byEnd[i++]!;
      if (maxGrant === null || g.token > maxGrant.token) {
        maxGrant = g;
        holdersAtMax = new Map([[g.holder, g]]);
      } else if (g.token === maxGrant.token && !holdersAtMax.has(g.holder)) {
        holdersAtMax.set(g.holder, g);
      }
    }
    if (maxGrant === null) continue;
    let witness: Grant | null = null;
    if (maxGrant.token > later.token) witness = maxGrant;
    else if (maxGrant.token === later.token) {
      const mayRepeat = later.f === 'renew' || reacquireKeepsToken;
      witness = [...holdersAtMax.values()].find((g) => !mayRepeat || g.holder !== later.holder) ?? null;
    }
    if (witness !== null) out.push({ kind: 'token-order', lease, earlier: brief(witness), later: brief(later) });
  }
  return out;
}

function brief(g: Grant): TokenOrderViolation['earlier'] {
  return { holder: g.holder, token: g.token.toString(), f: g.f, start: g.start, end: g.end, invokeIndex: g.invokeIndex };
}
