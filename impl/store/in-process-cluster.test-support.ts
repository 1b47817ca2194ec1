/**
 * Test double for the consensus driver: an in-process "cluster" of handles that share one
 * log and one KvStateMachine, so proposals apply at once. One member (or none) is the leader;
 * the others answer not-leader with a hint, exactly like real followers. Failures can be
 * injected per proposal to exercise the client's retry rules.
 *
 * Not a Raft implementation: it exists so the HTTP layer and the client library can be
 * tested without the node driver.
 */
import { createHash } from 'node:crypto';
import { ConsensusError, type ConsensusHandle, type NodeStatus } from '../node/contracts.ts';
import { index, nodeId, term, type ConfState, type Entry, type Index, type NodeId, type Term } from '../raft/types.ts';
import { SkewableClock } from './clock.ts';
import { KvStateMachine, type KvStateMachineOptions } from './kv-state-machine.ts';
import { createStoreServer, type StoreServer, type StoreServerOptions } from './server.ts';
import { WatchHub } from './watch-hub.ts';

type Unsafe = 'stale-reads' | 'ack-before-commit' | 'no-fsync' | 'lease-no-wait';

/** What the next proposal on a handle does instead of (or besides) applying. */
export type InjectedFault =
  /** Reject with a definite error; nothing applied. */
  | { readonly kind: 'reject'; readonly error: ConsensusError }
  /** Apply the entry, then report a timeout (the client cannot know it applied). */
  | { readonly kind: 'apply-then-timeout' }
  /** Under unsafe ack-before-commit: acknowledge early (as the driver does after appending), then lose the entry. */
  | { readonly kind: 'early-ack-then-lose' };

export class InProcessCluster {
  readonly handles: InProcessHandle[];
  private leaderId: NodeId | null;
  private lastIndex = 0;
  private currentTerm = 1;
  private conf: ConfState;
  readonly digests: { index: Index; term: Term; hash: string }[] = [];

  constructor(
    readonly sm: KvStateMachine,
    ids: readonly string[] = ['n1'],
    options: { readonly unsafe?: readonly Unsafe[]; readonly clock?: SkewableClock } = {},
  ) {
    this.conf = { voters: ids.map(nodeId), learners: [] };
    this.leaderId = nodeId(ids[0]!);
    this.handles = ids.map((id) => new InProcessHandle(this, nodeId(id), new Set(options.unsafe ?? []), options.clock ?? new SkewableClock()));
  }

  handle(id: string): InProcessHandle {
    const h = this.handles.find((x) => x.id === id);
    if (h === undefined) throw new Error(`no handle ${id}`);
    return h;
  }

  get leader(): NodeId | null {
    return this.leaderId;
  }

  /** Make `id` the leader (or nobody), with a new term, and tell every handle's listeners. */
  setLeader(id: string | null): void {
    this.leaderId = id === null ? null : nodeId(id);
    this.currentTerm++;
    for (const h of this.handles) h.notifyRoleChange();
  }

  get term(): Term {
    return term(this.currentTerm);
  }

  get members(): ConfState {
    return this.conf;
  }

  setMembers(conf: ConfState): void {
    this.conf = conf;
  }

  applyProposal(data: Uint8Array): unknown {
    const entry: Entry = { term: term(this.currentTerm), index: index(++this.lastIndex), type: 'normal', data };
    this.digests.push({ index: entry.index, term: entry.term, hash: createHash('sha256').update(data).digest('hex') });
    return this.sm.apply(entry);
  }

  get appliedIndex(): Index {
    return index(this.lastIndex);
  }
}

export class InProcessHandle implements ConsensusHandle {
  /** Set after its server listens; leader hints carry it. */
  clientUrl: string | null = null;
  private readonly faults: InjectedFault[] = [];
  private readonly roleListeners = new Set<(status: NodeStatus) => void>();
  /** Proposals received (including rejected ones), for assertions. */
  proposals = 0;
  readBarriers = 0;

  constructor(
    private readonly cluster: InProcessCluster,
    readonly id: NodeId,
    readonly unsafe: ReadonlySet<Unsafe>,
    readonly clock: SkewableClock,
  ) {}

  injectFault(fault: InjectedFault): void {
    this.faults.push(fault);
  }

  private checkLeader(): void {
    const leader = this.cluster.leader;
    if (leader === this.id) return;
    if (leader === null) throw new ConsensusError('no-leader', true, null, 'no leader known');
    const hint = this.cluster.handle(leader);
    throw new ConsensusError('not-leader', true, { id: leader, clientUrl: hint.clientUrl }, `node ${this.id} is not the leader; try ${leader}`);
  }

  propose(data: Uint8Array): Promise<unknown> {
    this.proposals++;
    try {
      const fault = this.faults.shift();
      if (fault?.kind === 'reject') throw fault.error;
      this.checkLeader();
      // Like the driver's EarlyAck: a marker instead of the state machine's result.
      if (fault?.kind === 'early-ack-then-lose') return Promise.resolve({ unsafeEarlyAck: true, index: this.cluster.appliedIndex + 1 });
      const result = this.cluster.applyProposal(data);
      if (fault?.kind === 'apply-then-timeout') throw new ConsensusError('timeout', false, null, 'proposal timed out');
      return Promise.resolve(result);
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  readBarrier(): Promise<void> {
    this.readBarriers++;
    try {
      this.checkLeader();
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  status(): NodeStatus {
    const leader = this.cluster.leader;
    return {
      id: this.id,
      role: leader === this.id ? 'leader' : 'follower',
      term: this.cluster.term,
      leader,
      commit: this.cluster.appliedIndex,
      applied: this.cluster.appliedIndex,
      lastIndex: this.cluster.appliedIndex,
      members: this.cluster.members,
    };
  }

  onRoleChange(listener: (status: NodeStatus) => void): () => void {
    this.roleListeners.add(listener);
    return () => this.roleListeners.delete(listener);
  }

  notifyRoleChange(): void {
    const status = this.status();
    for (const l of this.roleListeners) l(status);
  }

  addMember(id: NodeId): Promise<ConfState> {
    try {
      this.checkLeader();
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const m = this.cluster.members;
    if (m.voters.includes(id) || m.learners.includes(id)) return Promise.resolve(m);
    this.cluster.setMembers({ voters: m.voters, learners: [...m.learners, id] });
    return Promise.resolve(this.cluster.members);
  }

  removeMember(id: NodeId): Promise<ConfState> {
    try {
      this.checkLeader();
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const m = this.cluster.members;
    this.cluster.setMembers({ voters: m.voters.filter((x) => x !== id), learners: m.learners.filter((x) => x !== id) });
    return Promise.resolve(this.cluster.members);
  }

  digest(from: Index, to: Index): readonly { readonly index: Index; readonly term: Term; readonly hash: string }[] {
    return this.cluster.digests.filter((d) => d.index >= from && d.index <= to);
  }
}

export interface InProcessStore extends AsyncDisposable {
  readonly sm: KvStateMachine;
  readonly cluster: InProcessCluster;
  readonly nodes: readonly { readonly id: string; readonly url: string; readonly handle: InProcessHandle; readonly server: StoreServer }[];
  /** `{ id, url }` of every node, for StoreClient. */
  readonly endpoints: readonly { readonly id: string; readonly url: string }[];
  close(): Promise<void>;
}

/** Start one real node:http store server per handle of an in-process cluster, on loopback. */
export async function startInProcessStore(
  options: {
    readonly ids?: readonly string[];
    readonly unsafe?: readonly Unsafe[];
    readonly stateMachine?: KvStateMachineOptions;
    readonly server?: Omit<StoreServerOptions, 'handle' | 'stateMachine' | 'watchHub'>;
  } = {},
): Promise<InProcessStore> {
  const sm = new KvStateMachine(options.stateMachine);
  const cluster = new InProcessCluster(sm, options.ids ?? ['n1'], options.unsafe === undefined ? {} : { unsafe: options.unsafe });
  const hub = new WatchHub(sm);
  const nodes: { id: string; url: string; handle: InProcessHandle; server: StoreServer }[] = [];
  for (const handle of cluster.handles) {
    const server = createStoreServer({ ...options.server, handle, stateMachine: sm, watchHub: hub });
    const { url } = await server.listen(0);
    handle.clientUrl = url;
    nodes.push({ id: handle.id as string, url, handle, server });
  }
  const close = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.server.close()));
  };
  return { sm, cluster, nodes, endpoints: nodes.map(({ id, url }) => ({ id, url })), close, [Symbol.asyncDispose]: close };
}
