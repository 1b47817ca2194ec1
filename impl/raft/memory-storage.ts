/**
 * An in-memory RaftStorage (etcd's MemoryStorage), for tests, the simulator and benchmarks.
 *
 * `ents[0]` is a dummy entry holding the index and term of the last compacted entry (the
 * snapshot), so `term(firstIndex - 1)` always has an answer and no range check is off by one.
 */
import { encodeConfChange } from './conf-change.ts';
import type { ConfState, Entry, HardState, Index, NodeId, RaftStorage, Snapshot, Term } from './types.ts';
import { CompactedError, UnavailableError, index, term } from './types.ts';

const EMPTY = new Uint8Array(0);
const EMPTY_CONF: ConfState = { voters: [], learners: [] };

/**
 * The log a brand-new cluster starts from (etcd's Bootstrap): for each initial voter an
 * 'add-learner' and a 'promote' entry at term 1, all committed. Membership lives in the log,
 * so a member added later learns the initial configuration by replaying it.
 */
export function bootstrapEntries(voters: readonly NodeId[]): Entry[] {
  if (voters.length === 0) throw new Error('bootstrapEntries: at least one voter is required');
  if (new Set(voters).size !== voters.length) throw new Error(`bootstrapEntries: duplicate voter in [${voters.join(', ')}]`);
  const out: Entry[] = [];
  for (const node of voters) {
    for (const type of ['add-learner', 'promote'] as const) {
      out.push({ term: term(1), index: index(out.length + 1), type: 'conf-change', data: encodeConfChange({ type, node }) });
    }
  }
  return out;
}

/** The hard state that goes with bootstrapEntries: term 1, no vote, everything committed. */
export function bootstrapHardState(voters: readonly NodeId[]): HardState {
  return { term: term(1), vote: null, commit: index(voters.length * 2) };
}

export class MemoryStorage implements RaftStorage {
  private hardState: HardState = { term: term(0), vote: null, commit: index(0) };
  private snap: Snapshot = { metadata: { index: index(0), term: term(0), confState: EMPTY_CONF }, data: EMPTY };
  /** ents[0] is the dummy entry at the snapshot's index. */
  private ents: Entry[] = [{ term: term(0), index: index(0), type: 'noop', data: EMPTY }];

  /**
   * A storage for a member of a new cluster whose initial voters are `voters` (every
   * initial member bootstraps with the same list). A node joining an existing cluster
   * starts with `new MemoryStorage()` and learns everything from the leader.
   */
  static bootstrap(voters: readonly NodeId[]): MemoryStorage {
    const s = new MemoryStorage();
    s.append(bootstrapEntries(voters));
    s.setHardState(bootstrapHardState(voters));
    return s;
  }

  initialState(): { readonly hardState: HardState; readonly confState: ConfState } {
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  /** The hard state last persisted. */
  getHardState(): HardState {
    return this.hardState;
  }

  setHardState(hs: HardState): void {
    this.hardState = hs;
  }

  private offset(): number {
    return (this.ents[0] as Entry).index;
  }

  firstIndex(): Index {
    return index(this.offset() + 1);
  }

  lastIndex(): Index {
    return index(this.offset() + this.ents.length - 1);
  }

  term(i: Index): Term {
    const offset = this.offset();
    if (i < offset) throw new CompactedError(i);
    const e = this.ents[i - offset];
    if (e === undefined) throw new UnavailableError(i);
    return e.term;
  }

  entries(lo: Index, hi: Index, maxBytes: number): readonly Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi);
    if (hi <= lo) return [];
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo - offset; i < hi - offset; i++) {
      const e = this.ents[i] as Entry;
      bytes += e.data.byteLength;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Every stored entry (for tests and the simulator's log-matching checks). */
  allEntries(): readonly Entry[] {
    return this.ents.slice(1);
  }

  /**
   * Persist entries from a Ready: they overwrite any suffix starting at entries[0].index.
   * Entries at or below the compacted prefix are ignored. A gap is a bug in the caller.
   */
  append(entries: readonly Entry[]): void {
    const head = entries[0];
    if (head === undefined) return;
    const first = this.offset() + 1;
    const last = head.index + entries.length - 1;
    if (last < first) return;
    let start = 0;
    if (head.index < first) start = first - head.index;
    const at = (entries[start] as Entry).index - this.offset();
    if (at > this.ents.length) {
      throw new Error(`MemoryStorage.append: entry ${(entries[start] as Entry).index} leaves a gap after last index ${this.lastIndex()}`);
    }
    if (at < this.ents.length) this.ents.length = at;
    for (let i = start; i < entries.length; i++) this.ents.push(entries[i] as Entry);
  }

  /** Install a snapshot (from a Ready): the log is replaced by it. Ignores one older than ours. */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.metadata.index <= this.snap.metadata.index) return;
    this.snap = snapshot;
    this.ents = [{ term: snapshot.metadata.term, index: snapshot.metadata.index, type: 'noop', data: EMPTY }];
  }

  /**
   * Record the application's state as of applied index `i` as the latest snapshot (it can
   * then `compact(i)`). `confState` is the membership as of `i` (RawNode.confState()).
   */
  createSnapshot(i: Index, confState: ConfState, data: Uint8Array): Snapshot {
    if (i <= this.snap.metadata.index) {
      throw new Error(`MemoryStorage.createSnapshot: index ${i} is not newer than the current snapshot at ${this.snap.metadata.index}`);
    }
    if (i > this.lastIndex()) throw new Error(`MemoryStorage.createSnapshot: index ${i} is beyond the last index ${this.lastIndex()}`);
    if (i > this.hardState.commit) throw new Error(`MemoryStorage.createSnapshot: index ${i} is not committed (commit ${this.hardState.commit})`);
    this.snap = { metadata: { index: i, term: this.term(i), confState }, data };
    return this.snap;
  }

  /** Discard entries before `compactIndex` (it becomes the dummy entry). */
  compact(compactIndex: Index): void {
    const offset = this.offset();
    if (compactIndex <= offset) return;
    if (compactIndex > this.lastIndex()) {
      throw new Error(`MemoryStorage.compact: index ${compactIndex} is beyond the last index ${this.lastIndex()}`);
    }
    const i = compactIndex - offset;
    const kept = this.ents.slice(i);
    const head = kept[0] as Entry;
    kept[0] = { term: head.term, index: head.index, type: 'noop', data: EMPTY };
    this.ents = kept;
  }
}
