/**
 * The leader's view of each follower (etcd's tracker.Progress and Inflights): where its log
 * matches ours, what to send next, and how much may be in flight (flow control).
 */

/**
 * A ring buffer of the last index of each append in flight and its byte size. Full means
 * the leader must wait for acknowledgements before streaming more.
 */
export class Inflights {
  // Allocated on first use: every node keeps a Progress per peer, but only a leader sends.
  private indexes: number[] = [];
  private sizes: number[] = [];
  private start = 0;
  count = 0;
  bytes = 0;

  constructor(
    private readonly capacity: number,
    private readonly maxBytes: number,
  ) {}

  full(): boolean {
    return this.count === this.capacity || this.bytes >= this.maxBytes;
  }

  add(lastIndex: number, bytes: number): void {
    if (this.full()) throw new Error('Inflights.add: buffer is full');
    if (this.indexes.length === 0) {
      this.indexes = new Array<number>(this.capacity).fill(0);
      this.sizes = new Array<number>(this.capacity).fill(0);
    }
    let slot = this.start + this.count;
    if (slot >= this.capacity) slot -= this.capacity;
    this.indexes[slot] = lastIndex;
    this.sizes[slot] = bytes;
    this.count++;
    this.bytes += bytes;
  }

  /** Frees every append whose last index is <= `to` (they were acknowledged). */
  freeLE(to: number): void {
    while (this.count > 0 && (this.indexes[this.start] ?? 0) <= to) {
      this.bytes -= this.sizes[this.start] ?? 0;
      this.start++;
      if (this.start === this.capacity) this.start = 0;
      this.count--;
    }
    if (this.count === 0) this.start = 0;
  }

  freeFirstOne(): void {
    if (this.count > 0) this.freeLE(this.indexes[this.start] ?? 0);
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known replicated and persisted on the peer. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state: the index of the snapshot being installed. */
  pendingSnapshot = 0;
  /** Highest commit index sent to the peer in an append (optimistic: the append may be lost). */
  sentCommit = 0;
  /** Heard from since the last check-quorum round (thesis §6.2). */
  recentActive = false;
  /**
   * In probe state, an append is outstanding: wait for its answer (or a heartbeat response)
   * before probing again, so a lagging follower gets one probe per round trip, not a flood.
   */
  probeSent = false;
  /** Times the peer refused an entry it had acknowledged (its log lost its tail); see maybeDecrTo. */
  lostAcknowledged = 0;
  readonly inflights: Inflights;

  constructor(
    next: number,
    maxInflightMsgs: number,
    maxInflightBytes: number,
    public isLearner: boolean,
  ) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it: the follower now holds everything up to it.
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** An acknowledgement up to `n`; false if it was stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    return updated;
  }

  /**
   * A rejection of the append whose previous index was `rejected`; `matchHint` is the
   * follower's best guess of where our logs may match. False if the rejection was stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      // Appends are sent optimistically; a rejection at or below match is a reordered old one.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the latest probe's answer counts.
    if (this.next - 1 !== rejected) return false;
    if (rejected <= this.match) {
      // The follower refuses an entry it acknowledged: its log lost its tail (a truncated
      // or lost WAL, outside Raft's model). Probing from match + 1 again would be refused
      // again, at network speed, forever (the simulation found that livelock). We know
      // nothing about its log any more: count nothing for it until it acknowledges again
      // (commit only ever counts a match, so this is safe) and probe down from its hint.
      this.match = 0;
      this.lostAcknowledged++;
    }
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /** Bookkeeping after an append carrying `entries` entries up to `lastIndex`, `bytes` in total. */
  sentEntries(entries: number, lastIndex: number, bytes: number): void {
    switch (this.state) {
      case 'replicate':
        if (entries > 0) {
          this.next = lastIndex + 1;
          this.inflights.add(lastIndex, bytes);
        }
        break;
      case 'probe':
        if (entries > 0) this.probeSent = true;
        break;
      case 'snapshot':
        throw new Error('Progress.sentEntries: cannot send entries while a snapshot is pending');
    }
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
