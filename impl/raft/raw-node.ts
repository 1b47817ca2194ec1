/**
 * The Raft core (etcd's raft.go + rawnode.go): a pure, synchronous state machine.
 *
 * Inputs: `tick()`, `step(message)`, `propose(data)` and friends. Outputs: `Ready` batches
 * (state to persist, messages to send, entries to apply), acknowledged with `advance()`.
 * No I/O, no clock, no ambient randomness: the same inputs give the same outputs, so the
 * very same code runs in a node and in a seeded simulator.
 *
 * References: the Raft paper ("In Search of an Understandable Consensus Algorithm",
 * Figure 2 and §5) and Ongaro's thesis ("Consensus: Bridging Theory and Practice").
 */
import { applyConfChange, confChangeError, decodeConfChange, encodeConfChange } from './conf-change.ts';
import type { ResolvedConfig } from './config.ts';
import { validateConfig } from './config.ts';
import { isCompactedError, RaftLog, TERM_COMPACTED, entrySize } from './log.ts';
import { Progress } from './progress.ts';
import { ReadOnly } from './read-only.ts';
import type {
  ConfChange,
  ConfState,
  Entry,
  EntryType,
  HardState,
  Index,
  Message,
  MessageType,
  NodeId,
  PeerProgress,
  RaftConfig,
  RaftStorage,
  RawNodeApi,
  ReadState,
  Ready,
  Role,
  SoftState,
} from './types.ts';
import { InvariantViolation, ProposalDropped, index, term as toTerm } from './types.ts';

type MutableMessage = { -readonly [K in keyof Message]: Message[K] };

const EMPTY_ENTRIES: readonly Entry[] = Object.freeze([] as Entry[]);
const EMPTY_MESSAGES: readonly Message[] = Object.freeze([] as Message[]);
const EMPTY_READ_STATES: readonly ReadState[] = Object.freeze([] as ReadState[]);
const EMPTY_DATA = new Uint8Array(0);

/**
 * Vote requests of a leadership-transfer campaign carry this context: they may disturb a
 * live leader (thesis §3.10), whereas ordinary campaigns may not (thesis §4.2.3).
 */
export const TRANSFER_CONTEXT = 'transfer';

function newMessage(type: MessageType, from: NodeId, to: NodeId, term: number): MutableMessage {
  return {
    type,
    from,
    to,
    term: toTerm(term),
    index: index(0),
    logTerm: toTerm(0),
    entries: EMPTY_ENTRIES,
    commit: index(0),
    reject: false,
    rejectHint: index(0),
    rejectHintTerm: toTerm(0),
    snapshot: null,
    context: null,
  };
}

type CampaignKind = 'pre-election' | 'election' | 'transfer';
type VoteResult = 'won' | 'lost' | 'pending';

export class RawNode implements RawNodeApi {
  private readonly cfg: ResolvedConfig;
  private readonly id: NodeId;
  private readonly log: RaftLog;

  // Durable state (Figure 2).
  private term = 0;
  private vote: NodeId | null = null;

  // Volatile state.
  private role: Role = 'follower';
  private lead: NodeId | null = null;
  private conf: ConfState = { voters: [], learners: [] };
  private voters: NodeId[] = [];
  private voterSet = new Set<NodeId>();
  private prs = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();
  /** Ticks since the last reset: election timeout (followers), check-quorum and transfer windows (leaders). */
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private leadTransferee: NodeId | null = null;
  /** Index of the latest conf-change entry the leader appended; another waits until it is applied. */
  private pendingConfIndex = 0;
  private readOnly = new ReadOnly();
  /** ReadIndex requests that arrived before this leader committed an entry of its term (thesis §6.4 step 1). */
  private pendingReadIndex: { from: NodeId; requestId: string }[] = [];
  /**
   * This leader's log holds a not-yet-applied change removing it. It takes no more
   * proposals: once it steps down, every voter holding the removal entry must be at least
   * as up-to-date as this node (§5.4.1), or the rest could need its vote and never get it.
   */
  private leaving = false;
  /** New entries on the leader wait here to be broadcast once per Ready, so proposals batch. */
  private pendingBroadcast = false;

  // Outputs not yet handed out.
  private msgs: Message[] = [];
  private msgsAfterPersist: Message[] = [];
  private readStates: ReadState[] = [];

  // Ready bookkeeping.
  private prevSoft: SoftState;
  private prevHard: HardState;
  /** The hard state of the last advanced Ready: what is durable. */
  private persistedHard: HardState;
  private outstanding: Ready | null = null;

  // Invariant tracking.
  private checkedTerm = 0;
  private checkedVote: NodeId | null = null;
  private checkedCommit = 0;
  /** The leader seen in `checkedTerm` (LogCabin: within a term the leader is set at most once). */
  private checkedLeader: NodeId | null = null;

  private readonly quorumScratch: number[] = [];

  constructor(config: RaftConfig, storage: RaftStorage) {
    this.cfg = validateConfig(config);
    this.id = this.cfg.id;
    const { hardState, confState } = storage.initialState();
    const applied = this.cfg.applied ?? storage.firstIndex() - 1;
    this.log = new RaftLog(storage, hardState.commit, applied);
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.setConf(this.confAsOfApplied(confState, storage, applied));
    this.becomeFollower(this.term, null);
    this.prevHard = this.hardState();
    this.persistedHard = this.prevHard;
    this.prevSoft = this.softState();
    this.checkedTerm = this.term;
    this.checkedVote = this.vote;
    this.checkedCommit = this.log.committed;
  }

  // ---------------------------------------------------------------------------------------
  // Public API

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
    this.checkInvariants();
  }

  step(m: Message): void {
    if (m.to !== this.id) throw new Error(`step: message ${m.type} for ${m.to} was delivered to ${this.id}`);
    if (m.from === this.id) throw new Error(`step: message ${m.type} from ${m.from} to itself`);
    this.stepInner(m);
    this.checkInvariants();
  }

  campaign(): void {
    this.hup(false);
    this.checkInvariants();
  }

  propose(data: Uint8Array): void {
    this.checkProposal(data.byteLength);
    this.appendEntry('normal', data);
    this.checkInvariants();
  }

  proposeMembershipChange(change: ConfChange): void {
    const data = encodeConfChange(change);
    this.checkProposal(data.byteLength);
    // Thesis §4.1: one change at a time, so any two majorities of consecutive configurations
    // overlap. A new leader must first commit an entry of its term: an uncommitted change
    // from an earlier term might still be in flight (the bug in the dissertation's §4.1,
    // fixed as described on raft-dev, "bug in single-server membership changes").
    if (this.pendingConfIndex > this.log.applied || !this.committedEntryInCurrentTerm()) {
      throw new ProposalDropped('conf-change-pending');
    }
    if (confChangeError(this.conf, change) !== null) throw new ProposalDropped('invalid-conf-change');
    this.pendingConfIndex = this.appendEntry('conf-change', data);
    if (change.type === 'remove' && change.node === this.id) this.leaving = true;
    this.checkInvariants();
  }

  readIndex(requestId: string): void {
    if (this.role === 'leader') {
      this.leaderReadIndex(this.id, requestId);
    } else if (this.lead !== null) {
      const m = newMessage('read-index', this.id, this.lead, this.term);
      m.context = requestId;
      this.send(m);
    }
    // No known leader: dropped; the application times the read out.
  }

  transferLeadership(to: NodeId): void {
    // Only the leader can transfer; elsewhere this is a no-op (the application asks the leader).
    if (this.role !== 'leader') return;
    if (!this.voterSet.has(to) || to === this.id) return;
    if (this.leadTransferee !== null) {
      if (this.leadTransferee === to) return;
      this.abortLeaderTransfer();
    }
    // Thesis §3.10: the transfer must finish within an election timeout or it is aborted,
    // so the cluster does not stay unavailable to proposals.
    this.electionElapsed = 0;
    this.leadTransferee = to;
    const pr = this.prs.get(to);
    if (pr === undefined) return;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
  }

  reportUnreachable(to: NodeId): void {
    if (this.role !== 'leader') return;
    const pr = this.prs.get(to);
    // The optimistic stream may have lost messages: fall back to probing.
    if (pr !== undefined && pr.state === 'replicate') pr.becomeProbe();
  }

  reportSnapshot(to: NodeId, ok: boolean): void {
    if (this.role !== 'leader') return;
    const pr = this.prs.get(to);
    if (pr === undefined || pr.state !== 'snapshot') return;
    if (!ok) pr.pendingSnapshot = 0;
    // Either way, wait for the follower's answer (or a heartbeat) before sending again.
    pr.becomeProbe();
    pr.probeSent = true;
  }

  hasReady(): boolean {
    if (this.outstanding !== null) return false;
    const u = this.log.unstable;
    return (
      (this.pendingBroadcast && this.role === 'leader') ||
      this.msgs.length > 0 ||
      this.msgsAfterPersist.length > 0 ||
      this.readStates.length > 0 ||
      u.entries.length > 0 ||
      u.snapshot !== null ||
      this.log.hasNextCommittedEntries() ||
      !sameHardState(this.hardState(), this.prevHard) ||
      !sameSoftState(this.softState(), this.prevSoft)
    );
  }

  ready(): Ready {
    if (this.outstanding !== null) throw new Error('ready: the previous Ready was not advanced yet');
    this.flushBroadcast();
    const u = this.log.unstable;
    const soft = this.softState();
    const hard = this.hardState();
    const rd: Ready = {
      softState: soft,
      hardState: sameHardState(hard, this.prevHard) ? null : hard,
      entries: u.entries.length > 0 ? u.entries.slice() : EMPTY_ENTRIES,
      snapshot: u.snapshot,
      committedEntries: this.log.hasNextCommittedEntries() ? this.log.nextCommittedEntries() : EMPTY_ENTRIES,
      messages: this.msgs.length > 0 ? this.msgs : EMPTY_MESSAGES,
      persistedMessages: this.msgsAfterPersist.length > 0 ? this.msgsAfterPersist : EMPTY_MESSAGES,
      readStates: this.readStates.length > 0 ? this.readStates : EMPTY_READ_STATES,
    };
    if (this.msgs.length > 0) this.msgs = [];
    if (this.msgsAfterPersist.length > 0) this.msgsAfterPersist = [];
    if (this.readStates.length > 0) this.readStates = [];
    this.prevSoft = soft;
    this.prevHard = hard;
    this.outstanding = rd;
    return rd;
  }

  advance(rd: Ready): void {
    if (rd !== this.outstanding) throw new Error('advance: not the Ready last returned by ready()');
    this.outstanding = null;
    if (rd.hardState !== null) this.persistedHard = rd.hardState;
    if (rd.snapshot !== null) {
      this.log.unstable.stableSnapTo(rd.snapshot.metadata.index);
      if (rd.snapshot.metadata.index > this.log.applied) this.log.applied = rd.snapshot.metadata.index;
    }
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) this.log.unstable.stableTo(lastEntry.index, lastEntry.term);
    const lastCommitted = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      for (const e of rd.committedEntries) {
        if (e.type === 'conf-change') this.applyConfEntry(e);
      }
      if (lastCommitted.index > this.log.applied) this.log.appliedTo(lastCommitted.index);
    }
    if (this.role === 'leader') {
      // The leader counts its own entries toward a quorum only once they are durable.
      const self = this.prs.get(this.id);
      if (self !== undefined && self.maybeUpdate(this.log.stableLastIndex()) && this.maybeCommit()) {
        this.releasePendingReadIndex();
        this.pendingBroadcast = true;
      }
    } else if (this.role === 'candidate' && !this.votes.has(this.id)) {
      // A candidate's vote for itself counts once it is durable: otherwise a crash could let
      // it vote again, for someone else, in the same term.
      if (this.persistedHard.term === this.term && this.persistedHard.vote === this.id) {
        this.handleVoteResult(this.poll(this.id, true));
      }
    }
    this.checkInvariants();
  }

  softState(): SoftState {
    return { role: this.role, term: toTerm(this.term), leader: this.lead };
  }

  confState(): ConfState {
    return this.conf;
  }

  progress(): { readonly commit: Index; readonly lastIndex: Index; readonly applied: Index } {
    return { commit: index(this.log.committed), lastIndex: index(this.log.lastIndex()), applied: index(this.log.applied) };
  }

  peerProgress(): readonly PeerProgress[] {
    if (this.role !== 'leader') return [];
    const out: PeerProgress[] = [];
    for (const [id, pr] of this.prs) {
      out.push({
        id,
        isLearner: pr.isLearner,
        match: index(pr.match),
        next: index(pr.next),
        state: pr.state,
        recentActive: id === this.id || pr.recentActive,
      });
    }
    return out;
  }

  /** The current hard state (for tests and status). */
  hardState(): HardState {
    return { term: toTerm(this.term), vote: this.vote, commit: index(this.log.committed) };
  }

  /** Term of log entry `i`, or null when compacted or beyond the log (for tests and checkers). */
  logTerm(i: number): number | null {
    const t = this.log.term(i);
    return t < 0 ? null : t;
  }

  // ---------------------------------------------------------------------------------------
  // Role transitions (etcd's becomeX): each resets volatile state in one place.

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
      // Acknowledgements from an older term that have not left yet may vouch for entries a
      // leader of the new term is about to truncate; once they leave (after the next
      // persist) they would be false. No leader of the old term can use them safely any
      // more, and dropping a message is always allowed, so drop them.
      if (this.msgsAfterPersist.length > 0) this.msgsAfterPersist = this.msgsAfterPersist.filter((m) => m.term >= term);
    }
    this.lead = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.votes.clear();
    const next = this.log.lastIndex() + 1;
    for (const [id, old] of this.prs) {
      this.prs.set(id, new Progress(next, this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes, old.isLearner));
    }
    this.pendingConfIndex = 0;
    this.leaving = false;
    this.readOnly = new ReadOnly();
    this.pendingReadIndex = [];
    this.pendingBroadcast = false;
  }

  private becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  private becomePreCandidate(): void {
    if (this.role === 'leader') throw new InvariantViolation('a leader cannot become a pre-candidate');
    // Pre-vote (thesis §9.6) changes neither term nor vote: a node that cannot win does not
    // disturb the cluster.
    this.votes.clear();
    this.lead = null;
    this.role = 'pre-candidate';
  }

  private becomeCandidate(): void {
    if (this.role === 'leader') throw new InvariantViolation('a leader cannot become a candidate');
    this.reset(this.term + 1);
    this.setVote(this.id);
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    if (this.role === 'follower') throw new InvariantViolation('a follower cannot become leader without an election');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const self = this.prs.get(this.id);
    if (self !== undefined) {
      self.becomeReplicate();
      self.match = this.log.stableLastIndex();
      self.next = this.log.lastIndex() + 1;
      self.recentActive = true;
    }
    // Any conf change in the uncommitted tail counts as pending until applied.
    this.pendingConfIndex = this.log.lastIndex();
    this.leaving = this.hasUnappliedSelfRemoval();
    // §5.4.2 / thesis §6.4: a new leader commits a no-op of its own term, which commits every
    // earlier entry (Figure 8) and lets it learn the commit index for ReadIndex.
    this.appendEntry('noop', EMPTY_DATA);
  }

  private resetRandomizedElectionTimeout(): void {
    // §5.2: randomized in [electionTicks, 2*electionTicks) so split votes are rare.
    this.randomizedElectionTimeout = this.cfg.electionTicks + this.cfg.rng.nextInt(this.cfg.electionTicks);
  }

  // ---------------------------------------------------------------------------------------
  // Time

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        // Thesis §6.2: a leader that has not heard from a quorum within an election timeout
        // steps down, so a partitioned leader stops serving (and its ReadIndex/lease ends).
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, null);
          return;
        }
        for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
      }
      // Thesis §3.10: abort a transfer that did not finish within an election timeout.
      if (this.leadTransferee !== null) this.abortLeaderTransfer();
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.readOnly.lastPendingKey());
    }
  }

  // ---------------------------------------------------------------------------------------
  // Elections (§5.2)

  private promotable(): boolean {
    return this.voterSet.has(this.id);
  }

  private hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return;
    // A conf change committed but not yet applied could change who may vote: wait for it.
    if (this.hasUnappliedConfChanges()) return;
    if (transfer) this.campaign_('transfer');
    else if (this.cfg.preVote) this.campaign_('pre-election');
    else this.campaign_('election');
  }

  private campaign_(kind: CampaignKind): void {
    let voteType: MessageType;
    let voteTerm: number;
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      voteType = 'pre-vote';
      // Ask with the term we would campaign in, without adopting it.
      voteTerm = this.term + 1;
      // Our own pre-vote changes no durable state, so it counts at once.
      const result = this.poll(this.id, true);
      if (result === 'won') {
        this.campaign_('election');
        return;
      }
    } else {
      this.becomeCandidate();
      voteType = 'vote';
      voteTerm = this.term;
      // Our own vote counts in advance(), once persisted.
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const voter of this.voters) {
      if (voter === this.id) continue;
      const m = newMessage(voteType, this.id, voter, voteTerm);
      m.index = index(lastIndex);
      m.logTerm = toTerm(lastTerm);
      if (kind === 'transfer') m.context = TRANSFER_CONTEXT;
      this.send(m);
    }
  }

  private poll(from: NodeId, granted: boolean): VoteResult {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    let yes = 0;
    let no = 0;
    for (const v of this.voters) {
      const got = this.votes.get(v);
      if (got === true) yes++;
      else if (got === false) no++;
    }
    const q = this.quorum();
    if (yes >= q) return 'won';
    if (no > this.voters.length - q) return 'lost';
    return 'pending';
  }

  private handleVoteResult(result: VoteResult): void {
    if (result === 'won') {
      if (this.role === 'pre-candidate') {
        this.campaign_('election');
      } else {
        this.becomeLeader();
        this.pendingBroadcast = true;
      }
    } else if (result === 'lost') {
      // Pre-vote lost: stay in our term. Vote lost: the term is already ours.
      this.becomeFollower(this.term, null);
    }
  }

  private handleVoteRequest(m: Message): void {
    const respType: MessageType = m.type === 'pre-vote' ? 'pre-vote-resp' : 'vote-resp';
    // Figure 2, RequestVote receiver: at most one vote per term (first come, first served);
    // a pre-vote for a future term promises nothing, so it may be given freely.
    const canVote =
      this.vote === m.from ||
      (this.vote === null && this.lead === null) ||
      (m.type === 'pre-vote' && m.term > this.term);
    // §5.4.1: only for a candidate whose log is at least as up-to-date as ours.
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      // A granted vote answers with the request's term: for a pre-vote that is a future
      // term, which the pre-candidate recognises as a grant.
      const resp = newMessage(respType, this.id, m.from, m.term);
      this.send(resp);
      if (m.type === 'vote') {
        // Rule 4 of STYLE: reset the election timer on granting a vote.
        this.electionElapsed = 0;
        this.setVote(m.from);
      }
    } else {
      const resp = newMessage(respType, this.id, m.from, this.term);
      resp.reject = true;
      this.send(resp);
    }
  }

  private setVote(v: NodeId): void {
    if (this.cfg.checkInvariants && this.vote !== null && this.vote !== v) {
      throw new InvariantViolation(`${this.id} voted for ${this.vote} in term ${this.term} and then for ${v}`);
    }
    this.vote = v;
  }

  // ---------------------------------------------------------------------------------------
  // Step: one entry point handles terms for every message, then dispatches by role.

  private stepInner(m: Message): void {
    if (m.term > this.term) {
      if (m.type === 'vote' || m.type === 'pre-vote') {
        const force = m.context === TRANSFER_CONTEXT;
        // Thesis §4.2.3 / §9.6 (leader stickiness): a node that heard from a live leader
        // within the minimum election timeout ignores requests to elect someone else, so a
        // removed or partitioned node cannot depose a working leader.
        const inLease = this.cfg.checkQuorum && this.lead !== null && this.electionElapsed < this.cfg.electionTicks;
        if (!force && inLease) return;
      }
      if (m.type === 'pre-vote') {
        // Never change our term in response to a pre-vote.
      } else if (m.type === 'pre-vote-resp' && !m.reject) {
        // A granted pre-vote carries the future term we asked with; we adopt a term only
        // when we campaign for real.
      } else if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') {
        // Figure 2, "Rules for all servers": adopt the higher term and follow its leader.
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
        // A stale leader (e.g. healed from a partition) may never hear a higher term
        // otherwise: with pre-vote and check-quorum nobody else raises terms towards it.
        this.send(newMessage('append-resp', this.id, m.from, this.term));
      } else if (m.type === 'pre-vote') {
        const resp = newMessage('pre-vote-resp', this.id, m.from, this.term);
        resp.reject = true;
        this.send(resp);
      }
      // Otherwise a stale message: ignore (rule 2 of STYLE: drop replies from old terms).
      return;
    }

    if (m.type === 'vote' || m.type === 'pre-vote') {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case 'leader':
        this.stepLeader(m);
        return;
      case 'candidate':
      case 'pre-candidate':
        this.stepCandidate(m);
        return;
      case 'follower':
        this.stepFollower(m);
        return;
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.prs.get(m.from);
    switch (m.type) {
      case 'append-resp':
        if (pr !== undefined) this.handleAppendResponse(m, pr);
        return;
      case 'heartbeat-resp':
        if (pr !== undefined) this.handleHeartbeatResponse(m, pr);
        return;
      case 'read-index':
        if (m.context !== null) this.leaderReadIndex(m.from, m.context);
        return;
      case 'vote':
      case 'pre-vote':
      case 'vote-resp':
      case 'pre-vote-resp':
      case 'append':
      case 'heartbeat':
      case 'snapshot':
      case 'timeout-now':
      case 'read-index-resp':
        // Stale answers to our campaign, or impossible in our term (one leader per term).
        return;
    }
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case 'append':
        // Another node won this term (§5.2): follow it.
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snapshot':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case 'pre-vote-resp':
        if (this.role === 'pre-candidate') this.handleVoteResult(this.poll(m.from, !m.reject));
        return;
      case 'vote-resp':
        if (this.role === 'candidate') this.handleVoteResult(this.poll(m.from, !m.reject));
        return;
      case 'vote':
      case 'pre-vote':
      case 'append-resp':
      case 'heartbeat-resp':
      case 'timeout-now':
      case 'read-index':
      case 'read-index-resp':
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'append':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'snapshot':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case 'timeout-now':
        // Thesis §3.10: the leader asks us to campaign now, skipping pre-vote and stickiness.
        this.hup(true);
        return;
      case 'read-index-resp':
        if (m.context !== null) this.readStates.push({ requestId: m.context, index: m.index });
        return;
      case 'vote':
      case 'pre-vote':
      case 'vote-resp':
      case 'pre-vote-resp':
      case 'append-resp':
      case 'heartbeat-resp':
      case 'read-index':
        return;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Replication, follower side (Figure 2, AppendEntries receiver)

  private handleAppend(m: Message): void {
    if (this.cfg.checkInvariants) checkAppendTerms(m);
    if (m.index < this.log.committed) {
      // Everything up to our commit index matches the leader's log: say so.
      const resp = newMessage('append-resp', this.id, m.from, this.term);
      resp.index = index(this.log.committed);
      this.send(resp);
      return;
    }
    const lastNew = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNew !== null) {
      const resp = newMessage('append-resp', this.id, m.from, this.term);
      resp.index = index(lastNew);
      this.send(resp);
      return;
    }
    // Rejection with a hint (§5.3, "the follower can include the term of the conflicting
    // entry and the first index it stores for that term"; etcd's findConflictByTerm): the
    // leader can skip every entry of a mismatching term in one round trip.
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    const resp = newMessage('append-resp', this.id, m.from, this.term);
    resp.index = m.index;
    resp.reject = true;
    resp.rejectHint = index(hint.index);
    resp.rejectHintTerm = toTerm(hint.term);
    this.send(resp);
  }

  private handleHeartbeat(m: Message): void {
    // The leader sends commit = min(our match, its commit), so this never passes our log.
    this.log.commitTo(m.commit);
    const resp = newMessage('heartbeat-resp', this.id, m.from, this.term);
    resp.context = m.context;
    this.send(resp);
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot;
    if (snap === null) return;
    const resp = newMessage('append-resp', this.id, m.from, this.term);
    resp.index = index(this.restore(snap) ? this.log.lastIndex() : this.log.committed);
    this.send(resp);
  }

  /** Installs a leader's snapshot (§7); false when it brings nothing new. */
  private restore(snap: NonNullable<Message['snapshot']>): boolean {
    const { index: snapIndex, term: snapTerm, confState } = snap.metadata;
    if (snapIndex <= this.log.committed) return false;
    if (this.log.matchTerm(snapIndex, snapTerm)) {
      // We already hold the snapshot's last entry: just fast-forward the commit index.
      this.log.commitTo(snapIndex);
      return false;
    }
    this.log.restore(snap);
    this.setConf(confState);
    return true;
  }

  // ---------------------------------------------------------------------------------------
  // Replication, leader side

  private checkProposal(bytes: number): void {
    if (this.role !== 'leader') throw new ProposalDropped('not-leader');
    // Thesis §3.10: proposals stop during a transfer, so the target can catch up.
    if (this.leadTransferee !== null || this.leaving) throw new ProposalDropped('transferring');
    if (bytes > this.cfg.maxProposalBytes) throw new ProposalDropped('too-large');
  }

  private appendEntry(type: EntryType, data: Uint8Array): number {
    const i = this.log.lastIndex() + 1;
    this.log.append([{ term: toTerm(this.term), index: index(i), type, data }]);
    this.pendingBroadcast = true;
    return i;
  }

  private flushBroadcast(): void {
    if (!this.pendingBroadcast) return;
    this.pendingBroadcast = false;
    if (this.role !== 'leader') return;
    const committed = this.log.committed;
    for (const [id, pr] of this.prs) {
      // An empty append only carries the commit index: skip it for a follower that was
      // already sent this one (heartbeats repeat it anyway, in case that append was lost).
      if (id !== this.id) this.maybeSendAppend(id, pr.sentCommit < committed);
    }
  }

  private sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.prs.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === TERM_COMPACTED) return this.maybeSendSnapshot(to, pr);
    if (prevTerm < 0) throw new InvariantViolation(`${to}'s next index ${pr.next} is beyond the leader's log ${this.log.lastIndex()}`);
    const lastIndex = this.log.lastIndex();
    let ents: readonly Entry[] = EMPTY_ENTRIES;
    if (pr.next <= lastIndex) {
      try {
        ents = this.log.slice(pr.next, lastIndex + 1, this.cfg.maxMsgBytes);
      } catch (err) {
        if (isCompactedError(err)) return this.maybeSendSnapshot(to, pr);
        throw err;
      }
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    const m = newMessage('append', this.id, to, this.term);
    m.index = index(prevIndex);
    m.logTerm = toTerm(prevTerm);
    m.entries = ents;
    m.commit = index(this.log.committed);
    this.send(m);
    if (pr.sentCommit < this.log.committed) pr.sentCommit = this.log.committed;
    if (ents.length > 0) {
      let bytes = 0;
      for (const e of ents) bytes += entrySize(e);
      pr.sentEntries(ents.length, (ents[ents.length - 1] as Entry).index, bytes);
    }
    return true;
  }

  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    // Only to a follower we recently heard from: a snapshot is expensive to send blind.
    if (!pr.recentActive) return false;
    const snap = this.log.storage.snapshot();
    if (snap.metadata.index === 0) {
      throw new InvariantViolation(`${to} needs entries the leader compacted, but storage has no snapshot`);
    }
    pr.becomeSnapshot(snap.metadata.index);
    const m = newMessage('snapshot', this.id, to, this.term);
    m.snapshot = snap;
    this.send(m);
    return true;
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      let nextProbe: number = m.rejectHint;
      if (m.rejectHintTerm > 0) {
        // Skip past every entry of ours whose term is above the follower's conflicting
        // term: they cannot match (Log Matching).
        nextProbe = this.log.findConflictByTerm(m.rejectHint, m.rejectHintTerm).index;
      }
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index) && !(pr.match === m.index && pr.state === 'probe')) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.log.firstIndex()) {
      // The follower caught up past our compacted prefix: resume normal replication.
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.releasePendingReadIndex();
      // Tell followers the new commit index with the next batch.
      this.pendingBroadcast = true;
    } else if (wasPaused && pr.sentCommit < this.log.committed) {
      // While paused it may have missed the latest commit index.
      this.sendAppend(m.from);
    }
    while (this.maybeSendAppend(m.from, false)) {
      // Stream as much as flow control allows.
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    // A full window whose acks were lost would never drain: let one more append through.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex() || pr.state === 'probe') this.sendAppend(m.from);
    if (m.context === null) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === null || !this.hasQuorum(acks)) return;
    for (const rs of this.readOnly.advance(m.context)) this.respondToRead(rs.from, rs.requestId, rs.index);
  }

  /**
   * §5.3 / §5.4.2 (Figure 8): commit the highest index replicated on a quorum, but only if
   * that entry is from the current term (RaftLog.maybeCommit checks the term).
   */
  private maybeCommit(): boolean {
    const matches = this.quorumScratch;
    matches.length = 0;
    for (const v of this.voters) matches.push(this.prs.get(v)?.match ?? 0);
    matches.sort((a, b) => b - a);
    const quorumIndex = matches[this.quorum() - 1] ?? 0;
    return this.log.maybeCommit(quorumIndex, this.term);
  }

  private bcastHeartbeat(context: string | null): void {
    for (const [id, pr] of this.prs) {
      if (id === this.id) continue;
      const m = newMessage('heartbeat', this.id, id, this.term);
      // Never tell a follower to commit past what it is known to hold.
      m.commit = index(Math.min(pr.match, this.log.committed));
      m.context = context;
      this.send(m);
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send(newMessage('timeout-now', this.id, to, this.term));
  }

  private abortLeaderTransfer(): void {
    this.leadTransferee = null;
  }

  private quorum(): number {
    return Math.floor(this.voters.length / 2) + 1;
  }

  private hasQuorum(ids: ReadonlySet<NodeId>): boolean {
    let n = 0;
    for (const v of this.voters) if (ids.has(v)) n++;
    return n >= this.quorum();
  }

  private quorumActive(): boolean {
    let n = 0;
    for (const v of this.voters) {
      if (v === this.id || this.prs.get(v)?.recentActive === true) n++;
    }
    return n >= this.quorum();
  }

  // ---------------------------------------------------------------------------------------
  // ReadIndex (thesis §6.4)

  private committedEntryInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  private leaderReadIndex(from: NodeId, requestId: string): void {
    // Step 1: the commit index is only known once an entry of this term committed.
    if (!this.committedEntryInCurrentTerm()) {
      this.pendingReadIndex.push({ from, requestId });
      return;
    }
    if (this.voters.length === 1 && this.voterSet.has(this.id)) {
      // A single voter is its own quorum.
      this.respondToRead(from, requestId, this.log.committed);
      return;
    }
    // Steps 2-3: record the commit index, then confirm leadership with a heartbeat round
    // that starts now, after the request arrived; only its acks count.
    const key = this.readOnly.add(from, requestId, this.log.committed);
    if (key === null) return;
    this.readOnly.recvAck(this.id, key);
    this.bcastHeartbeat(key);
  }

  private releasePendingReadIndex(): void {
    if (this.pendingReadIndex.length === 0 || !this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndex;
    this.pendingReadIndex = [];
    for (const r of pending) this.leaderReadIndex(r.from, r.requestId);
  }

  private respondToRead(from: NodeId, requestId: string, readIndex: number): void {
    if (from === this.id) {
      this.readStates.push({ requestId, index: index(readIndex) });
      return;
    }
    const m = newMessage('read-index-resp', this.id, from, this.term);
    m.index = index(readIndex);
    m.context = requestId;
    this.send(m);
  }

  // ---------------------------------------------------------------------------------------
  // Membership (thesis §4.1)

  private setConf(cs: ConfState): void {
    this.conf = { voters: [...cs.voters], learners: [...cs.learners] };
    this.voters = [...cs.voters];
    this.voterSet = new Set(cs.voters);
    const next = this.log.lastIndex() + 1;
    const prs = new Map<NodeId, Progress>();
    const add = (id: NodeId, isLearner: boolean): void => {
      let pr = this.prs.get(id);
      if (pr === undefined) {
        pr = new Progress(next, this.cfg.maxInflightMsgs, this.cfg.maxInflightBytes, isLearner);
        // A new member counts as active so check-quorum does not trip before it answers.
        pr.recentActive = true;
      }
      pr.isLearner = isLearner;
      prs.set(id, pr);
    };
    for (const v of cs.voters) add(v, false);
    for (const l of cs.learners) add(l, true);
    this.prs = prs;
  }

  private applyConfEntry(e: Entry): void {
    const change = decodeConfChange(e.data);
    this.setConf(applyConfChange(this.conf, change));
    if (this.role !== 'leader') return;
    if (!this.voterSet.has(this.id)) {
      // Thesis §4.2.2: a leader removed from the configuration steps down once the change
      // is committed (it is: we are applying it). To spare the cluster an election timeout,
      // first tell the most up-to-date remaining voter to campaign at once (§3.10).
      let best: NodeId | null = null;
      let bestMatch = -1;
      for (const v of this.voters) {
        const match = this.prs.get(v)?.match ?? 0;
        if (match > bestMatch) {
          best = v;
          bestMatch = match;
        }
      }
      if (best !== null && bestMatch === this.log.lastIndex()) this.sendTimeoutNow(best);
      this.becomeFollower(this.term, null);
      return;
    }
    if (this.leadTransferee !== null && !this.voterSet.has(this.leadTransferee)) this.abortLeaderTransfer();
    // A smaller quorum may commit more; a new member needs its first append.
    if (this.maybeCommit()) this.releasePendingReadIndex();
    this.pendingBroadcast = true;
  }

  /**
   * The storage's ConfState is the membership as of its snapshot; entries the application
   * already applied past the snapshot (config.applied) may have changed it since.
   */
  private confAsOfApplied(snapshotConf: ConfState, storage: RaftStorage, applied: number): ConfState {
    let conf = snapshotConf;
    const first = storage.firstIndex();
    if (applied < first) return conf;
    for (const e of storage.entries(first, index(applied + 1), Number.POSITIVE_INFINITY)) {
      if (e.type === 'conf-change') conf = applyConfChange(conf, decodeConfChange(e.data));
    }
    return conf;
  }

  private hasUnappliedSelfRemoval(): boolean {
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    const hi = this.log.lastIndex() + 1;
    if (lo >= hi) return false;
    for (const e of this.log.slice(lo, hi, Number.POSITIVE_INFINITY)) {
      if (e.type !== 'conf-change') continue;
      const change = decodeConfChange(e.data);
      if (change.type === 'remove' && change.node === this.id) return true;
    }
    return false;
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    let ents: readonly Entry[];
    try {
      ents = this.log.slice(Math.max(this.log.applied + 1, this.log.firstIndex()), this.log.committed + 1, Number.POSITIVE_INFINITY);
    } catch (err) {
      if (isCompactedError(err)) return false;
      throw err;
    }
    return ents.some((e) => e.type === 'conf-change');
  }

  // ---------------------------------------------------------------------------------------
  // Output and invariants

  private send(m: MutableMessage): void {
    // Vote grants and append acknowledgements promise durable state (Figure 2: "respond
    // after persisting"): they leave only after this Ready was persisted.
    if (m.type === 'vote-resp' || m.type === 'append-resp') this.msgsAfterPersist.push(m);
    else this.msgs.push(m);
  }

  private checkInvariants(): void {
    if (!this.cfg.checkInvariants) return;
    const committed = this.log.committed;
    if (this.term < this.checkedTerm) {
      throw new InvariantViolation(`${this.id}: term decreased from ${this.checkedTerm} to ${this.term}`);
    }
    if (this.term === this.checkedTerm && this.checkedVote !== null && this.vote !== this.checkedVote) {
      throw new InvariantViolation(`${this.id}: vote in term ${this.term} changed from ${this.checkedVote} to ${this.vote}`);
    }
    if (committed < this.checkedCommit) {
      throw new InvariantViolation(`${this.id}: commit regressed from ${this.checkedCommit} to ${committed}`);
    }
    const last = this.log.lastIndex();
    if (committed > last) throw new InvariantViolation(`${this.id}: commit ${committed} exceeds last index ${last}`);
    if (this.term !== this.checkedTerm) this.checkedLeader = null;
    if (this.lead !== null) {
      if (this.checkedLeader !== null && this.checkedLeader !== this.lead) {
        throw new InvariantViolation(`${this.id}: two leaders in term ${this.term}: ${this.checkedLeader} and ${this.lead}`);
      }
      this.checkedLeader = this.lead;
    }
    this.checkedTerm = this.term;
    this.checkedVote = this.vote;
    this.checkedCommit = committed;
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.term === b.term && a.leader === b.leader;
}

/** Log terms never decrease along the log, and a leader never sends entries from a future term. */
function checkAppendTerms(m: Message): void {
  let prev: number = m.logTerm;
  let expected: number = m.index + 1;
  for (const e of m.entries) {
    if (e.term < prev || e.term > m.term || e.index !== expected) {
      throw new InvariantViolation(
        `append from ${m.from} (term ${m.term}, prev ${m.index}/${m.logTerm}) has entry ${e.index}/${e.term} out of order`,
      );
    }
    prev = e.term;
    expected++;
  }
}
