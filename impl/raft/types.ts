/**
 * Public types of the Raft core. The core is a pure, synchronous state machine in the
 * spirit of etcd's RawNode: the application feeds it ticks, messages and proposals, and
 * drains `Ready` batches of work (persist, send, apply), then calls `advance`.
 *
 * Nothing here performs I/O or reads a clock: time is a tick counter and randomness is
 * injected, so the same inputs always give the same outputs.
 */

declare const brand: unique symbol;
/** A nominal wrapper so a term cannot be passed where an index belongs. */
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A node's identity, unique within a cluster for its lifetime ("n1", "n2", ...). */
export type NodeId = Brand<string, 'NodeId'>;
/** A Raft term (§5.1): a logical clock that only ever increases. 0 means "none yet". */
export type Term = Brand<number, 'Term'>;
/** A log index (§5.3). Index 0 is the empty log's sentinel; real entries start at 1. */
export type Index = Brand<number, 'Index'>;

export const nodeId = (s: string): NodeId => s as NodeId;
export const term = (n: number): Term => n as Term;
export const index = (n: number): Index => n as Index;

/** Durable per-node state that must reach stable storage before any reply depending on it (Figure 2). */
export interface HardState {
  readonly term: Term;
  /** Candidate voted for in `term`, or null. */
  readonly vote: NodeId | null;
  /** Highest index known committed. Persisted so a restart does not re-apply from 0 needlessly. */
  readonly commit: Index;
}

/** A cluster membership: voters decide elections and commits; learners only receive the log. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** A single membership change (thesis §4.1: one server at a time). */
export type ConfChange =
  | { readonly type: 'add-learner'; readonly node: NodeId }
  | { readonly type: 'promote'; readonly node: NodeId }
  | { readonly type: 'remove'; readonly node: NodeId };

export type EntryType = 'normal' | 'conf-change' | 'noop';

export interface Entry {
  readonly term: Term;
  readonly index: Index;
  readonly type: EntryType;
  /**
   * Application payload for 'normal', JSON-encoded `ConfChange` for 'conf-change',
   * empty for 'noop'. Opaque bytes to the core.
   */
  readonly data: Uint8Array;
}

export interface SnapshotMetadata {
  /** Last index covered by the snapshot. */
  readonly index: Index;
  /** Term of the entry at `index`. */
  readonly term: Term;
  /** Membership as of `index`. */
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  /** The application's serialized state machine at `metadata.index`. Opaque to the core. */
  readonly data: Uint8Array;
}

/** Message kinds, as in etcd/raft's raftpb.MessageType (the subset Raft itself needs). */
export type MessageType =
  | 'pre-vote'
  | 'pre-vote-resp'
  | 'vote'
  | 'vote-resp'
  | 'append'
  | 'append-resp'
  | 'heartbeat'
  | 'heartbeat-resp'
  | 'snapshot'
  | 'timeout-now'
  /** A follower forwards a ReadIndex request to the leader; the leader answers with read-index-resp. */
  | 'read-index'
  | 'read-index-resp';

/**
 * One wire message. Fields not used by a message type are left at their zero value
 * (0, null, empty array) so messages serialize uniformly.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  /** Sender's current term (or the proposed term, for pre-vote). */
  readonly term: Term;
  /** append: index preceding `entries`; vote/pre-vote: candidate's last log index; append-resp: match index or rejected index. */
  readonly index: Index;
  /** append: term of `index`; vote/pre-vote: candidate's last log term. */
  readonly logTerm: Term;
  readonly entries: readonly Entry[];
  /** Leader's commit index (append, heartbeat). */
  readonly commit: Index;
  /** vote-resp, pre-vote-resp, append-resp: true when the request was rejected. */
  readonly reject: boolean;
  /** append-resp: conflict hint for fast back-off (follower's last index, or first index of the conflicting term). */
  readonly rejectHint: Index;
  /** append-resp with reject: the term of the follower's entry at `rejectHint` (0 if none), as in etcd. */
  readonly rejectHintTerm: Term;
  readonly snapshot: Snapshot | null;
  /** heartbeat/heartbeat-resp/read-index/read-index-resp: opaque read request context. */
  readonly context: string | null;
}

/** A linearizable read became servable: once the application has applied through `index`. */
export interface ReadState {
  readonly requestId: string;
  readonly index: Index;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export interface SoftState {
  readonly role: Role;
  readonly term: Term;
  readonly leader: NodeId | null;
}

/**
 * A batch of work for the application. Contract, in order (etcd's Ready):
 *  1. persist `hardState` (if non-null), `entries` (appending; they may overwrite a
 *     conflicting suffix starting at entries[0].index) and `snapshot` (if non-null),
 *     durably (fsync);
 *  2. send `messages` (may be sent before or concurrently with step 1) and, only after
 *     step 1 completed, `persistedMessages` (vote grants, append acknowledgements);
 *  3. apply `committedEntries` in order (after installing `snapshot`, if any);
 *  4. serve `readStates` once applied through their index;
 *  5. call `advance(ready)`.
 */
export interface Ready {
  readonly softState: SoftState;
  /** Non-null when hard state changed and must be persisted. */
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly committedEntries: readonly Entry[];
  /** Messages that may be sent immediately. */
  readonly messages: readonly Message[];
  /** Messages that must not leave before this Ready's hard state and entries are durable. */
  readonly persistedMessages: readonly Message[];
  readonly readStates: readonly ReadState[];
}

/** Seeded randomness, injected. `nextInt(n)` returns an integer in [0, n). */
export interface Rng {
  nextInt(n: number): number;
}

export interface RaftConfig {
  readonly id: NodeId;
  /** Ticks without hearing from a leader before a follower campaigns. Randomized in [e, 2e). Must exceed heartbeatTicks. */
  readonly electionTicks: number;
  /** Ticks between leader heartbeats. */
  readonly heartbeatTicks: number;
  readonly rng: Rng;
  /** Pre-vote (thesis §9.6): a partitioned node cannot inflate terms. Default true. */
  readonly preVote?: boolean;
  /**
   * Check-quorum (thesis §6.2): a leader that has not heard from a quorum during an election
   * timeout steps down. Checked once per election timeout, so the step-down lands one to two
   * timeouts after the last quorum contact (as in etcd). Default true.
   */
  readonly checkQuorum?: boolean;
  /** Max append messages in flight per follower (flow control). Default 256. */
  readonly maxInflightMsgs?: number;
  /** Max bytes of entries in flight per follower. Default 16 MiB. */
  readonly maxInflightBytes?: number;
  /**
   * Max bytes of entries in one append message. Default 1 MiB. An entry larger than this
   * still travels, alone in its message (etcd's MaxSizePerMsg).
   */
  readonly maxMsgBytes?: number;
  /**
   * Max bytes of one proposal's data; larger ones are refused (ProposalDropped 'too-large').
   * Default 1 MiB. Kept apart from maxMsgBytes, as etcd keeps --max-request-bytes apart from
   * MaxSizePerMsg: small append messages must not shrink what clients may write.
   */
  readonly maxProposalBytes?: number;
  /** Throw on invariant violations (terms decrease, double vote, commit regress, commit > last). Default true. */
  readonly checkInvariants?: boolean;
  /**
   * The last index the application had already applied before this start (a durable state
   * machine restarting). Committed entries up to it are not handed out again. Default: the
   * storage's snapshot index (an in-memory state machine restored from the snapshot).
   */
  readonly applied?: Index;
}

/**
 * The core's view of stable storage. Contract (etcd's Storage): entries live on the
 * half-open range [firstIndex, lastIndex + 1); `term(i)` is valid on [firstIndex - 1, lastIndex].
 * The core reads through this and writes only via `Ready`; the application applies a
 * Ready's writes to it before `advance`.
 */
export interface RaftStorage {
  initialState(): { readonly hardState: HardState; readonly confState: ConfState };
  /** Entries in [lo, hi), at most maxBytes in total but always at least one if any exist. Throws CompactedError / UnavailableError. */
  entries(lo: Index, hi: Index, maxBytes: number): readonly Entry[];
  term(i: Index): Term;
  firstIndex(): Index;
  lastIndex(): Index;
  snapshot(): Snapshot;
}

export class CompactedError extends Error {
  constructor(readonly requested: Index) {
    super(`log index ${requested} is compacted`);
    this.name = 'CompactedError';
  }
}

export class UnavailableError extends Error {
  constructor(readonly requested: Index) {
    super(`log index ${requested} is not yet available`);
    this.name = 'UnavailableError';
  }
}

/** A violated Raft invariant: a bug in the core or in the application's handling of Ready. */
export class InvariantViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvariantViolation';
  }
}

/** Rejected proposals throw this; the application answers the client with a definite failure. */
export class ProposalDropped extends Error {
  constructor(readonly reason: 'not-leader' | 'transferring' | 'conf-change-pending' | 'too-large' | 'invalid-conf-change') {
    super(`proposal dropped: ${reason}`);
    this.name = 'ProposalDropped';
  }
}

/** What the leader knows about one peer's replication (etcd's tracker.Progress), for the application. */
export interface PeerProgress {
  readonly id: NodeId;
  readonly isLearner: boolean;
  /** Highest index known to be replicated (and persisted) on the peer. */
  readonly match: Index;
  /** Next index the leader will send. */
  readonly next: Index;
  /** probe: finding the match point; replicate: streaming; snapshot: waiting for a snapshot install. */
  readonly state: 'probe' | 'replicate' | 'snapshot';
  /** Heard from within the current check-quorum window. */
  readonly recentActive: boolean;
}

/**
 * The core's API (implemented by `RawNode` in raw-node.ts): `new RawNode(config, storage)`.
 * All methods are synchronous and deterministic.
 */
export interface RawNodeApi {
  /** Advance logical time by one tick (elections, heartbeats, check-quorum, transfer timeouts). */
  tick(): void;
  /** Feed a message received from a peer. Messages from unknown terms/peers are handled per Raft rules. */
  step(message: Message): void;
  /** Start an election now (used by tests and by leadership transfer). */
  campaign(): void;
  /** Append application data to the log. Throws ProposalDropped when not leader or transferring. */
  propose(data: Uint8Array): void;
  /** Propose one membership change. Throws ProposalDropped when another change is pending or the leader has not committed an entry of its term. */
  proposeMembershipChange(change: ConfChange): void;
  /**
   * Request a linearizable read (ReadIndex, thesis §6.4). A matching ReadState appears in a
   * later Ready once leadership is confirmed by a quorum round started after this call.
   * On a follower the request is forwarded to the leader. Dropped silently without a leader;
   * the application times it out.
   */
  readIndex(requestId: string): void;
  /** Ask the leader to hand leadership to `to` (thesis §3.10). */
  transferLeadership(to: NodeId): void;
  /** Report that a message to `to` could not be delivered, so replication probes again. */
  reportUnreachable(to: NodeId): void;
  /** Report the outcome of sending a snapshot to `to`. */
  reportSnapshot(to: NodeId, ok: boolean): void;
  hasReady(): boolean;
  ready(): Ready;
  /**
   * Acknowledge that every part of `ready` has been handled (persisted, sent, applied).
   * Membership changes take effect when the application advances past their committed
   * entry (etcd's apply-time semantics); the core applies them itself, and a leader
   * removed from the configuration steps down then.
   */
  advance(ready: Ready): void;
  /** Current role/term/leader, for status pages. */
  softState(): SoftState;
  /** Current membership as applied by the core. */
  confState(): ConfState;
  /** Current commit index and last log index, for status pages. */
  progress(): { readonly commit: Index; readonly lastIndex: Index; readonly applied: Index };
  /**
   * Replication progress of every member (including this node) when this node is the
   * leader; empty otherwise. The application promotes a learner once its `match` caught up.
   */
  peerProgress(): readonly PeerProgress[];
}
