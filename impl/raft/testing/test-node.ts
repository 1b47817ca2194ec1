/**
 * One cluster member as the test layers drive it: a RawNode, its disk (what survives a
 * crash) and its applied state machine (a list of entry keys, rebuilt from the snapshot
 * and the log on restart).
 *
 * Handling a Ready is split in two, as a real node with a slow disk would do it:
 *  - `takeReady()`: take the Ready; its `messages` may leave now;
 *  - `finishReady()`: persist, release `persistedMessages`, apply, advance.
 * A crash between the two loses the Ready's hard state and entries and its gated messages.
 * No input reaches the node between the two halves.
 */
import { RawNode } from '../raw-node.ts';
import type { ConfChange, ConfState, Entry, Message, NodeId, RaftConfig, Ready, Snapshot } from '../types.ts';
import { index as mkIndex } from '../types.ts';
import type { Disk } from './disk.ts';
import { compactDisk, persistReady } from './disk.ts';
import { fromUtf8, shortId, utf8 } from './format.ts';

/** The identity of an entry as the state machine sees it. Equal keys ⇔ the same entry. */
export const entryKey = (e: Entry): string => `${e.term}/${e.index}/${e.type}/${fromUtf8(e.data)}`;

interface SnapshotState {
  readonly keys: readonly string[];
}

export function encodeAppState(keys: readonly string[]): Uint8Array {
  return utf8(JSON.stringify({ keys } satisfies SnapshotState));
}

/** The applied keys held in a snapshot's data. */
export function decodeAppState(s: Snapshot): string[] {
  if (s.metadata.index === 0) return [];
  const parsed = JSON.parse(fromUtf8(s.data)) as SnapshotState;
  if (parsed.keys.length !== s.metadata.index) {
    throw new Error(`snapshot at index ${s.metadata.index} holds ${parsed.keys.length} applied entries`);
  }
  return [...parsed.keys];
}

/**
 * The membership after applying `change` (thesis §4.1 single-server changes), modelled here
 * independently of the core so the two can be compared. An inapplicable change is a no-op.
 */
export function applyMembership(conf: ConfState, change: ConfChange): ConfState {
  const isVoter = conf.voters.includes(change.node);
  const isLearner = conf.learners.includes(change.node);
  switch (change.type) {
    case 'add-learner':
      return isVoter || isLearner ? conf : { voters: conf.voters, learners: [...conf.learners, change.node] };
    case 'promote':
      return isLearner ? { voters: [...conf.voters, change.node], learners: conf.learners.filter((n) => n !== change.node) } : conf;
    case 'remove':
      if (!isVoter && !isLearner) return conf;
      if (isVoter && conf.voters.length === 1) return conf;
      return { voters: conf.voters.filter((n) => n !== change.node), learners: conf.learners.filter((n) => n !== change.node) };
  }
}

const sameMembers = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join(',') === [...b].sort().join(',');

export interface ApplyEvent {
  readonly node: NodeId;
  readonly index: number;
  readonly key: string;
}

export class TestNode {
  raw: RawNode | null;
  /** A Ready taken but not yet persisted (between takeReady and finishReady). */
  pending: Ready | null = null;
  /** applied[i - 1] is the key of the entry applied at index i. Volatile: rebuilt on restart. */
  applied: string[] = [];
  /** Membership by the index where it took effect, for snapshots taken at older indexes. */
  private confHistory: { index: number; conf: ConfState }[] = [];
  /** Membership as of the last applied entry, by this file's own model. */
  private conf: ConfState = { voters: [], learners: [] };
  incarnation = 0;
  /**
   * Set by the driver when a snapshot message reached the node between takeReady and
   * finishReady: the core switches membership when it steps a snapshot, ahead of the
   * application, so the membership comparison at the end of this Ready is skipped.
   */
  snapshotWhilePending = false;

  constructor(
    readonly id: NodeId,
    private readonly makeConfig: (incarnation: number) => RaftConfig,
    readonly disk: Disk,
  ) {
    this.raw = null;
    this.start();
  }

  get up(): boolean {
    return this.raw !== null;
  }

  get appliedIndex(): number {
    return this.applied.length;
  }

  rawNode(): RawNode {
    if (this.raw === null) throw new Error(`node ${shortId(this.id)} is down`);
    return this.raw;
  }

  /** Start (or restart) from the disk. The state machine restarts from the disk's snapshot. */
  private start(): void {
    this.incarnation++;
    this.raw = new RawNode(this.makeConfig(this.incarnation), this.disk);
    const snap = this.disk.snapshot();
    this.applied = decodeAppState(snap);
    this.conf = snap.metadata.confState;
    this.confHistory = [{ index: snap.metadata.index, conf: this.conf }];
    this.pending = null;
  }

  /** Lose everything not on disk: the RawNode's memory, a half-handled Ready, the applied state. */
  crash(): void {
    this.raw = null;
    this.pending = null;
    this.applied = [];
    this.snapshotWhilePending = false;
  }

  restart(): void {
    if (this.raw !== null) throw new Error(`node ${shortId(this.id)} is already up`);
    this.start();
  }

  /** First half of handling a Ready. Returns the Ready (whose `messages` may be sent now). */
  takeReady(): Ready {
    if (this.pending !== null) throw new Error(`node ${shortId(this.id)} has a Ready in flight`);
    const r = this.rawNode().ready();
    this.pending = r;
    return r;
  }

  /**
   * Second half: persist, then apply and advance. Returns the messages that may now be
   * sent and the entries applied (in order).
   */
  finishReady(): { readonly gated: readonly Message[]; readonly applied: readonly ApplyEvent[] } {
    const r = this.pending;
    if (r === null) throw new Error(`node ${shortId(this.id)} has no Ready in flight`);
    const raw = this.rawNode();
    persistReady(this.disk, r);
    const events: ApplyEvent[] = [];
    if (r.snapshot !== null) {
      if (r.snapshot.metadata.index > this.appliedIndex) {
        this.applied = decodeAppState(r.snapshot);
        this.conf = r.snapshot.metadata.confState;
        this.confHistory.push({ index: r.snapshot.metadata.index, conf: this.conf });
      }
    }
    for (const e of r.committedEntries) {
      if (e.index <= this.appliedIndex) {
        throw new Error(
          `node ${shortId(this.id)} was handed committed entry ${e.term}/${e.index} again after applying through ${this.appliedIndex}`,
        );
      }
      if (e.index !== this.appliedIndex + 1) {
        throw new Error(`node ${shortId(this.id)} was handed committed entry ${e.term}/${e.index} after applying only through ${this.appliedIndex}`);
      }
      const key = entryKey(e);
      this.applied.push(key);
      events.push({ node: this.id, index: e.index, key });
      if (e.type === 'conf-change') {
        this.conf = applyMembership(this.conf, JSON.parse(fromUtf8(e.data)) as ConfChange);
        this.confHistory.push({ index: e.index, conf: this.conf });
      }
    }
    this.pending = null;
    raw.advance(r);
    const core = raw.confState();
    const skipCompare = this.snapshotWhilePending;
    this.snapshotWhilePending = false;
    if (!skipCompare && (!sameMembers(core.voters, this.conf.voters) || !sameMembers(core.learners, this.conf.learners))) {
      throw new Error(
        `node ${shortId(this.id)}'s membership after applying through ${this.appliedIndex} is voters=${core.voters.join(',')} learners=${core.learners.join(',')}, expected voters=${this.conf.voters.join(',')} learners=${this.conf.learners.join(',')}`,
      );
    }
    return { gated: r.persistedMessages, applied: events };
  }

  /** Snapshot the state machine at `at` (≤ applied) and compact the disk's log through it. */
  compact(at: number): Snapshot {
    const durableCommit = this.disk.initialState().hardState.commit;
    if (at > durableCommit) throw new Error(`node ${shortId(this.id)} cannot compact to ${at}: durable commit is ${durableCommit}`);
    if (at > this.appliedIndex) throw new Error(`node ${shortId(this.id)} cannot compact to ${at}: applied only through ${this.appliedIndex}`);
    let conf: ConfState | undefined;
    for (const h of this.confHistory) if (h.index <= at) conf = h.conf;
    if (conf === undefined) throw new Error(`node ${shortId(this.id)} has no membership recorded at or before ${at}`);
    return compactDisk(this.disk, mkIndex(at), conf, encodeAppState(this.applied.slice(0, at)));
  }
}
