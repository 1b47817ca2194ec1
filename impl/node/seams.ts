/**
 * What the driver needs from durable storage and from the peer transport, stated narrowly
 * (hashicorp/raft's LogStore/Transport spirit) so the driver can be exercised with in-memory
 * stand-ins and adapted to `impl/storage` and `impl/transport` in one place (start-node.ts), on
 * the real platform or the simulated one (platform.ts).
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

export interface EndpointLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** What a node asks of the platform's peer network when it opens its endpoint (Platform.peers). */
export interface PeerEndpointOptions {
  readonly id: NodeId;
  /** Cluster secret: frames are authenticated with it (the real transport's HMAC). */
  readonly secret: string;
  /** Address book: how this node reaches each peer. */
  readonly peers: ReadonlyMap<NodeId, PeerAddr>;
  readonly listenHost: string;
  readonly listenPort: number;
  /** A message to this peer was dropped: tell Raft (`RawNode.reportUnreachable`). */
  readonly onUnreachable: (peer: NodeId) => void;
  /** A snapshot message went out (true) or was dropped (false): `RawNode.reportSnapshot`. */
  readonly onSnapshotStatus: (peer: NodeId, ok: boolean) => void;
  readonly logger: EndpointLogger;
}

/** This node's end of the peer network: send, receive, counters for /v1/metrics. */
export interface PeerEndpoint extends PeerLink {
  /** Register the receive handler; returns an unsubscribe function. */
  onMessage(handler: (message: Message) => void): () => void;
  /** Counters for /v1/metrics (`rejectedBadMac`, `sent`, ...). */
  readonly counters: Readonly<Record<string, number>>;
  /** Messages waiting per peer. */
  queueDepths(): ReadonlyMap<NodeId, number>;
  /** Close the listener, every connection and timer; queued messages are discarded. */
  close(): Promise<void>;
}
