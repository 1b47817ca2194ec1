/**
 * The seam between the node's consensus driver (`impl/node/`) and the replicated store
 * (`impl/store/`: state machine, lessor, HTTP API). The driver owns Raft, storage and the
 * transport; the store owns what entries mean. Neither reaches into the other.
 */
import type { ConfState, Entry, Index, NodeId, Term } from '../raft/types.ts';

/** A deterministic replicated state machine (hashicorp/raft's FSM). */
export interface StateMachine {
  /**
   * Apply one committed 'normal' entry and return the result for the proposer (the driver
   * hands it to whoever proposed that entry on this node). Must be deterministic: same
   * entries in the same order, same state, on every node. Never throws for bad commands:
   * a malformed command yields an error result, because every replica must agree.
   */
  apply(entry: Entry): unknown;
  /** Called for 'noop' and 'conf-change' entries so the state machine can count revisions/index. */
  applyIndexOnly(entry: Entry): void;
  /** Serialize the whole state as of the last applied index. */
  snapshot(): Uint8Array;
  /** Replace the whole state with a snapshot's data (installing a snapshot from the leader, or at start). */
  restore(data: Uint8Array): void;
}

/** A source of milliseconds that the fault injector can skew (`POST /v1/test/clock`). */
export interface Clock {
  /** Milliseconds, monotonic unless skewed by a test. */
  now(): number;
}

export interface NodeStatus {
  readonly id: NodeId;
  readonly role: 'follower' | 'pre-candidate' | 'candidate' | 'leader';
  readonly term: Term;
  readonly leader: NodeId | null;
  readonly commit: Index;
  readonly applied: Index;
  readonly lastIndex: Index;
  readonly members: ConfState;
}

/** Why a proposal or read could not be served. `definite` as in impl/API.md. */
export class ConsensusError extends Error {
  constructor(
    readonly code: 'not-leader' | 'no-leader' | 'timeout' | 'too-large' | 'stopped' | 'conf-change-pending',
    readonly definite: boolean,
    readonly leaderHint: { readonly id: NodeId; readonly clientUrl: string | null } | null = null,
    message?: string,
  ) {
    super(message ?? code);
    this.name = 'ConsensusError';
  }
}

/** What the store's HTTP layer and lessor may ask of the consensus driver. */
export interface ConsensusHandle {
  readonly id: NodeId;
  /**
   * Propose `data` and resolve with the state machine's result once the entry committed and
   * was applied on this node, having confirmed the entry applied at that index is this very
   * proposal (otherwise reject with an indefinite error). Rejects with ConsensusError:
   * not-leader/no-leader (definite), timeout (indefinite), too-large (definite).
   */
  propose(data: Uint8Array, options?: { readonly timeoutMs?: number }): Promise<unknown>;
  /**
   * Linearizable read barrier (ReadIndex): resolves once this node has applied everything
   * committed before the call. Only the leader serves it unless forwarding is enabled.
   */
  readBarrier(options?: { readonly timeoutMs?: number }): Promise<void>;
  status(): NodeStatus;
  /** Leader changes on this node; the lessor uses it to extend leases on promotion. */
  onRoleChange(listener: (status: NodeStatus) => void): () => void;
  addMember(id: NodeId, peerAddr?: string): Promise<ConfState>;
  removeMember(id: NodeId): Promise<ConfState>;
  /** Applied entries' digests in [from, to] (term and a hash of the data), for replica checks. */
  digest(from: Index, to: Index): readonly { readonly index: Index; readonly term: Term; readonly hash: string }[];
  readonly clock: Clock;
  /** Unsafe switches enabled on this node (impl/API.md). */
  readonly unsafe: ReadonlySet<'stale-reads' | 'ack-before-commit' | 'no-fsync' | 'lease-no-wait'>;
}
