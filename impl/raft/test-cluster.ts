/**
 * A tiny in-memory message-passing driver for the core's unit tests: it plays the
 * application's part of the Ready contract (persist, send, apply, advance) for each node.
 * The full seeded simulator with faults lives in ./testing/.
 */
import { MemoryStorage } from './memory-storage.ts';
import { RawNode } from './raw-node.ts';
import { SeededRng } from './rng.ts';
import type { Entry, Message, NodeId, RaftConfig, ReadState, Ready, Snapshot } from './types.ts';
import { index, nodeId, term } from './types.ts';

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
  /** Messages for which this returns true are dropped on delivery. */
  drop: (m: Message) => boolean = () => false;
  /** Every message ever sent (for assertions). */
  readonly sent: Message[] = [];

  /** Snapshots installed on each node (the application's "restore"). */
  readonly snapshots = new Map<NodeId, Snapshot[]>();

  /** A bootstrapped cluster of `ids`; `storages` overrides a node's initial storage. */
  constructor(
    ids: readonly string[],
    private readonly options: NodeOptions = {},
    storages: Readonly<Record<string, MemoryStorage>> = {},
  ) {
    const voters = ids.map(nodeId);
    for (const id of voters) this.addNode(id, storages[id] ?? MemoryStorage.bootstrap(voters));
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
    this.snapshots.set(id, []);
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
    if (rd.snapshot !== null) {
      storage.applySnapshot(rd.snapshot);
      this.snapshots.get(nodeId(id))?.push(rd.snapshot);
    }
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
      if (this.cut.has(`${m.from}->${m.to}`) || this.drop(m)) continue;
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

/**
 * A storage for a member of `voters` whose log holds the bootstrap entries (term 1) followed
 * by entries with the given `terms`, and whose hard state has term `hsTerm` (default: the
 * last entry's term) and commit at the end of the bootstrap.
 */
export function storageWithLog(voters: readonly string[], terms: readonly number[], hsTerm?: number): MemoryStorage {
  const ids = voters.map(nodeId);
  const s = MemoryStorage.bootstrap(ids);
  const first = s.lastIndex() + 1;
  s.append(terms.map((t, i) => ({ term: term(t), index: index(first + i), type: 'normal' as const, data: data(`t${t}-${first + i}`) })));
  const lastTerm = terms.length > 0 ? (terms[terms.length - 1] as number) : 1;
  s.setHardState({ term: term(hsTerm ?? lastTerm), vote: null, commit: index(ids.length * 2) });
  return s;
}

/** A lone node with its own storage, driven by hand: `drain()` processes every Ready. */
export class Solo {
  readonly node: RawNode;
  readonly id: NodeId;

  constructor(
    readonly storage: MemoryStorage,
    id = 'n1',
    options: NodeOptions = {},
  ) {
    this.id = nodeId(id);
    this.node = new RawNode({ id: this.id, electionTicks: 10, heartbeatTicks: 1, rng: new SeededRng(7), ...options }, storage);
    this.drain();
  }

  /** Persist and "send" every Ready; returns all messages (immediate and after-persist). */
  drain(): Message[] {
    const out: Message[] = [];
    while (this.node.hasReady()) {
      const rd = this.node.ready();
      if (rd.snapshot !== null) this.storage.applySnapshot(rd.snapshot);
      this.storage.append(rd.entries);
      if (rd.hardState !== null) this.storage.setHardState(rd.hardState);
      out.push(...rd.messages, ...rd.persistedMessages);
      this.node.advance(rd);
    }
    return out;
  }

  /** Step a message addressed to this node (zero defaults), then drain. */
  step(m: Partial<Message> & Pick<Message, 'type' | 'from' | 'term'>): Message[] {
    this.node.step(msg({ ...m, to: this.id }));
    return this.drain();
  }
}

/** A message with every unspecified field at its zero value. */
export function msg(m: Partial<Message> & Pick<Message, 'type' | 'from' | 'to' | 'term'>): Message {
  return {
    index: index(0),
    logTerm: term(0),
    entries: [],
    commit: index(0),
    reject: false,
    rejectHint: index(0),
    rejectHintTerm: term(0),
    snapshot: null,
    context: null,
    ...m,
  };
}
