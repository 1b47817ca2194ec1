/**
 * A seeded whole-cluster simulator: N RawNodes on MemoryStorage "disks", an in-memory
 * network that drops, delays, duplicates, reorders and partitions, crash-restart that loses
 * whatever was not persisted, random ticks, proposals, ReadIndex requests and compactions.
 * A run is a pure function of (seed, schedule): everything random comes from one SeededRng.
 *
 * After every step the safety checker verifies Raft's guarantees (Figure 3 of the paper):
 *  - election safety: at most one leader per term, over the whole history;
 *  - log matching: two logs holding an entry with the same index and term hold the same
 *    entry there and identical prefixes before it;
 *  - leader completeness: a new leader's log holds every entry known committed;
 *  - state machine safety: every node applies the same entry at each index;
 *  - commit and applied never regress (per incarnation; on disk across restarts);
 *  - ReadIndex linearizability: a read is never served at an index below one already
 *    committed and applied somewhere when the read was requested.
 * A violation throws SafetyViolation naming the seed, the step and the recent trace.
 */
import type { ConfChange, Message, NodeId, RaftConfig, Ready, Role } from '../types.ts';
import { index as mkIndex, ProposalDropped } from '../types.ts';
import { newDisk } from './disk.ts';
import { formatMessage, formatSoftState, shortId, testNodeId, utf8 } from './format.ts';
import { SeededRng } from './prng.ts';
import type { ApplyEvent } from './test-node.ts';
import { decodeAppState, entryKey, TestNode } from './test-node.ts';

export class SafetyViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetyViolation';
  }
}

/** One step of a fault schedule. Node numbers are 1-based and taken modulo the cluster size. */
export type FaultAction =
  /** `steps` random ordinary steps (deliver, tick, handle Ready, propose, read, compact). */
  | { readonly kind: 'run'; readonly steps: number }
  /** Split the cluster: nodes in `minority` on one side, the rest on the other. */
  | { readonly kind: 'partition'; readonly minority: readonly number[] }
  | { readonly kind: 'heal' }
  | { readonly kind: 'crash'; readonly node: number }
  | { readonly kind: 'restart'; readonly node: number }
  /** Set the network's loss and duplication rates (percent, per delivered message). */
  | { readonly kind: 'lossy'; readonly dropPct: number; readonly dupPct: number }
  | { readonly kind: 'tick'; readonly node: number; readonly n: number }
  | { readonly kind: 'propose'; readonly node: number }
  | { readonly kind: 'read'; readonly node: number }
  | { readonly kind: 'compact'; readonly node: number }
  | { readonly kind: 'campaign'; readonly node: number }
  | { readonly kind: 'transfer'; readonly to: number }
  /** Cut the current leader (highest term) off from everyone else. */
  | { readonly kind: 'isolate-leader' }
  /**
   * A classic nemesis pattern: cut the leader off for `steps` random steps while clients
   * keep writing to it (`proposals` it cannot commit), heal, then crash whoever leads
   * now, so the old leader, with its long stale log, gets to campaign.
   */
  | { readonly kind: 'depose-leader'; readonly steps: number; readonly proposals: number }
  | { readonly kind: 'crash-leader' }
  /**
   * A membership change through the current leader: 'add' promotes a learner if there is
   * one, else adds a spare node as a learner; 'remove' removes the `node`-th voter (kept to
   * at least two voters), possibly the leader itself.
   */
  | { readonly kind: 'member'; readonly op: 'add' | 'remove'; readonly node: number };

export function formatAction(a: FaultAction): string {
  switch (a.kind) {
    case 'run':
      return `run ${a.steps}`;
    case 'partition':
      return `partition (${a.minority.join(',')})`;
    case 'heal':
      return 'heal';
    case 'crash':
    case 'restart':
    case 'propose':
    case 'read':
    case 'compact':
    case 'campaign':
      return `${a.kind} ${a.node}`;
    case 'lossy':
      return `lossy drop=${a.dropPct}% dup=${a.dupPct}%`;
    case 'tick':
      return `tick ${a.node} x${a.n}`;
    case 'transfer':
      return `transfer-leadership to ${a.to}`;
    case 'isolate-leader':
    case 'crash-leader':
      return a.kind;
    case 'depose-leader':
      return `depose-leader ${a.steps} proposals=${a.proposals}`;
    case 'member':
      return `member ${a.op} ${a.node}`;
  }
}

export interface SimulatorOptions {
  readonly nodes: number;
  readonly seed: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  /** Small in-flight limits exercise flow control. */
  readonly maxInflightMsgs?: number;
  readonly maxMsgBytes?: number;
  /** Keep this many recent trace lines for failure reports (default 60). */
  readonly traceLines?: number;
  /**
   * Check on the wire that vote grants and append acks leave only once durable, and that a
   * leader advances its commit index only to an entry of its own term (default true).
   * Off, only the consequences (two leaders, lost commits, diverging applies) are checked.
   */
  readonly directChecks?: boolean;
  /**
   * Let ticks, messages, proposals and reads reach a node while it is persisting a Ready
   * (between ready() and advance()), which the core allows, as a node with a slow disk
   * would do (default true).
   */
  readonly inputWhilePersisting?: boolean;
  /**
   * Extra nodes that start outside the cluster (empty disks) for `member` actions to add
   * as learners and promote (default 0).
   */
  readonly spareNodes?: number;
}

interface InFlight {
  readonly msg: Message;
}

interface ReadRequest {
  readonly node: NodeId;
  /** Highest index committed and applied somewhere when the read was requested. */
  readonly floor: number;
  readonly step: number;
}

export interface SimulatorStats {
  steps: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  proposals: number;
  readsRequested: number;
  readsServed: number;
  compactions: number;
  snapshotsSent: number;
  crashes: number;
  leadersElected: number;
  membershipChanges: number;
  maxCommitted: number;
}

export class Simulator {
  readonly nodes: TestNode[] = [];
  /** Tick rounds the last `settle` needed (set by the schedule runner). */
  lastSettleTicks = 0;
  private readonly rng: SeededRng;
  private network: InFlight[] = [];
  /** Partition side per node; nodes on different sides cannot exchange messages. */
  private side = new Map<NodeId, number>();
  private dropPct = 0;
  private dupPct = 0;
  private proposalCounter = 0;
  private readCounter = 0;
  /** A ring of recent steps; descriptions are rendered only when a violation is reported. */
  private readonly trace: { step: number; label: string; desc: string | (() => string) }[] = [];
  private readonly traceLimit: number;
  private readonly directChecks: boolean;
  private readonly inputWhilePersisting: boolean;
  private actionLabel = 'setup';
  /** Snapshot-send outcomes waiting for their sender to be between Readies. */
  private snapshotReports: { from: NodeId; to: NodeId; ok: boolean }[] = [];

  // Safety checker state.
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** "index/term" → the entry key and the term at index-1 in the log that held it. */
  private readonly logIndexTerm = new Map<string, { key: string; prevTerm: number }>();
  /** Committed entry keys by index, learnt from applies and snapshots. */
  private readonly committed = new Map<number, string>();
  private maxCommitted = 0;
  private readonly lastCommit = new Map<NodeId, { incarnation: number; commit: number }>();
  private readonly diskCommit = new Map<NodeId, number>();
  /** A new leader whose first persisted log must hold everything committed before its election. */
  private readonly completenessDue = new Map<NodeId, { term: number; committedThrough: number }>();
  private readonly lastRole = new Map<NodeId, { role: Role; term: number }>();
  private readonly reads = new Map<string, ReadRequest>();
  /** Nodes that were ever proposed as members; a removed id is never reused (as in etcd). */
  private readonly everMember = new Set<NodeId>();

  readonly stats: SimulatorStats = {
    steps: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    proposals: 0,
    readsRequested: 0,
    readsServed: 0,
    compactions: 0,
    snapshotsSent: 0,
    crashes: 0,
    leadersElected: 0,
    membershipChanges: 0,
    maxCommitted: 0,
  };

  constructor(readonly options: SimulatorOptions) {
    if (!Number.isInteger(options.nodes) || options.nodes < 1) throw new RangeError(`Simulator: nodes must be ≥ 1, got ${options.nodes}`);
    this.rng = new SeededRng(options.seed);
    this.traceLimit = options.traceLines ?? 60;
    this.directChecks = options.directChecks ?? true;
    this.inputWhilePersisting = options.inputWhilePersisting ?? true;
    const ids = Array.from({ length: options.nodes }, (_, i) => testNodeId(i + 1));
    const spares = Array.from({ length: options.spareNodes ?? 0 }, (_, i) => testNodeId(options.nodes + i + 1));
    for (const id of [...ids, ...spares]) {
      const timerRng = this.rng.fork();
      const makeConfig = (incarnation: number): RaftConfig => {
        const rng = new SeededRng(timerRng.nextU32() ^ incarnation);
        return {
          id,
          electionTicks: options.electionTicks ?? 5,
          heartbeatTicks: options.heartbeatTicks ?? 1,
          rng,
          preVote: options.preVote ?? true,
          checkQuorum: options.checkQuorum ?? true,
          ...(options.maxInflightMsgs === undefined ? {} : { maxInflightMsgs: options.maxInflightMsgs }),
          ...(options.maxMsgBytes === undefined ? {} : { maxMsgBytes: options.maxMsgBytes }),
        };
      };
      const founding = ids.includes(id);
      if (founding) this.everMember.add(id);
      this.nodes.push(new TestNode(id, makeConfig, newDisk(founding ? { voters: ids, learners: [] } : { voters: [], learners: [] })));
    }
    for (const n of this.nodes) this.recordDiskSnapshot(n);
  }

  // ---- driving ----------------------------------------------------------------------

  /** Perform one schedule action, checking safety after every step. */
  run(action: FaultAction, label = formatAction(action)): void {
    this.actionLabel = label;
    switch (action.kind) {
      case 'run':
        for (let i = 0; i < action.steps; i++) this.randomStep();
        return;
      case 'partition': {
        const minority = new Set(action.minority.map((k) => this.nodeAt(k).id));
        for (const n of this.nodes) this.side.set(n.id, minority.has(n.id) ? 1 : 0);
        this.step(`partition ${[...minority].map(shortId).join(',')} | rest`, () => undefined);
        return;
      }
      case 'heal':
        this.side.clear();
        this.dropPct = 0;
        this.dupPct = 0;
        this.step('heal', () => undefined);
        return;
      case 'crash': {
        const n = this.nodeAt(action.node);
        if (n.up) this.step(`crash ${shortId(n.id)}`, () => this.crash(n));
        return;
      }
      case 'restart': {
        const n = this.nodeAt(action.node);
        if (!n.up) this.step(`restart ${shortId(n.id)}`, () => this.restart(n));
        return;
      }
      case 'lossy':
        this.dropPct = action.dropPct;
        this.dupPct = action.dupPct;
        this.step(formatAction(action), () => undefined);
        return;
      case 'tick': {
        const n = this.nodeAt(action.node);
        for (let i = 0; i < action.n; i++) if (this.idle(n)) this.step(`tick ${shortId(n.id)}`, () => n.rawNode().tick(), n);
        return;
      }
      case 'propose':
        this.propose(this.nodeAt(action.node));
        return;
      case 'read':
        this.read(this.nodeAt(action.node));
        return;
      case 'compact':
        this.compact(this.nodeAt(action.node));
        return;
      case 'campaign': {
        const n = this.nodeAt(action.node);
        if (this.idle(n)) this.step(`campaign ${shortId(n.id)}`, () => n.rawNode().campaign(), n);
        return;
      }
      case 'isolate-leader': {
        const leader = this.currentLeader();
        if (leader === null) return;
        for (const n of this.nodes) this.side.set(n.id, n === leader ? 1 : 0);
        this.step(`isolate leader ${shortId(leader.id)}`, () => undefined);
        return;
      }
      case 'depose-leader': {
        const old = this.currentLeader();
        if (old === null) return;
        for (const n of this.nodes) this.side.set(n.id, n === old ? 1 : 0);
        this.step(`isolate leader ${shortId(old.id)}`, () => undefined);
        for (let i = 0; i < action.proposals; i++) this.propose(old);
        for (let i = 0; i < action.steps; i++) this.randomStep();
        // Let the majority side elect its own leader (and commit its no-op).
        const electionTicks = this.options.electionTicks ?? 5;
        this.runClean(10 * electionTicks, () => {
          const now = this.currentLeader();
          return now !== null && now !== old && now.rawNode().progress().commit >= now.rawNode().progress().lastIndex;
        });
        this.side.clear();
        this.step('heal', () => undefined);
        const now = this.currentLeader();
        if (now !== null && now !== old) this.step(`crash leader ${shortId(now.id)}`, () => this.crash(now));
        return;
      }
      case 'member': {
        const leader = this.currentLeader();
        if (leader === null || !this.accepting(leader)) return;
        const conf = leader.rawNode().confState();
        let change: ConfChange | null = null;
        if (action.op === 'add') {
          const learner = conf.learners[0];
          const spare = this.nodes.find((n) => !this.everMember.has(n.id));
          if (learner !== undefined) change = { type: 'promote', node: learner };
          else if (spare !== undefined) change = { type: 'add-learner', node: spare.id };
        } else if (conf.voters.length > 2) {
          change = { type: 'remove', node: conf.voters[(action.node - 1) % conf.voters.length] as NodeId };
        }
        if (change === null) return;
        const c = change;
        this.step(`propose-conf-change ${shortId(leader.id)} ${c.type} ${shortId(c.node)}`, () => {
          try {
            leader.rawNode().proposeMembershipChange(c);
            this.stats.membershipChanges++;
            if (c.type === 'add-learner') this.everMember.add(c.node);
          } catch (e) {
            if (!(e instanceof ProposalDropped)) throw e;
          }
        }, leader);
        return;
      }
      case 'crash-leader': {
        const leader = this.currentLeader();
        if (leader !== null) this.step(`crash leader ${shortId(leader.id)}`, () => this.crash(leader));
        return;
      }
      case 'transfer': {
        const leader = this.currentLeader();
        const to = this.nodeAt(action.to);
        if (leader !== null && this.idle(leader) && leader !== to) {
          this.step(`transfer-leadership ${shortId(leader.id)} -> ${shortId(to.id)}`, () => leader.rawNode().transferLeadership(to.id));
        }
        return;
      }
    }
  }

  private nodeAt(k: number): TestNode {
    return this.nodes[(((k - 1) % this.nodes.length) + this.nodes.length) % this.nodes.length] as TestNode;
  }

  /** Up and not in the middle of handling a Ready: may take input. */
  /** Up and may take input now: idle, or persisting while input in between is allowed. */
  private accepting(n: TestNode): boolean {
    return n.up && (n.pending === null || this.inputWhilePersisting);
  }

  private idle(n: TestNode): boolean {
    return n.up && n.pending === null;
  }

  private randomStep(): void {
    const r = this.rng.nextInt(100);
    if (r < 42) {
      if (this.network.length > 0) return this.deliverRandom();
    } else if (r < 62) {
      const n = this.rng.pick(this.nodes);
      if (this.accepting(n)) return this.step(`tick ${shortId(n.id)}`, () => n.rawNode().tick(), n);
    } else if (r < 75) {
      const n = this.rng.pick(this.nodes);
      if (this.idle(n) && n.rawNode().hasReady()) return this.step(`ready ${shortId(n.id)}`, () => this.takeReady(n), n);
    } else if (r < 88) {
      const n = this.rng.pick(this.nodes);
      if (n.up && n.pending !== null) return this.step(`persist ${shortId(n.id)}`, () => this.finishReady(n), n);
    } else if (r < 95) {
      // Any leader, stale ones included: a leader cut off by a partition keeps accepting
      // proposals it cannot commit, which is what makes divergent logs.
      return this.propose(this.anyLeaderOrRandom(0.9));
    } else if (r < 96) {
      // Reads on a stale leader are the ones a broken ReadIndex would answer wrongly.
      return this.read(this.anyLeaderOrRandom(0.6));
    } else if (r < 98) {
      return this.compact(this.leaderOrRandom(0.5));
    } else {
      // A crash in the middle of an fsync: the Ready being persisted is lost (its
      // `messages` may already have left).
      const pending = this.nodes.filter((n) => n.up && n.pending !== null);
      const n = pending.length > 0 ? this.rng.pick(pending) : undefined;
      if (n !== undefined) {
        this.step(`crash ${shortId(n.id)} while persisting`, () => this.crash(n));
        this.step(`restart ${shortId(n.id)}`, () => this.restart(n));
      }
    }
  }

  /** With probability p a node that thinks it leads (any term), else any node. */
  private anyLeaderOrRandom(p: number): TestNode {
    const leaders = this.nodes.filter((n) => n.up && n.rawNode().softState().role === 'leader');
    return leaders.length > 0 && this.rng.chance(p) ? this.rng.pick(leaders) : this.rng.pick(this.nodes);
  }

  private leaderOrRandom(p: number): TestNode {
    const leader = this.currentLeader();
    return leader !== null && this.rng.chance(p) ? leader : this.rng.pick(this.nodes);
  }

  private propose(n: TestNode): void {
    if (!this.accepting(n)) return;
    const data = `p${++this.proposalCounter}`;
    this.step(`propose ${shortId(n.id)} ${data}`, () => {
      try {
        n.rawNode().propose(utf8(data));
        this.stats.proposals++;
      } catch (e) {
        if (!(e instanceof ProposalDropped)) throw e;
      }
    }, n);
  }

  private read(n: TestNode): void {
    if (!this.accepting(n)) return;
    const id = `r${++this.readCounter}`;
    this.step(`read-index ${shortId(n.id)} ${id}`, () => {
      this.reads.set(id, { node: n.id, floor: this.maxCommitted, step: this.stats.steps });
      this.stats.readsRequested++;
      n.rawNode().readIndex(id);
    }, n);
  }

  private compact(n: TestNode): void {
    if (!this.idle(n)) return;
    const first = n.disk.firstIndex();
    const upTo = Math.min(n.appliedIndex, n.disk.initialState().hardState.commit);
    if (upTo < first) return;
    // Usually compact everything applied (so lagging followers need a snapshot), sometimes less.
    const at = this.rng.chance(0.5) ? upTo : first + this.rng.nextInt(upTo - first + 1);
    this.step(`compact ${shortId(n.id)} ${at}`, () => {
      n.compact(at);
      this.stats.compactions++;
    }, n);
  }

  private crash(n: TestNode): void {
    n.crash();
    this.stats.crashes++;
    this.lastRole.delete(n.id);
    this.completenessDue.delete(n.id);
    this.snapshotReports = this.snapshotReports.filter((r) => r.from !== n.id);
  }

  private restart(n: TestNode): void {
    n.restart();
    this.recordDiskSnapshot(n);
    this.lastCommit.set(n.id, { incarnation: n.incarnation, commit: n.rawNode().progress().commit });
  }

  private takeReady(n: TestNode): void {
    const r = n.takeReady();
    this.checkReady(n, r);
    for (const m of r.messages) this.send(m, n);
  }

  private finishReady(n: TestNode): void {
    const r = n.pending;
    if (r === null) return;
    const prevDiskCommit = this.diskCommit.get(n.id) ?? 0;
    const { gated, applied } = n.finishReady();
    this.checkPersisted(n, r, prevDiskCommit);
    for (const e of applied) this.checkApplied(e);
    for (const rs of r.readStates) this.checkRead(n, rs.requestId, rs.index);
    for (const m of gated) this.send(m, n);
    const reports = this.snapshotReports.filter((x) => x.from === n.id);
    if (reports.length > 0) {
      this.snapshotReports = this.snapshotReports.filter((x) => x.from !== n.id);
      for (const x of reports) n.rawNode().reportSnapshot(x.to, x.ok);
    }
  }

  private send(m: Message, from: TestNode): void {
    if (m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot') this.noteLeader(m.from, m.term, `sent ${m.type}`);
    // Figure 2: respond to RPCs only after persisting. Checked on the wire, the moment a
    // reply leaves: a vote grant promises a durable vote, an append ack durable entries.
    if (this.directChecks && m.type === 'vote-resp' && !m.reject) {
      const hs = from.disk.initialState().hardState;
      if (!(hs.term > m.term || (hs.term === m.term && hs.vote === m.to))) {
        throw this.violation(
          `durability: ${shortId(m.from)} granted its term-${m.term} vote to ${shortId(m.to)} before persisting it (disk: term=${hs.term} vote=${shortId(hs.vote)})`,
        );
      }
    }
    if (this.directChecks && m.type === 'append-resp' && !m.reject && m.index > Math.max(from.disk.lastIndex(), from.disk.snapshot().metadata.index)) {
      throw this.violation(`durability: ${shortId(m.from)} acknowledged entries through ${m.index} with only ${from.disk.lastIndex()} on disk`);
    }
    if (m.type === 'snapshot') this.stats.snapshotsSent++;
    this.network.push({ msg: m });
  }

  private connected(a: NodeId, b: NodeId): boolean {
    return (this.side.get(a) ?? 0) === (this.side.get(b) ?? 0);
  }

  /** Deliver one in-flight message, usually one of the oldest few (delay and reorder), sometimes any. */
  private deliverRandom(): void {
    const window = this.rng.chance(0.8) ? Math.min(this.network.length, 3) : this.network.length;
    const i = this.rng.nextInt(window);
    const item = this.network[i] as InFlight;
    const to = this.nodes.find((n) => n.id === item.msg.to);
    if (to !== undefined && to.up && !this.accepting(to)) return; // busy persisting; try later
    const duplicate = this.dupPct > 0 && this.rng.nextInt(100) < this.dupPct;
    if (!duplicate) this.network.splice(i, 1);
    else this.stats.duplicated++;
    const m = item.msg;
    const lost = to === undefined || !to.up || !this.connected(m.from, m.to) || (this.dropPct > 0 && this.rng.nextInt(100) < this.dropPct);
    if (lost) {
      this.stats.dropped++;
      this.step(() => `drop ${formatMessage(m)}`, () => this.reportSnapshotOutcome(m, false), m.type === 'snapshot' ? undefined : null);
      return;
    }
    this.stats.delivered++;
    this.step(
      () => `deliver ${formatMessage(m)}`,
      () => {
        if (m.type === 'snapshot' && to.pending !== null) to.snapshotWhilePending = true;
        to.rawNode().step(m);
        this.reportSnapshotOutcome(m, true);
      },
      m.type === 'snapshot' ? undefined : to,
    );
  }

  private reportSnapshotOutcome(m: Message, ok: boolean): void {
    if (m.type !== 'snapshot') return;
    const from = this.nodes.find((n) => n.id === m.from);
    if (from === undefined || !from.up) return;
    if (this.accepting(from)) from.rawNode().reportSnapshot(m.to, ok);
    else this.snapshotReports.push({ from: m.from, to: m.to, ok });
  }

  currentLeader(): TestNode | null {
    let best: TestNode | null = null;
    let bestTerm = -1;
    for (const n of this.nodes) {
      if (!n.up) continue;
      const s = n.rawNode().softState();
      if (s.role === 'leader' && s.term > bestTerm) {
        best = n;
        bestTerm = s.term;
      }
    }
    return best;
  }

  /** Run `body` as one step, then check the invariants that must hold after every step. */
  /** `touched`: the only node the step can change (checks skip the others); null = none, undefined = any. */
  private step(desc: string | (() => string), body: () => void, touched?: TestNode | null): void {
    this.stats.steps++;
    this.trace.push({ step: this.stats.steps, label: this.actionLabel, desc });
    if (this.trace.length > this.traceLimit) this.trace.shift();
    try {
      body();
    } catch (e) {
      if (e instanceof SafetyViolation) throw e;
      throw this.violation(`step threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, e);
    }
    if (touched === undefined) this.checkNodes(this.nodes);
    else if (touched !== null && touched.up) this.checkNodes([touched]);
  }

  // ---- safety checks ----------------------------------------------------------------

  private violation(what: string, cause?: unknown): SafetyViolation {
    const lines = [
      `Raft safety violation (seed=${this.options.seed}, step=${this.stats.steps}, nodes=${this.options.nodes}): ${what}`,
      'recent steps:',
      ...this.trace.map((t) => `  #${t.step} [${t.label}] ${typeof t.desc === 'string' ? t.desc : t.desc()}`),
      'cluster:',
      ...this.describe().map((t) => `  ${t}`),
    ];
    const v = new SafetyViolation(lines.join('\n'));
    if (cause instanceof Error && cause.stack !== undefined) v.stack = `${v.message}\ncaused by: ${cause.stack}`;
    return v;
  }

  describe(): string[] {
    return this.nodes.map((n) => {
      if (!n.up) return `${shortId(n.id)}: down (disk last=${n.disk.lastIndex()})`;
      const p = n.rawNode().progress();
      return `${shortId(n.id)}: ${formatSoftState(n.rawNode().softState())} commit=${p.commit} last=${p.lastIndex} applied=${n.appliedIndex}${n.pending === null ? '' : ' (persisting)'}`;
    });
  }

  private noteLeader(id: NodeId, t: number, how: string): void {
    const prev = this.leaderOfTerm.get(t);
    if (prev === undefined) {
      this.leaderOfTerm.set(t, id);
      this.stats.leadersElected++;
    } else if (prev !== id) {
      throw this.violation(`election safety: two leaders in term ${t}: ${shortId(prev)} and ${shortId(id)} (${shortId(id)} ${how})`);
    }
  }

  /** Per-step checks: roles (one leader per term, new leaders owe a completeness check) and commit monotonicity. */
  private checkNodes(nodes: readonly TestNode[]): void {
    for (const n of nodes) {
      if (!n.up) continue;
      const raw = n.rawNode();
      const s = raw.softState();
      const last = this.lastRole.get(n.id);
      if (last !== undefined && s.term < last.term) throw this.violation(`node ${shortId(n.id)}'s term went back from ${last.term} to ${s.term}`);
      if (s.role === 'leader' && (last === undefined || last.role !== 'leader' || last.term !== s.term)) {
        this.noteLeader(n.id, s.term, 'became leader');
        this.completenessDue.set(n.id, { term: s.term, committedThrough: this.contiguousCommitted() });
      }
      this.lastRole.set(n.id, { role: s.role, term: s.term });
      const commit = raw.progress().commit;
      const lc = this.lastCommit.get(n.id);
      if (lc !== undefined && lc.incarnation === n.incarnation && commit < lc.commit) {
        throw this.violation(`node ${shortId(n.id)}'s commit index went back from ${lc.commit} to ${commit}`);
      }
      // §5.4.2 (Figure 8): a leader advances its commit index only to an entry of its own
      // term (earlier entries commit indirectly, with it).
      if (this.directChecks && s.role === 'leader' && lc !== undefined && lc.incarnation === n.incarnation && commit > lc.commit) {
        const disk = n.disk;
        if (commit >= disk.firstIndex() && commit <= disk.lastIndex()) {
          const t = disk.term(mkIndex(commit));
          if (t !== s.term) {
            throw this.violation(`Figure 8 rule: leader ${shortId(n.id)} of term ${s.term} advanced its commit index to ${commit}, an entry of term ${t}`);
          }
        }
      }
      this.lastCommit.set(n.id, { incarnation: n.incarnation, commit });
    }
  }

  /** The highest i such that every entry in [1, i] is known committed. */
  private contiguousCommitted(): number {
    let i = 0;
    while (this.committed.has(i + 1)) i++;
    return i;
  }

  private checkReady(n: TestNode, r: Ready): void {
    if (r.hardState !== null) {
      const diskHs = n.disk.initialState().hardState;
      if (r.hardState.term < diskHs.term) throw this.violation(`node ${shortId(n.id)} asked to persist term ${r.hardState.term} below its durable term ${diskHs.term}`);
      if (r.hardState.term === diskHs.term && diskHs.vote !== null && r.hardState.vote !== diskHs.vote) {
        throw this.violation(`node ${shortId(n.id)} asked to persist a second vote in term ${diskHs.term}: ${shortId(diskHs.vote)} then ${shortId(r.hardState.vote)}`);
      }
    }
  }

  private checkPersisted(n: TestNode, r: Ready, prevDiskCommit: number): void {
    const disk = n.disk;
    if (r.hardState !== null) {
      if (r.hardState.commit < prevDiskCommit) {
        throw this.violation(`node ${shortId(n.id)}'s durable commit went back from ${prevDiskCommit} to ${r.hardState.commit}`);
      }
      this.diskCommit.set(n.id, r.hardState.commit);
    }
    if (r.snapshot !== null) this.recordDiskSnapshot(n);
    // Log matching, inductively: every log holding (i, t) holds the same entry there and the
    // same term at i-1; by induction on i their prefixes are identical.
    for (const e of r.entries) {
      const prevTerm = e.index - 1 >= disk.firstIndex() - 1 ? disk.term(mkIndex(e.index - 1)) : -1;
      const k = `${e.index}/${e.term}`;
      const key = entryKey(e);
      const seen = this.logIndexTerm.get(k);
      if (seen === undefined) this.logIndexTerm.set(k, { key, prevTerm });
      else if (seen.key !== key || (prevTerm !== -1 && seen.prevTerm !== -1 && seen.prevTerm !== prevTerm)) {
        throw this.violation(
          `log matching: node ${shortId(n.id)} holds ${key} after term ${prevTerm}, another log held ${seen.key} after term ${seen.prevTerm}`,
        );
      }
    }
    // Leader completeness (§5.4): the first log a new leader persists holds every entry that was
    // known committed when it was elected.
    const due = this.completenessDue.get(n.id);
    if (due !== undefined && r.softState.role === 'leader' && r.softState.term === due.term) {
      this.completenessDue.delete(n.id);
      const first = disk.firstIndex();
      if (disk.lastIndex() < due.committedThrough) {
        throw this.violation(`leader completeness: leader ${shortId(n.id)} of term ${due.term} has log through ${disk.lastIndex()} but ${due.committedThrough} was committed`);
      }
      for (let i = Math.max(first, 1); i <= due.committedThrough; i++) {
        const want = this.committed.get(i) as string;
        const t = disk.term(mkIndex(i));
        if (Number(want.slice(0, want.indexOf('/'))) !== t) {
          throw this.violation(`leader completeness: leader ${shortId(n.id)} of term ${due.term} holds term ${t} at ${i}, but ${want} was committed there`);
        }
      }
    }
  }

  private recordCommitted(index: number, key: string, where: string): void {
    const prev = this.committed.get(index);
    if (prev === undefined) {
      this.committed.set(index, key);
      if (index > this.maxCommitted) this.maxCommitted = this.stats.maxCommitted = index;
    } else if (prev !== key) {
      throw this.violation(`state machine safety: ${where} has ${key} at index ${index}, but ${prev} was applied there before`);
    }
  }

  private checkApplied(e: ApplyEvent): void {
    this.recordCommitted(e.index, e.key, `node ${shortId(e.node)} applied`);
  }

  /** A snapshot on a disk holds applied state: it must agree with everything applied elsewhere. */
  private recordDiskSnapshot(n: TestNode): void {
    const snap = n.disk.snapshot();
    decodeAppState(snap).forEach((key, i) => this.recordCommitted(i + 1, key, `node ${shortId(n.id)}'s snapshot`));
  }

  private checkRead(n: TestNode, requestId: string, at: number): void {
    const req = this.reads.get(requestId);
    if (req === undefined) throw this.violation(`node ${shortId(n.id)} served unknown read ${requestId}`);
    if (req.node !== n.id) throw this.violation(`read ${requestId} was requested on ${shortId(req.node)} but served on ${shortId(n.id)}`);
    if (at < req.floor) {
      throw this.violation(
        `linearizable read: ${requestId} (requested at step ${req.step} on ${shortId(req.node)}) served at index ${at}, below index ${req.floor} already committed and applied when it was requested`,
      );
    }
    this.stats.readsServed++;
  }

  // ---- healing and liveness ---------------------------------------------------------

  /**
   * Heal every fault (partition, loss, crashed nodes, half-handled Readies), then run the
   * cluster on a clean network, ticking every node once per round and delivering all
   * traffic between rounds, until a leader is elected and a fresh proposal is applied by
   * every node. Returns the number of tick rounds that took; throws past `maxTicks`.
   */
  settle(maxTicks: number): number {
    this.actionLabel = 'settle';
    this.side.clear();
    this.dropPct = 0;
    this.dupPct = 0;
    for (const n of this.nodes) if (!n.up) this.step(`restart ${shortId(n.id)}`, () => this.restart(n));
    const marker = `L${this.options.seed % 1000}`;
    let proposed = false;
    for (let tick = 0; tick <= maxTicks; tick++) {
      this.drain();
      const leader = this.currentLeader();
      if (leader !== null && !proposed) {
        this.step(`propose ${shortId(leader.id)} ${marker}`, () => {
          try {
            leader.rawNode().propose(utf8(marker));
            proposed = true;
          } catch (e) {
            if (!(e instanceof ProposalDropped)) throw e;
          }
        });
        this.drain();
      }
      if (proposed && this.allApplied(marker)) return tick;
      if (proposed && leader === null) proposed = false; // lost with its leader; propose again
      for (const n of this.nodes) if (this.idle(n)) this.step(`tick ${shortId(n.id)}`, () => n.rawNode().tick(), n);
    }
    throw this.violation(`liveness: no leader committed a proposal within ${maxTicks} ticks after healing`);
  }

  /** Every member (by the leader's membership) applied the marker; removed and spare nodes need not. */
  private allApplied(marker: string): boolean {
    const leader = this.currentLeader();
    if (leader === null) return false;
    const conf = leader.rawNode().confState();
    const members = new Set<NodeId>([...conf.voters, ...conf.learners]);
    return this.nodes.every((n) => !members.has(n.id) || n.applied.some((k) => k.endsWith(`/normal/${marker}`)));
  }

  /**
   * Tick every node once per round and drain the network (honouring the partition) until
   * `done()` or `rounds` run out: a cluster left to itself for a while.
   */
  private runClean(rounds: number, done: () => boolean): void {
    for (let i = 0; i < rounds && !done(); i++) {
      for (const n of this.nodes) if (this.idle(n)) this.step(`tick ${shortId(n.id)}`, () => n.rawNode().tick(), n);
      this.drain();
    }
  }

  /** Deliver everything in FIFO order (except across the partition) and handle every Ready until nothing moves (bounded). */
  private drain(): void {
    for (let round = 0; round < 1000; round++) {
      let moved = false;
      for (const n of this.nodes) {
        if (n.up && n.pending !== null) {
          this.step(`persist ${shortId(n.id)}`, () => this.finishReady(n), n);
          moved = true;
        }
        if (this.idle(n) && n.rawNode().hasReady()) {
          this.step(`ready ${shortId(n.id)}`, () => this.takeReady(n), n);
          this.step(`persist ${shortId(n.id)}`, () => this.finishReady(n), n);
          moved = true;
        }
      }
      const batch = this.network;
      this.network = [];
      for (const { msg } of batch) {
        moved = true;
        const to = this.nodes.find((n) => n.id === msg.to);
        if (to === undefined || !to.up || !this.connected(msg.from, msg.to)) continue;
        this.stats.delivered++;
        this.step(
          () => `deliver ${formatMessage(msg)}`,
          () => {
            to.rawNode().step(msg);
            this.reportSnapshotOutcome(msg, true);
          },
          msg.type === 'snapshot' ? undefined : to,
        );
      }
      if (!moved) return;
    }
    throw this.violation('drain: the cluster did not quiesce within 1000 rounds');
  }
}

