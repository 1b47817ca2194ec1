/**
 * The Raft log as the core sees it (etcd's raftLog and unstable): a stable prefix in the
 * application's storage, an unstable suffix not yet handed to the application for
 * persisting (or handed out but not yet acknowledged by `advance`), and the commit and
 * applied cursors.
 *
 *      storage.firstIndex()-1 ... storage entries ... | unstable.offset ... unstable entries
 *                                                     ^ everything below is durable
 */
import type { Entry, RaftStorage, Snapshot } from './types.ts';
import { CompactedError, InvariantViolation } from './types.ts';

/** `term()` answers for an index below the compacted prefix. */
export const TERM_COMPACTED = -1;
/** `term()` answers for an index beyond the last entry. */
export const TERM_UNAVAILABLE = -2;

export function isCompactedError(err: unknown): boolean {
  return err instanceof CompactedError;
}

export function entrySize(e: Entry): number {
  return e.data.byteLength;
}

/** Log entries and a snapshot not yet durable. */
export class Unstable {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  /** Index of entries[0]. */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  maybeFirstIndex(): number | null {
    return this.snapshot === null ? null : this.snapshot.metadata.index + 1;
  }

  maybeLastIndex(): number | null {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot === null ? null : this.snapshot.metadata.index;
  }

  /** The term of entry `i` if the unstable part knows it, else -1. */
  maybeTerm(i: number): number {
    if (i < this.offset) {
      const snap = this.snapshot;
      return snap !== null && snap.metadata.index === i ? snap.metadata.term : -1;
    }
    const e = this.entries[i - this.offset];
    return e === undefined ? -1 : e.term;
  }

  /** Entries up to (i, t) are durable; forget them unless they were since overwritten. */
  stableTo(i: number, t: number): void {
    const got = this.maybeTerm(i);
    if (got < 0 || i < this.offset || got !== t) return;
    const drop = i + 1 - this.offset;
    this.entries = drop >= this.entries.length ? [] : this.entries.slice(drop);
    this.offset = i + 1;
  }

  stableSnapTo(i: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === i) this.snapshot = null;
  }

  restore(snap: Snapshot): void {
    this.offset = snap.metadata.index + 1;
    this.entries = [];
    this.snapshot = snap;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    const first = ents[0];
    if (first === undefined) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      // The common case: a plain append.
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      // Replace the whole unstable part; the application overwrites storage from `after`.
      this.offset = after;
      this.entries = ents.slice();
    } else {
      // Keep [offset, after), then append.
      const kept = this.entries.slice(0, after - this.offset);
      for (const e of ents) kept.push(e);
      this.entries = kept;
    }
  }
}

export class RaftLog {
  readonly unstable: Unstable;
  /** Highest index known committed (§5.3). */
  committed: number;
  /** Highest index the application acknowledged applying (via advance). */
  applied: number;

  constructor(
    readonly storage: RaftStorage,
    committed: number,
    applied: number,
  ) {
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    this.unstable = new Unstable(last + 1);
    if (committed < first - 1 || committed > last) {
      throw new InvariantViolation(
        `storage hard state commit ${committed} is outside the log [${first - 1}, ${last}]: storage is corrupt or truncated`,
      );
    }
    this.committed = committed;
    if (applied < first - 1 || applied > committed) {
      throw new InvariantViolation(`applied index ${applied} is outside [${first - 1}, commit ${committed}]`);
    }
    this.applied = applied;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Index of the last entry that is durable (handed out in a Ready that was advanced). */
  stableLastIndex(): number {
    if (this.unstable.snapshot !== null) return Math.min(this.storage.lastIndex(), this.unstable.offset - 1);
    return this.unstable.offset - 1;
  }

  /** Term of entry `i`, valid on [firstIndex-1, lastIndex]; TERM_COMPACTED / TERM_UNAVAILABLE outside. */
  term(i: number): number {
    const t = this.unstable.maybeTerm(i);
    if (t >= 0) return t;
    if (i + 1 < this.firstIndex()) return TERM_COMPACTED;
    if (i > this.lastIndex()) return TERM_UNAVAILABLE;
    try {
      return this.storage.term(i as Entry['index']);
    } catch (err) {
      if (err instanceof CompactedError) return TERM_COMPACTED;
      throw err;
    }
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    if (t < 0) throw new InvariantViolation(`term of the last index ${this.lastIndex()} is unknown`);
    return t;
  }

  matchTerm(i: number, t: number): boolean {
    return this.term(i) === t;
  }

  /**
   * §5.3 (Figure 2, AppendEntries receiver rules 2-5): if our log has an entry at
   * `prevIndex` with `prevTerm`, append `ents` (deleting only a *conflicting* suffix, never
   * entries that match: a delayed append must not erase newer entries), advance commit to
   * min(leaderCommit, index of last new entry), and return that last new index. Null on mismatch.
   */
  maybeAppend(prevIndex: number, prevTerm: number, leaderCommit: number, ents: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + ents.length;
    const conflict = this.findConflict(ents);
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new InvariantViolation(`entry ${conflict} conflicts with a committed entry (commit ${this.committed})`);
      }
      const from = conflict - (prevIndex + 1);
      this.append(from === 0 ? ents : ents.slice(from));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  /** Index of the first entry of `ents` that is new or conflicts (same index, other term); 0 if all match. */
  findConflict(ents: readonly Entry[]): number {
    const first = ents[0];
    if (first === undefined) return 0;
    // Fast path: the batch starts beyond our log, so everything is new.
    if (first.index > this.lastIndex()) return first.index;
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The conflict hint (etcd's findConflictByTerm): the largest index <= `index` whose term
   * is <= `t`, and that term. Lets the leader skip a whole term per round trip (§5.3).
   */
  findConflictByTerm(index: number, t: number): { index: number; term: number } {
    for (let i = index; i > 0; i--) {
      const ours = this.term(i);
      // Unknown (compacted): assume it may match; term 0 says "unknown".
      if (ours < 0) return { index: i, term: 0 };
      if (ours <= t) return { index: i, term: ours };
    }
    return { index: 0, term: 0 };
  }

  append(ents: readonly Entry[]): number {
    const first = ents[0];
    if (first === undefined) return this.lastIndex();
    if (first.index - 1 < this.committed) {
      throw new InvariantViolation(`appending at ${first.index} would overwrite committed entries (commit ${this.committed})`);
    }
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /** Raises commit; never lowers it. Throws if `to` is beyond the log (a corrupt leader or log). */
  commitTo(to: number): void {
    if (to <= this.committed) return;
    const last = this.lastIndex();
    if (to > last) throw new InvariantViolation(`commit ${to} is beyond the last log index ${last}`);
    this.committed = to;
  }

  /**
   * §5.4.2, Figure 8: a leader commits by counting replicas only an entry of its current
   * term; earlier entries commit indirectly with it (Log Matching).
   */
  maybeCommit(quorumIndex: number, currentTerm: number): boolean {
    if (quorumIndex > this.committed && this.term(quorumIndex) === currentTerm) {
      this.commitTo(quorumIndex);
      return true;
    }
    return false;
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    if (i > this.committed || i < this.applied) {
      throw new InvariantViolation(`applied(${i}) is out of range [applied ${this.applied}, committed ${this.committed}]`);
    }
    this.applied = i;
  }

  /** §5.4.1: is a candidate's log at least as up-to-date as ours (last term, then last index)? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [lo, hi), at most maxBytes but at least one. Throws CompactedError below firstIndex. */
  slice(lo: number, hi: number, maxBytes: number): readonly Entry[] {
    if (lo >= hi) return [];
    const first = this.firstIndex();
    if (lo < first) throw new CompactedError(lo as Entry['index']);
    const last = this.lastIndex();
    if (hi > last + 1) throw new InvariantViolation(`slice [${lo}, ${hi}) is beyond the last index ${last}`);
    const u = this.unstable;
    let out: Entry[] = [];
    let bytes = 0;
    if (lo < u.offset) {
      const stableHi = Math.min(hi, u.offset);
      const stored = this.storage.entries(lo as Entry['index'], stableHi as Entry['index'], maxBytes);
      if (stored.length < stableHi - lo || hi <= u.offset) return stored;
      out = stored.slice();
      for (const e of stored) bytes += entrySize(e);
    }
    const ents = u.entries;
    for (let i = Math.max(lo, u.offset); i < hi; i++) {
      const e = ents[i - u.offset];
      if (e === undefined) break;
      const size = entrySize(e);
      if (out.length > 0 && bytes + size > maxBytes) break;
      bytes += size;
      out.push(e);
    }
    return out;
  }

  /** Committed entries not yet applied (and not covered by a pending snapshot). */
  nextCommittedEntries(): readonly Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 <= lo) return [];
    return this.slice(lo, this.committed + 1, Number.POSITIVE_INFINITY);
  }

  hasNextCommittedEntries(): boolean {
    return this.committed > Math.max(this.applied, this.firstIndex() - 1);
  }

  /** Install a snapshot from the leader: the whole log is replaced by it (§7). */
  restore(snap: Snapshot): void {
    this.committed = snap.metadata.index;
    this.unstable.restore(snap);
  }
}
