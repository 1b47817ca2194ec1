/**
 * The consensus driver: one async loop per node around the pure Raft core (etcd's raft
 * "node" goroutine, in one JavaScript task). Inputs — ticks from a timer, peer messages,
 * proposals, read requests — are fed to the core synchronously as they arrive; the loop
 * drains the core's Ready batches and performs their effects in the order the Ready
 * contract demands (impl/raft/types.ts):
 *
 *   1. send `messages` at once (the leader's appends go out in parallel with its own fsync,
 *      thesis §10.2.1);
 *   2. persist hard state, entries and snapshot (fsync);
 *   3. only then send `persistedMessages` (vote grants, append acks: Raft Figure 2 requires
 *      the state they vouch for to be on stable storage);
 *   4. install the snapshot into the state machine, apply committed entries, answer the
 *      local proposers whose entries they are (without a snapshot, committed entries are
 *      applied already while step 2 runs: committed means durable on a quorum);
 *   5. serve read states once applied through their index;
 *   6. advance.
 *
 * Group commit falls out of the loop's shape: while one Ready's fsync is in flight, new
 * proposals accumulate in the core's unstable log and all go into the next Ready, so one
 * fsync covers every proposal that arrived during the previous one.
 */
import { createHash } from 'node:crypto';
import type { Clock, ConsensusHandle, NodeStatus, StateMachine } from './contracts.ts';
import { ConsensusError } from './contracts.ts';
import type { ConfChange, ConfState, Entry, Index, Message, NodeId, RawNodeApi, ReadState, Ready, SoftState, Term } from '../raft/types.ts';
import { ProposalDropped, index as toIndex } from '../raft/types.ts';
import { DEFAULT_MAX_PROPOSAL_BYTES } from '../raft/config.ts';
import type { UnsafeName } from './config.ts';
import type { Logger } from './log.ts';
import type { DurableStorage, PeerAddr, PeerLink } from './seams.ts';
import type { Platform, TimerHandle } from './platform.ts';
import type { ProposalId } from './envelope.ts';
import { decodeEnvelope, encodeEnvelope, sameProposal } from './envelope.ts';

/** What `propose` resolves with under `--unsafe ack-before-commit`: the entry is only appended and fsynced locally. */
export interface EarlyAck {
  readonly unsafeEarlyAck: true;
  readonly index: Index;
}

export function isEarlyAck(x: unknown): x is EarlyAck {
  return typeof x === 'object' && x !== null && (x as { unsafeEarlyAck?: unknown }).unsafeEarlyAck === true;
}

/** What the driver takes from the platform: clocks, timers, randomness and the events file. */
export type DriverPlatform = Pick<Platform, 'clock' | 'timers' | 'random' | 'fs'>;

export interface DriverOptions {
  readonly id: NodeId;
  readonly platform: DriverPlatform;
  readonly rawNode: RawNodeApi;
  readonly storage: DurableStorage;
  readonly transport: PeerLink;
  readonly stateMachine: StateMachine;
  readonly clock: Clock;
  readonly tickMs: number;
  /** Snapshot and compact after this many applied entries. */
  readonly snapshotEntries: number;
  readonly unsafe: ReadonlySet<UnsafeName>;
  /** Client URLs by node id (this node's own advertised URL included), for leader hints. */
  readonly clientUrls: ReadonlyMap<NodeId, string>;
  /** Where role changes are appended as JSON lines; null to skip. */
  readonly eventsPath: string | null;
  readonly logger: Logger;
  /** Index the state machine was restored to at start (the snapshot's index, or 0). */
  readonly appliedIndex: Index;
  /** Default time a proposal or read may wait. */
  readonly proposalTimeoutMs?: number;
  /** Largest proposal accepted (bytes of payload). */
  readonly maxProposalBytes?: number;
  /** How close a learner's match index must be to the leader's last index before it is promoted. */
  readonly promoteWithinEntries?: number;
  /** Applied entries remembered for the digest (older ones are read back from the log while it holds them). */
  readonly digestCapacity?: number;
  /** Called once if the loop dies (storage failure): the node must stop, its state is unknown. */
  readonly onFatal?: (err: Error) => void;
}

interface ProposalWaiter {
  readonly id: ProposalId;
  readonly index: Index;
  readonly resolve: (result: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: TimerHandle;
}

interface ReadWaiter {
  settled: boolean;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly timer: TimerHandle;
}

interface ReadBatch {
  readonly requestId: string;
  readonly waiters: ReadWaiter[];
  readonly issuedAt: number;
  index: Index | null;
}

interface AppliedWaiter {
  readonly predicate: () => boolean;
  readonly resolve: () => void;
}

const DIGEST_HASH_HEX = 16;

export function entryHash(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex').slice(0, DIGEST_HASH_HEX);
}

export class RaftDriver implements ConsensusHandle {
  readonly id: NodeId;
  readonly clock: Clock;
  readonly unsafe: ReadonlySet<UnsafeName>;

  private readonly rawNode: RawNodeApi;
  private readonly storage: DurableStorage;
  private readonly transport: PeerLink;
  private readonly sm: StateMachine;
  private readonly logger: Logger;
  private readonly clientUrls: Map<NodeId, string>;
  private readonly proposalTimeoutMs: number;
  private readonly maxProposalBytes: number;
  private readonly promoteWithinEntries: number;

  private readonly platform: DriverPlatform;
  /** Tells this process's proposals from an earlier one's (envelope.ts). */
  private readonly incarnation: number;
  private proposalCounter = 0;
  private readCounter = 0;
  private readonly proposals = new Map<number, ProposalWaiter>();
  private readQueue: ReadWaiter[] = [];
  private readonly readsInFlight = new Map<string, ReadBatch>();
  private readsAwaitingApply: ReadBatch[] = [];
  private appliedWaiters: AppliedWaiter[] = [];
  private readonly roleListeners = new Set<(status: NodeStatus) => void>();

  private applied: Index;
  private lastSnapshotIndex: Index;
  private durableTerm: Term;
  /** True while the loop awaits an fsync (acks arriving meanwhile may be applied at once). */
  private saving = false;
  private durableVote: NodeId | null;
  private soft: SoftState;
  private readonly digestIndex: Float64Array;
  private readonly digestTerm: Float64Array;
  /** Entry data, hashed lazily when a digest is asked for (hashing every applied entry costs the hot path). */
  private readonly digestData: (Uint8Array | string)[];

  private stopped = false;
  private wakeLoop: (() => void) | null = null;
  private loopDone: Promise<void> | null = null;
  private tickTimer: TimerHandle | null = null;
  private unsafeTimer: TimerHandle | null = null;
  private fatal: Error | null = null;

  /** Counters for status and metrics. */
  readonly stats = { readies: 0, fsyncs: 0, entriesPersisted: 0, entriesApplied: 0, messagesSent: 0, messagesReceived: 0, snapshotsCreated: 0, snapshotsInstalled: 0 };

  constructor(private readonly options: DriverOptions) {
    this.id = options.id;
    this.platform = options.platform;
    this.incarnation = options.platform.random.uint32();
    this.clock = options.clock;
    this.unsafe = options.unsafe;
    this.rawNode = options.rawNode;
    this.storage = options.storage;
    this.transport = options.transport;
    this.sm = options.stateMachine;
    this.logger = options.logger;
    this.clientUrls = new Map(options.clientUrls);
    this.proposalTimeoutMs = options.proposalTimeoutMs ?? 5_000;
    this.maxProposalBytes = options.maxProposalBytes ?? DEFAULT_MAX_PROPOSAL_BYTES;
    this.promoteWithinEntries = options.promoteWithinEntries ?? 100;
    this.applied = options.appliedIndex;
    this.lastSnapshotIndex = options.appliedIndex;
    this.soft = this.rawNode.softState();
    const initialHard = this.storage.initialState().hardState;
    this.durableTerm = initialHard.term;
    this.durableVote = initialHard.vote;
    const capacity = options.digestCapacity ?? 16_384;
    this.digestIndex = new Float64Array(capacity).fill(-1);
    this.digestTerm = new Float64Array(capacity);
    this.digestData = new Array<Uint8Array | string>(capacity).fill('');
  }

  /** Start ticking and processing. Call once. */
  start(): void {
    const timers = this.platform.timers;
    this.tickTimer = timers.setInterval(() => {
      this.rawNode.tick();
      this.wake();
    }, this.options.tickMs);
    if (this.unsafe.size > 0) {
      const warn = (): void => this.logger.warn('UNSAFE switches are enabled: this node may lose or corrupt data on purpose', { unsafe: [...this.unsafe] });
      warn();
      this.unsafeTimer = timers.setInterval(warn, 60_000, { unref: true });
    }
    this.loopDone = this.run().catch((err: unknown) => {
      this.fatal = err instanceof Error ? err : new Error(String(err));
      this.logger.error('consensus loop failed; the node stops serving', { err: this.fatal });
      this.failAll(new ConsensusError('stopped', false, null, `consensus loop failed: ${this.fatal.message}`));
      if (this.tickTimer !== null) timers.clear(this.tickTimer);
      this.options.onFatal?.(this.fatal);
    });
  }

  /** Stop the loop after the Ready in progress (if any) is fully handled, and fail every waiter. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.tickTimer !== null) this.platform.timers.clear(this.tickTimer);
    if (this.unsafeTimer !== null) this.platform.timers.clear(this.unsafeTimer);
    this.wake();
    await this.loopDone;
    this.failAll(new ConsensusError('stopped', false, null, 'node is shutting down'));
  }

  /** The loop's fatal error, if it died (storage failure); main.ts exits on it. */
  failure(): Error | null {
    return this.fatal;
  }

  /** Deliver one message from a peer (wired to the transport's receive callback). */
  receive(message: Message): void {
    if (this.stopped) return;
    if (message.to !== this.id) return;
    this.stats.messagesReceived++;
    if (message.type === 'heartbeat') {
      const { commit, lastIndex } = this.rawNode.progress();
      if (message.commit > lastIndex) {
        // The leader believes we hold entries we do not (our data dir was wiped or a torn
        // tail lost acknowledged entries). Committing past our log is impossible; answer
        // the heartbeat without the commit so the leader's next append finds our real end
        // (etcd panics here instead: "was the raft log corrupted, truncated, or lost?").
        message = { ...message, commit };
      }
    }
    try {
      this.rawNode.step(message);
    } catch (err) {
      this.logger.warn('dropped a peer message the core rejected', { from: message.from, type: message.type, err });
      return;
    }
    if (this.saving && message.type === 'append-resp') this.applyCommittedWhileSaving();
    this.wake();
  }

  /**
   * An acknowledgement that arrives while the loop waits for an fsync may commit entries;
   * apply them now instead of after that fsync and the next Ready (the core hands them out
   * again then, and applyEntry skips what is applied). They need not be durable *here*:
   * committed means durable on a quorum, so no future leader lacks them (§5.4), and thesis
   * §10.2.1 lets the leader commit before its own write finishes. This takes the leader's own
   * fsync off the path from "acknowledged by the followers" to "answered". Only entries
   * storage already holds (handed to it by a Ready) can be read back here.
   * Stops before a conf-change entry: the core applies membership at advance, and a snapshot
   * taken after advance must see the configuration as of the applied index.
   */
  private applyCommittedWhileSaving(): void {
    const upTo = Math.min(this.rawNode.progress().commit, this.storage.lastIndex());
    if (upTo <= this.applied) return;
    let entries: readonly Entry[];
    try {
      entries = this.storage.entries(toIndex(this.applied + 1), toIndex(upTo + 1), Number.MAX_SAFE_INTEGER);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.type === 'conf-change') break;
      this.applyEntry(entry);
    }
    this.serveReads();
  }

  /** The transport handed a snapshot to the socket (ok) or dropped it (etcd ReportSnapshot). */
  reportSnapshot(to: NodeId, ok: boolean): void {
    if (this.stopped) return;
    this.rawNode.reportSnapshot(to, ok);
    this.wake();
  }

  /** A message to `to` could not be delivered; replication probes again (etcd ReportUnreachable). */
  reportUnreachable(to: NodeId): void {
    if (this.stopped) return;
    this.rawNode.reportUnreachable(to);
  }

  // ---------------------------------------------------------------- ConsensusHandle

  propose(data: Uint8Array, options?: { readonly timeoutMs?: number }): Promise<unknown> {
    if (this.stopped || this.fatal !== null) return Promise.reject(new ConsensusError('stopped', true, null, 'node is not running'));
    if (data.length > this.maxProposalBytes) {
      return Promise.reject(new ConsensusError('too-large', true, null, `proposal of ${data.length} bytes exceeds ${this.maxProposalBytes}`));
    }
    const notLeader = this.notLeaderError();
    if (notLeader !== null) return Promise.reject(notLeader);
    const id: ProposalId = { node: this.id, incarnation: this.incarnation, counter: ++this.proposalCounter >>> 0 };
    try {
      this.rawNode.propose(encodeEnvelope(id, data));
    } catch (err) {
      return Promise.reject(this.translateDropped(err));
    }
    // The core appends a proposal synchronously at the end of the leader's log, so the
    // index it will have (if it commits under this leader) is the last index now.
    const at = this.rawNode.progress().lastIndex;
    this.wake();
    return new Promise<unknown>((resolve, reject) => {
      const timeoutMs = options?.timeoutMs ?? this.proposalTimeoutMs;
      const timer = this.platform.timers.setTimeout(() => {
        if (this.proposals.get(at)?.id === id) this.proposals.delete(at);
        reject(new ConsensusError('timeout', false, null, `proposal at index ${at} not applied within ${timeoutMs} ms; it may still commit`));
      }, timeoutMs);
      const previous = this.proposals.get(at);
      if (previous !== undefined) {
        // Our earlier proposal at this index was truncated by a newer leader's log before
        // we saw it applied; its fate is unknown to us now.
        this.platform.timers.clear(previous.timer);
        previous.reject(new ConsensusError('timeout', false, null, `entry at index ${at} was overwritten; outcome unknown`));
      }
      this.proposals.set(at, { id, index: at, resolve, reject, timer });
    });
  }

  readBarrier(options?: { readonly timeoutMs?: number }): Promise<void> {
    if (this.stopped || this.fatal !== null) return Promise.reject(new ConsensusError('stopped', true, null, 'node is not running'));
    const notLeader = this.notLeaderError();
    if (notLeader !== null) return Promise.reject(notLeader);
    return new Promise<void>((resolve, reject) => {
      const timeoutMs = options?.timeoutMs ?? this.proposalTimeoutMs;
      const waiter: ReadWaiter = {
        settled: false,
        resolve: () => {
          if (waiter.settled) return;
          waiter.settled = true;
          this.platform.timers.clear(waiter.timer);
          resolve();
        },
        reject: (err) => {
          if (waiter.settled) return;
          waiter.settled = true;
          this.platform.timers.clear(waiter.timer);
          reject(err);
        },
        timer: this.platform.timers.setTimeout(() => waiter.reject(new ConsensusError('timeout', false, null, `read barrier not confirmed within ${timeoutMs} ms`)), timeoutMs),
      };
      this.readQueue.push(waiter);
      this.issueReads();
      this.wake();
    });
  }

  status(): NodeStatus {
    const soft = this.rawNode.softState();
    const progress = this.rawNode.progress();
    return {
      id: this.id,
      role: soft.role,
      term: soft.term,
      leader: soft.leader,
      commit: progress.commit,
      applied: this.applied,
      lastIndex: progress.lastIndex,
      members: this.rawNode.confState(),
    };
  }

  onRoleChange(listener: (status: NodeStatus) => void): () => void {
    this.roleListeners.add(listener);
    return () => this.roleListeners.delete(listener);
  }

  async addMember(id: NodeId, peerAddr?: string): Promise<ConfState> {
    const deadline = this.platform.clock.monotonicMs() + 60_000;
    if (peerAddr !== undefined) this.transport.setPeer(id, parsePeerAddr(peerAddr));
    const conf = this.rawNode.confState();
    if (conf.voters.includes(id)) return conf;
    if (!conf.learners.includes(id)) {
      await this.changeMembership({ type: 'add-learner', node: id }, () => this.rawNode.confState().learners.includes(id) || this.rawNode.confState().voters.includes(id), deadline);
      this.logger.info('added learner', { member: id });
    }
    // Promote only once the learner holds (nearly) the whole log, so making it a voter
    // does not leave the cluster without a quorum able to commit (thesis §4.2.1).
    await this.waitUntil(() => {
      if (this.rawNode.confState().voters.includes(id)) return true;
      const leaderLast = this.rawNode.progress().lastIndex;
      const learner = this.rawNode.peerProgress().find((p) => p.id === id);
      return learner !== undefined && learner.match + this.promoteWithinEntries >= leaderLast && learner.match > 0;
    }, deadline, `learner ${id} did not catch up`);
    if (!this.rawNode.confState().voters.includes(id)) {
      await this.changeMembership({ type: 'promote', node: id }, () => this.rawNode.confState().voters.includes(id), deadline);
      this.logger.info('promoted learner to voter', { member: id });
    }
    return this.rawNode.confState();
  }

  async removeMember(id: NodeId): Promise<ConfState> {
    const deadline = this.platform.clock.monotonicMs() + 30_000;
    const has = (): boolean => {
      const conf = this.rawNode.confState();
      return conf.voters.includes(id) || conf.learners.includes(id);
    };
    if (!has()) return this.rawNode.confState();
    await this.changeMembership({ type: 'remove', node: id }, () => !has(), deadline);
    this.logger.info('removed member', { member: id });
    return this.rawNode.confState();
  }

  digest(from: Index, to: Index): readonly { readonly index: Index; readonly term: Term; readonly hash: string }[] {
    const out: { index: Index; term: Term; hash: string }[] = [];
    const hi = Math.min(to, this.applied, from + 100_000);
    let firstInLog: number;
    try {
      firstInLog = this.storage.firstIndex();
    } catch {
      firstInLog = Number.POSITIVE_INFINITY;
    }
    for (let i = Math.max(1, from); i <= hi; i++) {
      const slot = i % this.digestIndex.length;
      if (this.digestIndex[slot] === i) {
        let hash = this.digestData[slot] ?? '';
        if (typeof hash !== 'string') {
          hash = entryHash(hash);
          this.digestData[slot] = hash;
        }
        out.push({ index: toIndex(i), term: this.digestTerm[slot] as Term, hash });
        continue;
      }
      if (i < firstInLog) continue;
      // Not in the ring (applied before this process started, or evicted): the log still
      // holds it, and the digest is over what was applied, which is what the log says.
      try {
        const [entry] = this.storage.entries(toIndex(i), toIndex(i + 1), Number.MAX_SAFE_INTEGER);
        if (entry !== undefined) out.push({ index: entry.index, term: entry.term, hash: entryHash(entry.data) });
      } catch {
        // compacted meanwhile: skip
      }
    }
    return out;
  }

  /** Learn (or change) a node's client URL for leader hints. */
  setClientUrl(id: NodeId, url: string): void {
    this.clientUrls.set(id, url);
  }

  // ---------------------------------------------------------------- the loop

  private wake(): void {
    const wake = this.wakeLoop;
    if (wake !== null) {
      this.wakeLoop = null;
      wake();
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (!this.rawNode.hasReady()) {
        await new Promise<void>((resolve) => {
          this.wakeLoop = resolve;
        });
        continue;
      }
      const ready = this.rawNode.ready();
      await this.handleReady(ready);
      this.rawNode.advance(ready);
      this.afterAdvance();
    }
  }

  private async handleReady(ready: Ready): Promise<void> {
    this.stats.readies++;
    this.noteSoftState(ready.softState);

    for (const message of ready.messages) this.send(message);

    // Committed entries can be applied while this Ready's fsync runs, even those this very
    // Ready persists: committed means durable on a quorum (Raft's commit rule counts only
    // durable copies: followers acknowledge after their fsync, the leader counts itself once
    // its own write is done), so no future leader lacks them (§5.4), and a committed entry
    // is never overwritten. This takes the local fsync off the path from "committed" to
    // "answered" (etcd 3.4 applies concurrently with the WAL write the same way; thesis
    // §10.2.1). With a snapshot in the Ready everything waits: it replaces the state first.
    let early = 0;
    if (ready.snapshot === null) {
      while (early < ready.committedEntries.length) {
        this.applyEntry(ready.committedEntries[early]!);
        early++;
      }
    }
    for (const state of ready.readStates) this.noteReadState(state);
    if (early > 0) this.serveReads();

    const hard = ready.hardState;
    // Term and vote must be durable before any message that depends on them (Figure 2);
    // a commit index alone need not be (etcd's MustSync): the leader tells us again.
    const mustSync = ready.entries.length > 0 || ready.snapshot !== null || (hard !== null && (hard.term !== this.durableTerm || hard.vote !== this.durableVote));
    if (mustSync) {
      this.saving = ready.snapshot === null;
      try {
        await this.storage.save(hard, ready.entries, ready.snapshot);
      } finally {
        this.saving = false;
      }
      this.stats.fsyncs++;
      this.stats.entriesPersisted += ready.entries.length;
      if (hard !== null) {
        this.durableTerm = hard.term;
        this.durableVote = hard.vote;
      }
      if (this.unsafe.has('ack-before-commit') && ready.entries.length > 0) this.earlyAck(ready.entries);
    } else if (hard !== null) {
      this.storage.append(hard, [], null);
    }

    for (const message of ready.persistedMessages) this.send(message);

    if (ready.snapshot !== null && ready.snapshot.metadata.index > this.applied) {
      this.sm.restore(ready.snapshot.data);
      this.applied = ready.snapshot.metadata.index;
      this.lastSnapshotIndex = this.applied;
      this.stats.snapshotsInstalled++;
      this.logger.info('installed snapshot from leader', { index: this.applied, term: ready.snapshot.metadata.term });
      // Anything we proposed up to here was decided by others; we cannot tell how.
      for (const [at, waiter] of this.proposals) {
        if (at <= this.applied) this.settleProposal(waiter, new ConsensusError('timeout', false, null, `entry at index ${at} was covered by an installed snapshot; outcome unknown`));
      }
    }

    for (let i = early; i < ready.committedEntries.length; i++) this.applyEntry(ready.committedEntries[i]!);
    this.serveReads();
  }

  private applyEntry(entry: Entry): void {
    if (entry.index <= this.applied) return;
    let result: unknown = undefined;
    let proposal: ProposalId | null = null;
    switch (entry.type) {
      case 'normal': {
        const { id, payload } = decodeEnvelope(entry.data);
        proposal = id;
        result = this.sm.apply({ term: entry.term, index: entry.index, type: entry.type, data: payload });
        break;
      }
      case 'noop':
      case 'conf-change':
        this.sm.applyIndexOnly(entry);
        break;
    }
    this.applied = entry.index;
    this.stats.entriesApplied++;
    const slot = entry.index % this.digestIndex.length;
    this.digestIndex[slot] = entry.index;
    this.digestTerm[slot] = entry.term;
    this.digestData[slot] = entry.data;

    const waiter = this.proposals.get(entry.index);
    if (waiter !== undefined) {
      if (proposal !== null && sameProposal(proposal, waiter.id)) {
        this.proposals.delete(entry.index);
        this.platform.timers.clear(waiter.timer);
        waiter.resolve(result);
      } else {
        this.settleProposal(waiter, new ConsensusError('timeout', false, null, `index ${entry.index} holds another leader's entry; the proposal's outcome is unknown`));
      }
    }
  }

  private settleProposal(waiter: ProposalWaiter, err: Error): void {
    this.proposals.delete(waiter.index);
    this.platform.timers.clear(waiter.timer);
    waiter.reject(err);
  }

  private earlyAck(entries: readonly Entry[]): void {
    for (const entry of entries) {
      const waiter = this.proposals.get(entry.index);
      if (waiter === undefined) continue;
      const { id } = decodeEnvelope(entry.data);
      if (id === null || !sameProposal(id, waiter.id)) continue;
      this.proposals.delete(entry.index);
      this.platform.timers.clear(waiter.timer);
      const ack: EarlyAck = { unsafeEarlyAck: true, index: entry.index };
      waiter.resolve(ack);
    }
  }

  private afterAdvance(): void {
    if (this.appliedWaiters.length > 0) {
      const still: AppliedWaiter[] = [];
      for (const w of this.appliedWaiters) {
        if (w.predicate()) w.resolve();
        else still.push(w);
      }
      this.appliedWaiters = still;
    }
    this.issueReads();
    if (this.applied - this.lastSnapshotIndex >= this.options.snapshotEntries) this.snapshotAndCompact();
  }

  private snapshotInProgress = false;

  private snapshotAndCompact(): void {
    if (this.snapshotInProgress) return;
    this.snapshotInProgress = true;
    const at = this.applied;
    const conf = this.rawNode.confState();
    const data = this.sm.snapshot();
    // Keep some entries behind the snapshot so a slightly lagging follower catches up from
    // the log instead of needing a whole snapshot (etcd's SnapshotCatchUpEntries).
    const keep = Math.min(5_000, Math.floor(this.options.snapshotEntries / 2));
    this.lastSnapshotIndex = at;
    void (async () => {
      try {
        await this.storage.createSnapshot(at, conf, data);
        // Never past what the core itself has handed out as applied: entries applied early
        // (applyCommittedWhileSaving) are still read back by the core for the next Ready.
        const compactTo = Math.min(at - keep, this.rawNode.progress().applied);
        if (compactTo > this.storage.firstIndex()) await this.storage.compact(toIndex(compactTo));
        this.stats.snapshotsCreated++;
        this.logger.info('snapshot taken and log compacted', { index: at, compactedThrough: compactTo, bytes: data.length });
      } catch (err) {
        this.logger.error('snapshot or compaction failed', { index: at, err });
      } finally {
        this.snapshotInProgress = false;
      }
    })();
  }

  // ---------------------------------------------------------------- reads

  private issueReads(): void {
    if (this.readQueue.length === 0) return;
    const now = this.platform.clock.monotonicMs();
    for (const [id, batch] of this.readsInFlight) {
      // The core drops a read request silently when leadership is lost; give up on it.
      if (now - batch.issuedAt > this.proposalTimeoutMs) {
        this.readsInFlight.delete(id);
        for (const w of batch.waiters) w.reject(new ConsensusError('timeout', false, null, 'read index request was not confirmed'));
      }
    }
    // One ReadIndex round at a time serves every read that arrived before it was issued;
    // reads arriving meanwhile wait for the next round (its quorum check must start after them).
    if (this.readsInFlight.size > 0) return;
    const waiters = this.readQueue.filter((w) => !w.settled);
    this.readQueue = [];
    if (waiters.length === 0) return;
    const notLeader = this.notLeaderError();
    if (notLeader !== null) {
      for (const w of waiters) w.reject(notLeader);
      return;
    }
    const requestId = `${this.id}-${this.incarnation}-${++this.readCounter}`;
    this.readsInFlight.set(requestId, { requestId, waiters, issuedAt: now, index: null });
    this.rawNode.readIndex(requestId);
  }

  private noteReadState(state: ReadState): void {
    const batch = this.readsInFlight.get(state.requestId);
    if (batch === undefined) return;
    this.readsInFlight.delete(state.requestId);
    batch.index = state.index;
    this.readsAwaitingApply.push(batch);
  }

  private serveReads(): void {
    if (this.readsAwaitingApply.length === 0) return;
    const still: ReadBatch[] = [];
    for (const batch of this.readsAwaitingApply) {
      if (batch.index !== null && batch.index <= this.applied) {
        for (const w of batch.waiters) w.resolve();
      } else {
        still.push(batch);
      }
    }
    this.readsAwaitingApply = still;
  }

  // ---------------------------------------------------------------- membership

  private async changeMembership(change: ConfChange, done: () => boolean, deadline: number): Promise<void> {
    // A new leader refuses membership changes until it committed an entry of its term
    // (the fix to the single-server change bug, Ongaro's raft-dev post of 2015), and only
    // one change may be pending: retry briefly instead of failing at once.
    for (;;) {
      const notLeader = this.notLeaderError();
      if (notLeader !== null) throw notLeader;
      try {
        this.rawNode.proposeMembershipChange(change);
        this.wake();
        break;
      } catch (err) {
        if (!(err instanceof ProposalDropped) || err.reason !== 'conf-change-pending' || this.platform.clock.monotonicMs() > deadline) throw this.translateDropped(err);
        await new Promise<void>((resolve) => this.platform.timers.setTimeout(resolve, 50));
      }
    }
    await this.waitUntil(done, deadline, `membership change ${change.type} ${change.node} not applied`);
  }

  private waitUntil(predicate: () => boolean, deadline: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = this.platform.timers.setTimeout(() => {
        this.appliedWaiters = this.appliedWaiters.filter((w) => w !== waiter);
        reject(new ConsensusError('timeout', false, null, `${what} within the deadline`));
      }, Math.max(0, deadline - this.platform.clock.monotonicMs()));
      const waiter: AppliedWaiter = {
        predicate,
        resolve: () => {
          this.platform.timers.clear(timer);
          resolve();
        },
      };
      this.appliedWaiters.push(waiter);
    });
  }

  // ---------------------------------------------------------------- helpers

  private send(message: Message): void {
    this.stats.messagesSent++;
    this.transport.send(message);
  }

  private noteSoftState(soft: SoftState): void {
    const before = this.soft;
    if (before.role === soft.role && before.term === soft.term && before.leader === soft.leader) return;
    this.soft = soft;
    this.logger.info('role changed', { role: soft.role, term: soft.term, leader: soft.leader });
    if (this.options.eventsPath !== null) {
      const event = { kind: 'role', ts: this.platform.clock.wallMs(), node: this.id, role: soft.role, term: soft.term, leader: soft.leader };
      try {
        this.platform.fs.appendTextSync(this.options.eventsPath, JSON.stringify(event) + '\n');
      } catch (err) {
        this.logger.warn('could not append role event', { err });
      }
    }
    if (before.role === 'leader' && soft.role !== 'leader') {
      // Reads wait on a quorum round this node can no longer finish as leader.
      const err = this.notLeaderError() ?? new ConsensusError('no-leader', true, null, 'lost leadership');
      for (const batch of this.readsInFlight.values()) for (const w of batch.waiters) w.reject(err);
      this.readsInFlight.clear();
      for (const w of this.readQueue) w.reject(err);
      this.readQueue = [];
    }
    const status = this.status();
    for (const listener of this.roleListeners) {
      try {
        listener(status);
      } catch (err) {
        this.logger.error('role listener threw', { err });
      }
    }
  }

  private notLeaderError(): ConsensusError | null {
    const soft = this.rawNode.softState();
    if (soft.role === 'leader') return null;
    if (soft.leader === null) return new ConsensusError('no-leader', true, null, 'no leader is known right now');
    return new ConsensusError('not-leader', true, { id: soft.leader, clientUrl: this.clientUrls.get(soft.leader) ?? null }, `leader is ${soft.leader}`);
  }

  private translateDropped(err: unknown): Error {
    if (!(err instanceof ProposalDropped)) return err instanceof Error ? err : new Error(String(err));
    switch (err.reason) {
      case 'not-leader':
        return this.notLeaderError() ?? new ConsensusError('no-leader', true, null, 'proposal dropped: not leader');
      case 'transferring':
        return new ConsensusError('no-leader', true, null, 'leadership transfer in progress');
      case 'conf-change-pending':
        return new ConsensusError('conf-change-pending', true, null, 'another membership change is pending');
      case 'too-large':
        return new ConsensusError('too-large', true, null, 'proposal too large');
      case 'invalid-conf-change':
        // Adding a present member or removing an absent one: nothing to do, nothing done.
        return new ConsensusError('conf-change-pending', true, null, `membership change refused: ${err.message}`);
    }
  }

  private failAll(err: ConsensusError): void {
    for (const waiter of [...this.proposals.values()]) this.settleProposal(waiter, err);
    for (const batch of this.readsInFlight.values()) for (const w of batch.waiters) w.reject(err);
    this.readsInFlight.clear();
    for (const batch of this.readsAwaitingApply) for (const w of batch.waiters) w.reject(err);
    this.readsAwaitingApply = [];
    for (const w of this.readQueue) w.reject(err);
    this.readQueue = [];
  }
}

export function parsePeerAddr(text: string): PeerAddr {
  const match = /^(.+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || !(port >= 1 && port <= 65_535)) throw new TypeError(`peerAddr "${text}" is not host:port`);
  return { host: (match[1] ?? '').replace(/^\[(.*)\]$/, '$1'), port };
}
