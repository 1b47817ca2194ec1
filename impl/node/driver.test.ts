/**
 * The driver against the real Raft core, with in-memory storage and an in-process network:
 * fast checks of the loop's contract (proposal results reach their proposer, followers answer
 * not-leader with a hint, read barriers, membership, snapshots and compaction, digests).
 * The same code runs in real processes in integration.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorage, RawNode, SeededRng, bootstrapEntries, bootstrapHardState, index, nodeId } from '../raft/index.ts';
import type { ConfState, Entry, HardState, Index, Message, NodeId, Snapshot } from '../raft/index.ts';
import type { StateMachine } from './contracts.ts';
import { ConsensusError } from './contracts.ts';
import { RaftDriver, isEarlyAck } from './driver.ts';
import { silentLogger } from './log.ts';
import type { DurableStorage, PeerAddr, PeerLink } from './seams.ts';
import type { UnsafeName } from './config.ts';
import { realClock, realRandom, realTimers } from './real-time.ts';
import { nodeFs } from '../storage/node-fs.ts';

class MemoryDurable implements DurableStorage {
  constructor(readonly mem: MemoryStorage) {}
  initialState() {
    return this.mem.initialState();
  }
  entries(lo: Index, hi: Index, maxBytes: number) {
    return this.mem.entries(lo, hi, maxBytes);
  }
  term(i: Index) {
    return this.mem.term(i);
  }
  firstIndex() {
    return this.mem.firstIndex();
  }
  lastIndex() {
    return this.mem.lastIndex();
  }
  snapshot() {
    return this.mem.snapshot();
  }
  /** While set, every save waits for it: an fsync that does not finish. */
  stall: Promise<void> | null = null;
  /** Saves not finished yet. */
  inFlight = 0;
  async save(hardState: HardState | null, entries: readonly Entry[], snapshot: Snapshot | null): Promise<void> {
    this.inFlight++;
    try {
      this.append(hardState, entries, snapshot);
      await new Promise((resolve) => setImmediate(resolve));
      if (this.stall !== null) await this.stall;
    } finally {
      this.inFlight--;
    }
  }
  append(hardState: HardState | null, entries: readonly Entry[], snapshot: Snapshot | null): void {
    if (snapshot !== null) this.mem.applySnapshot(snapshot);
    if (entries.length > 0) this.mem.append(entries);
    if (hardState !== null) this.mem.setHardState(hardState);
  }
  createSnapshot(i: Index, confState: ConfState, data: Uint8Array): Promise<unknown> {
    return Promise.resolve(this.mem.createSnapshot(i, confState, data));
  }
  compact(i: Index): void {
    this.mem.compact(i);
  }
}

/** Appends every applied command's text to a list; the result is the list's length. */
class ListMachine implements StateMachine {
  items: string[] = [];
  apply(entry: Entry): unknown {
    this.items.push(new TextDecoder().decode(entry.data));
    return { count: this.items.length, index: entry.index };
  }
  applyIndexOnly(): void {}
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.items));
  }
  restore(data: Uint8Array): void {
    this.items = JSON.parse(new TextDecoder().decode(data)) as string[];
  }
}

interface TestNode {
  readonly id: NodeId;
  readonly driver: RaftDriver;
  readonly sm: ListMachine;
  readonly storage: MemoryDurable;
}

class Network {
  readonly nodes = new Map<NodeId, TestNode>();
  readonly cut = new Set<NodeId>();
  link(self: NodeId): PeerLink {
    return {
      send: (m: Message) => {
        if (this.cut.has(self) || this.cut.has(m.to)) return;
        setImmediate(() => this.nodes.get(m.to)?.driver.receive(m));
        if (m.type === 'snapshot') setImmediate(() => this.nodes.get(self)?.driver.reportSnapshot(m.to, true));
      },
      setPeer: (_id: NodeId, _addr: PeerAddr) => undefined,
    };
  }
}

const dirs: string[] = [];
const drivers: RaftDriver[] = [];
afterEach(async () => {
  await Promise.all(drivers.splice(0).map((d) => d.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function startNode(net: Network, id: NodeId, voters: readonly NodeId[] | null, opts: { snapshotEntries?: number; unsafe?: UnsafeName[]; seed?: number; electionTicks?: number } = {}): TestNode {
  const mem = new MemoryStorage();
  if (voters !== null) {
    mem.append(bootstrapEntries(voters));
    mem.setHardState(bootstrapHardState(voters));
  }
  const storage = new MemoryDurable(mem);
  const rawNode = new RawNode({ id, electionTicks: opts.electionTicks ?? 10, heartbeatTicks: 1, rng: new SeededRng(opts.seed ?? id.charCodeAt(1)) }, storage);
  const sm = new ListMachine();
  const dir = mkdtempSync(join(tmpdir(), 'driver-test-'));
  dirs.push(dir);
  const driver = new RaftDriver({
    id,
    platform: { clock: realClock, timers: realTimers, random: realRandom, fs: nodeFs },
    rawNode,
    storage,
    transport: net.link(id),
    stateMachine: sm,
    clock: { now: () => Date.now() },
    tickMs: 2,
    snapshotEntries: opts.snapshotEntries ?? 10_000,
    unsafe: new Set(opts.unsafe ?? []),
    clientUrls: new Map(voters?.map((v) => [v, `http://${v}.test`]) ?? []),
    eventsPath: join(dir, 'events.jsonl'),
    logger: silentLogger,
    appliedIndex: index(0),
    proposalTimeoutMs: 3_000,
  });
  const node = { id, driver, sm, storage };
  net.nodes.set(id, node);
  drivers.push(driver);
  driver.start();
  return node;
}

const ids = ['n1', 'n2', 'n3'].map(nodeId);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

async function waitFor<T>(what: string, probe: () => T | undefined | null | false, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function cluster(opts: { snapshotEntries?: number; unsafe?: UnsafeName[]; electionTicks?: number } = {}): Promise<{ net: Network; leader: TestNode }> {
  const net = new Network();
  for (const id of ids) startNode(net, id, ids, opts);
  // A leader every node follows in its term: on a busy machine the first election may not be
  // the last, and a leader about to be deposed would never commit what a test proposes to it.
  const leader = await waitFor('a leader every node follows', () => {
    const nodes = [...net.nodes.values()];
    const l = nodes.find((n) => n.driver.status().role === 'leader');
    if (l === undefined) return undefined;
    const { term } = l.driver.status();
    return nodes.every((n) => n.driver.status().leader === l.id && n.driver.status().term === term) ? l : undefined;
  });
  return { net, leader };
}

describe('RaftDriver', () => {
  it('elects one leader and hands each proposer the result of its own entry', async () => {
    const { net, leader } = await cluster();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => leader.driver.propose(bytes(`v${i}`))));
    // Each result names the entry that carried that very proposal.
    for (let i = 0; i < 50; i++) {
      const r = results[i] as { count: number; index: number };
      expect(leader.sm.items[r.count - 1]).toBe(`v${i}`);
    }
    for (const node of net.nodes.values()) await waitFor('replication', () => node.sm.items.length === 50);
    expect([...net.nodes.values()].map((n) => n.sm.items.join())).toEqual(Array(3).fill(leader.sm.items.join()));
    const leaders = [...net.nodes.values()].filter((n) => n.driver.status().role === 'leader');
    expect(leaders).toHaveLength(1);
  });

  it('answers proposals and reads on a follower with a definite not-leader carrying the hint', async () => {
    const { net, leader } = await cluster();
    const follower = [...net.nodes.values()].find((n) => n !== leader)!;
    await waitFor('follower knows the leader', () => follower.driver.status().leader === leader.id);
    const err = (await follower.driver.propose(bytes('x')).catch((e: unknown) => e)) as ConsensusError;
    expect(err).toBeInstanceOf(ConsensusError);
    expect(err.code).toBe('not-leader');
    expect(err.definite).toBe(true);
    expect(err.leaderHint).toEqual({ id: leader.id, clientUrl: `http://${leader.id}.test` });
    const readErr = (await follower.driver.readBarrier().catch((e: unknown) => e)) as ConsensusError;
    expect(readErr.code).toBe('not-leader');
  });

  it('resolves a read barrier only after everything committed before it is applied', async () => {
    const { leader } = await cluster();
    const writes = Array.from({ length: 20 }, (_, i) => leader.driver.propose(bytes(`w${i}`)));
    await Promise.all(writes);
    const reads = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const commitAtCall = leader.driver.status().commit;
        await leader.driver.readBarrier();
        return leader.driver.status().applied >= commitAtCall;
      }),
    );
    expect(reads.every(Boolean)).toBe(true);
  });

  it('times a proposal out with an indefinite error when no quorum answers', async () => {
    const { net, leader } = await cluster();
    for (const id of ids) if (id !== leader.id) net.cut.add(id);
    const err = (await leader.driver.propose(bytes('lonely'), { timeoutMs: 200 }).catch((e: unknown) => e)) as ConsensusError;
    expect(err).toBeInstanceOf(ConsensusError);
    expect(err.definite).toBe(false);
  });

  it('snapshots and compacts every snapshot-entries, and a member added later catches up from the snapshot', async () => {
    const { net, leader } = await cluster({ snapshotEntries: 20 });
    for (let i = 0; i < 100; i++) await leader.driver.propose(bytes(`e${i}`));
    await waitFor('compaction', () => leader.storage.firstIndex() > 10);
    const n4 = startNode(net, nodeId('n4'), null);
    const conf = await leader.driver.addMember(nodeId('n4'));
    expect(conf.voters).toContain('n4');
    await waitFor('n4 catches up', () => n4.sm.items.length === 100);
    expect(n4.sm.items).toEqual(leader.sm.items);
    expect(n4.driver.stats.snapshotsInstalled).toBeGreaterThan(0);
    const after = await leader.driver.removeMember(nodeId('n4'));
    expect(after.voters).not.toContain('n4');
    expect(after.learners).not.toContain('n4');
  });

  it('keeps identical digests of the applied log on every replica', async () => {
    const { net, leader } = await cluster();
    for (let i = 0; i < 30; i++) await leader.driver.propose(bytes(`d${i}`));
    const applied = leader.driver.status().applied;
    for (const node of net.nodes.values()) await waitFor('apply', () => node.driver.status().applied >= applied);
    const digests = [...net.nodes.values()].map((n) => JSON.stringify(n.driver.digest(index(1), applied)));
    expect(new Set(digests).size).toBe(1);
    expect(JSON.parse(digests[0]!)).toHaveLength(applied);
  });

  it('records role changes in events.jsonl', async () => {
    const { leader } = await cluster();
    const dir = dirs[ids.indexOf(leader.id)]!;
    const events = readFileSync(join(dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.some((e) => e['kind'] === 'role' && e['role'] === 'leader' && e['node'] === leader.id && e['leader'] === leader.id)).toBe(true);
  });

  it("answers a proposal the followers made durable while the leader's own fsync is still running (thesis §10.2.1)", async () => {
    // The stall must catch the proposal's own save, not an earlier one still in flight (on a
    // busy machine the election's entry may still be saving: the driver then never sends the
    // proposal's appends, and it times out; seen in CI). And a stalled leader sends no
    // heartbeats, so the followers get 200 ms, not the file's 20, before they may elect another.
    const { leader } = await cluster({ electionTicks: 100 });
    await waitFor('the leader to have nothing in flight', () => leader.storage.inFlight === 0 && leader.driver.status().commit === leader.driver.status().lastIndex);
    let release = (): void => undefined;
    leader.storage.stall = new Promise<void>((resolve) => (release = resolve));
    try {
      const result = (await leader.driver.propose(bytes('quorum-without-leader'))) as { count: number };
      expect(leader.sm.items).toContain('quorum-without-leader');
      expect(result.count).toBe(leader.sm.items.length);
    } finally {
      leader.storage.stall = null;
      release();
    }
  });

  it('does not answer while neither the leader nor any follower has made the entry durable', async () => {
    const { net, leader } = await cluster();
    for (const id of ids) if (id !== leader.id) net.cut.add(id);
    let release = (): void => undefined;
    leader.storage.stall = new Promise<void>((resolve) => (release = resolve));
    try {
      const err = (await leader.driver.propose(bytes('nowhere'), { timeoutMs: 300 }).catch((e: unknown) => e)) as ConsensusError;
      expect(err).toBeInstanceOf(ConsensusError);
      expect(leader.sm.items).not.toContain('nowhere');
    } finally {
      leader.storage.stall = null;
      release();
    }
  });

  it('with ack-before-commit answers once the entry is persisted locally, before it commits', async () => {
    const { net, leader } = await cluster({ unsafe: ['ack-before-commit'] });
    for (const id of ids) if (id !== leader.id) net.cut.add(id);
    const result = await leader.driver.propose(bytes('early'));
    expect(isEarlyAck(result)).toBe(true);
    expect(leader.sm.items).not.toContain('early');
  });
});
