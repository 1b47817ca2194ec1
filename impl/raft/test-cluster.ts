/**
 * A tiny in-memory message-passing driver for the core's unit tests: it plays the
 * application's part of the Ready contract (persist, send, apply, advance) for each node.
 * The full seeded simulator with faults lives in ./testing/.
 */
import { MemoryStorage } from './memory-storage.ts';
import { RawNode } from './raw-node.ts';
import { SeededRng } from './rng.ts';
import type { Entry, Message, NodeId, RaftConfig, ReadState, Ready } from './types.ts';
import { nodeId } from './types.ts';

export type NodeOptions = Partial<Omit<RaftConfig, 'id'>>;

export class TestCluster {
  readonly nodes = new Map<NodeId, RawNode>();
  readonly storages = new Map<NodeId, MemoryStorage>();
  readonly applied = new Map<NodeId, Entry[]>();
  readonly readStates = new Map<NodeId, ReadState[]>();
  /** Messages sent and not yet delivered, in order. */
  queue: Message[] = [];
  /** Links that drop messages, as "from->to". */
  readonly cut = new Set<string>();
  /** Every message ever sent (for assertions). */
  readonly sent: Message[] = [];

  constructor(
    ids: readonly string[],
    private readonly options: NodeOptions = {},
  ) {
    const voters = ids.map(nodeId);
    for (const id of voters) this.addNode(id, MemoryStorage.bootstrap(voters));
    // Apply the bootstrap configuration entries.
    this.stabilize();
  }

  addNode(id: NodeId, storage: MemoryStorage, options: NodeOptions = {}): RawNode {
    let seed = 0;
    for (const ch of id) seed = (seed * 31 + ch.charCodeAt(0)) >>> 0;
    const node = new RawNode(
      { electionTicks: 10, heartbeatTicks: 1, rng: new SeededRng(seed), ...this.options, ...options, id },
      storage,
    );
    this.nodes.set(id, node);
    this.storages.set(id, storage);
    this.applied.set(id, []);
    this.readStates.set(id, []);
    return node;
  }

  node(id: string): RawNode {
    const n = this.nodes.get(nodeId(id));
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  storage(id: string): MemoryStorage {
    const s = this.storages.get(nodeId(id));
    if (s === undefined) throw new Error(`no node ${id}`);
    return s;
  }

  /** Handle one Ready of `id` the way the application must; returns it (or null). */
  processReady(id: string): Ready | null {
    const node = this.node(id);
    if (!node.hasReady()) return null;
    const rd = node.ready();
    const storage = this.storage(id);
    if (rd.snapshot !== null) storage.applySnapshot(rd.snapshot);
    storage.append(rd.entries);
    if (rd.hardState !== null) storage.setHardState(rd.hardState);
    for (const m of rd.messages) this.send(m);
    for (const m of rd.persistedMessages) this.send(m);
    const applied = this.applied.get(nodeId(id)) as Entry[];
    for (const e of rd.committedEntries) applied.push(e);
    (this.readStates.get(nodeId(id)) as ReadState[]).push(...rd.readStates);
    node.advance(rd);
    return rd;
  }

  send(m: Message): void {
    this.sent.push(m);
    this.queue.push(m);
  }

  /** Deliver the messages queued now (not the ones they cause); returns how many. */
  deliverAll(filter: (m: Message) => boolean = () => true): number {
    const batch = this.queue;
    this.queue = [];
    let n = 0;
    for (const m of batch) {
      if (!filter(m)) {
        this.queue.push(m);
        continue;
      }
      if (this.cut.has(`${m.from}->${m.to}`)) continue;
      const to = this.nodes.get(m.to);
      if (to === undefined) continue;
      to.step(m);
      n++;
    }
    return n;
  }

  /** Process readies and deliver messages until nothing moves. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let moved = false;
      for (const id of this.nodes.keys()) if (this.processReady(id) !== null) moved = true;
      if (this.queue.length > 0) {
        this.deliverAll();
        moved = true;
      }
      if (!moved) return;
    }
    throw new Error('stabilize: no fixpoint');
  }

  tick(id: string, n = 1): void {
    for (let i = 0; i < n; i++) this.node(id).tick();
  }

  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) for (const node of this.nodes.values()) node.tick();
  }

  /** Campaign on `id` and run the cluster until quiet. */
  elect(id: string): void {
    this.node(id).campaign();
    this.stabilize();
  }

  leaders(): NodeId[] {
    return [...this.nodes.entries()].filter(([, n]) => n.softState().role === 'leader').map(([id]) => id);
  }

  isolate(id: string): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** The 'normal' payloads applied on `id`, decoded as text. */
  appliedData(id: string): string[] {
    const dec = new TextDecoder();
    return (this.applied.get(nodeId(id)) ?? []).filter((e) => e.type === 'normal').map((e) => dec.decode(e.data));
  }
}

export function data(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
