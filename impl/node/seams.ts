/**
 * What the driver needs from durable storage and from the peer transport, stated narrowly
 * (hashicorp/raft's LogStore/Transport spirit) so the driver can be exercised with in-memory
 * stand-ins and adapted to `impl/storage` and `impl/transport` in one place (main.ts).
 */
import type { ConfState, Entry, HardState, Index, Message, NodeId, RaftStorage, Snapshot } from '../raft/types.ts';

export interface DurableStorage extends RaftStorage {
  /**
   * Persist one Ready's hard state, entries (which may overwrite a conflicting suffix) and
   * snapshot, durably (fsync unless the node runs with `--unsafe no-fsync`), and make them
   * visible through the RaftStorage reads.
   */
  save(hardState: HardState | null, entries: readonly Entry[], snapshot: Snapshot | null): Promise<void>;
  /**
   * Record the same without waiting for durability: it becomes durable with the next
   * `save`. For hard states that only move the commit index, which need no fsync (a lost
   * commit index is learned again from the leader; etcd's MustSync).
   */
  append(hardState: HardState | null, entries: readonly Entry[], snapshot: Snapshot | null): void;
  /** Record a snapshot of the state machine at `index` (already applied) durably. */
  createSnapshot(index: Index, confState: ConfState, data: Uint8Array): Promise<unknown>;
  /** Drop log entries up to and including `index` (which a snapshot covers). */
  compact(index: Index): void | Promise<void>;
}

export interface PeerAddr {
  readonly host: string;
  readonly port: number;
}

export interface PeerLink {
  /** Queue one message for its recipient; never blocks, drops when the peer's queue is full. */
  send(message: Message): void;
  /** Add or change a peer's address (membership changes). */
  setPeer(id: NodeId, addr: PeerAddr): void;
}
