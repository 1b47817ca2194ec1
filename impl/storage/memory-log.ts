/**
 * The in-memory copy of the durable log that serves RaftStorage reads. Like etcd's
 * MemoryStorage, `ents[0]` is a dummy entry holding the index and term of the last
 * compacted entry (or the snapshot), which removes the off-by-ones around firstIndex.
 */
import { CompactedError, UnavailableError } from '../raft/types.ts';
import type { Entry, Index, Term } from '../raft/types.ts';

/** Bytes an entry counts for against `maxBytes` in `entries()`: its payload, as in the core's MemoryStorage. */
export function entrySize(e: Entry): number {
  return e.data.byteLength;
}

export class MemoryLog {
  private ents: Entry[];

  constructor(snapshotIndex: Index, snapshotTerm: Term) {
    this.ents = [dummy(snapshotIndex, snapshotTerm)];
  }

  /** Index of the dummy entry: the last compacted index. */
  get offset(): number {
    return this.ents[0]!.index;
  }

  firstIndex(): Index {
    return (this.offset + 1) as Index;
  }

  lastIndex(): Index {
    return (this.offset + this.ents.length - 1) as Index;
  }

  term(i: Index): Term {
    const off = this.offset;
    if (i < off) throw new CompactedError(i);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    return this.ents[i - off]!.term;
  }

  /** Entries in [lo, hi), limited to maxBytes but never empty when the range is not. */
  entries(lo: Index, hi: Index, maxBytes: number): Entry[] {
    const off = this.offset;
    if (lo <= off) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi);
    if (hi <= lo) return [];
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - off]!;
      bytes += entrySize(e);
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /**
   * Append, replacing any conflicting suffix from entries[0].index (Raft §5.3: a follower
   * deletes an entry that conflicts with the leader's and everything after it). Entries at or
   * below the offset are already compacted (hence committed) and are skipped.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== first + i) {
        throw new RangeError(`entries to append are not contiguous: position ${i} has index ${entries[i]!.index}, expected ${first + i}`);
      }
    }
    const last = this.lastIndex();
    if (first > last + 1) throw new RangeError(`log gap: appending at index ${first} but the last index is ${last}`);
    const off = this.offset;
    const skip = Math.max(0, off + 1 - first);
    if (skip >= entries.length) return;
    const start = first + skip;
    this.ents.length = start - off; // drop the conflicting suffix (if any)
    for (let k = skip; k < entries.length; k++) this.ents.push(entries[k]!);
  }

  /** Discard entries up to and including `i` (they are covered by a snapshot); a no-op if already compacted. */
  compact(i: Index): void {
    const off = this.offset;
    if (i <= off) return;
    if (i > this.lastIndex()) throw new UnavailableError(i);
    const t = this.ents[i - off]!.term;
    this.ents = [dummy(i, t), ...this.ents.slice(i - off + 1)];
  }

  /** Drop every entry after `i` (i >= offset). */
  truncateAfter(i: Index): void {
    if (i < this.offset) throw new CompactedError(i);
    if (i < this.lastIndex()) this.ents.length = i - this.offset + 1;
  }

  /** Replace the whole log with an empty one after a snapshot at (index, term). */
  reset(i: Index, t: Term): void {
    this.ents = [dummy(i, t)];
  }
}

function dummy(i: Index, t: Term): Entry {
  return { index: i, term: t, type: 'noop', data: new Uint8Array(0) };
}
