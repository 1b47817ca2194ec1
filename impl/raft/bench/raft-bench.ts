/**
 * Raft core throughput, in memory, no I/O: a 3-node cluster driven through the full Ready
 * cycle (persist to MemoryStorage, deliver, apply, advance).
 *
 *   npm run bench:raft                      # default sizes
 *   RAFT_BENCH_SECONDS=5 npm run bench:raft # longer run
 *
 * Last line: JSON with commitsPerSec (entries committed and applied on the leader per
 * second, proposing `batch` entries per Ready cycle), commitsPerSecUnbatched (one proposal
 * per cycle) and ticksPerSec (node ticks of an idle cluster, each followed by a full Ready
 * cycle and message delivery).
 */
import { performance } from 'node:perf_hooks';
import { MemoryStorage } from '../memory-storage.ts';
import { RawNode } from '../raw-node.ts';
import { SeededRng } from '../rng.ts';
import type { Message, NodeId, Ready } from '../types.ts';
import { index, nodeId } from '../types.ts';

const seconds = Number(process.env['RAFT_BENCH_SECONDS'] ?? '3');
const batch = Number(process.env['RAFT_BENCH_BATCH'] ?? '1000');
const payloadBytes = Number(process.env['RAFT_BENCH_PAYLOAD'] ?? '64');
const checkInvariants = process.env['RAFT_BENCH_INVARIANTS'] !== '0';

interface Cluster {
  ids: NodeId[];
  nodes: Map<NodeId, RawNode>;
  storages: Map<NodeId, MemoryStorage>;
  inbox: Message[];
  appliedOnLeader: number;
  leader: NodeId;
}

function makeCluster(): Cluster {
  const ids = ['n1', 'n2', 'n3'].map(nodeId);
  const nodes = new Map<NodeId, RawNode>();
  const storages = new Map<NodeId, MemoryStorage>();
  ids.forEach((id, i) => {
    const storage = MemoryStorage.bootstrap(ids);
    storages.set(id, storage);
    nodes.set(id, new RawNode({ id, electionTicks: 10, heartbeatTicks: 1, rng: new SeededRng(i + 1), checkInvariants }, storage));
  });
  const c: Cluster = { ids, nodes, storages, inbox: [], appliedOnLeader: 0, leader: ids[0] as NodeId };
  stabilize(c);
  (nodes.get(c.leader) as RawNode).campaign();
  stabilize(c);
  if ((nodes.get(c.leader) as RawNode).softState().role !== 'leader') throw new Error('bench: no leader');
  return c;
}

function handleReady(c: Cluster, id: NodeId, node: RawNode, rd: Ready): void {
  const storage = c.storages.get(id) as MemoryStorage;
  if (rd.snapshot !== null) storage.applySnapshot(rd.snapshot);
  if (rd.entries.length > 0) storage.append(rd.entries);
  if (rd.hardState !== null) storage.setHardState(rd.hardState);
  for (const m of rd.messages) c.inbox.push(m);
  for (const m of rd.persistedMessages) c.inbox.push(m);
  if (id === c.leader) {
    for (const e of rd.committedEntries) if (e.type === 'normal') c.appliedOnLeader++;
  }
  node.advance(rd);
}

function stabilize(c: Cluster): void {
  for (;;) {
    let moved = false;
    for (const [id, node] of c.nodes) {
      if (node.hasReady()) {
        handleReady(c, id, node, node.ready());
        moved = true;
      }
    }
    if (c.inbox.length > 0) {
      const msgs = c.inbox;
      c.inbox = [];
      for (const m of msgs) (c.nodes.get(m.to) as RawNode).step(m);
      moved = true;
    }
    if (!moved) return;
  }
}

function compact(c: Cluster): void {
  for (const [id, node] of c.nodes) {
    const storage = c.storages.get(id) as MemoryStorage;
    const applied = node.progress().applied;
    if (applied - storage.firstIndex() > 50_000) {
      const at = index(applied - 1000);
      storage.createSnapshot(at, node.confState(), new Uint8Array(0));
      storage.compact(at);
    }
  }
}

function benchCommits(batch: number, seconds: number): { commits: number; seconds: number; cycles: number } {
  const c = makeCluster();
  const leader = c.nodes.get(c.leader) as RawNode;
  const payload = new Uint8Array(payloadBytes);
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let cycles = 0;
  c.appliedOnLeader = 0;
  while (performance.now() < deadline) {
    for (let i = 0; i < batch; i++) leader.propose(payload);
    stabilize(c);
    cycles++;
    if (cycles % 50 === 0) compact(c);
  }
  const elapsed = (performance.now() - start) / 1000;
  return { commits: c.appliedOnLeader, seconds: elapsed, cycles };
}

function benchTicks(): { ticks: number; seconds: number } {
  const c = makeCluster();
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let ticks = 0;
  while (performance.now() < deadline) {
    for (let k = 0; k < 100; k++) {
      for (const node of c.nodes.values()) node.tick();
      ticks += c.nodes.size;
      stabilize(c);
    }
  }
  const leaders = [...c.nodes.values()].filter((n) => n.softState().role === 'leader').length;
  if (leaders !== 1) throw new Error(`bench: ${leaders} leaders after idle ticking`);
  return { ticks, seconds: (performance.now() - start) / 1000 };
}

const commits = benchCommits(batch, seconds);
const commitsPerSec = Math.round(commits.commits / commits.seconds);
console.log(`commits: ${commits.commits} in ${commits.seconds.toFixed(2)}s over ${commits.cycles} Ready cycles (batch ${batch}, ${payloadBytes}-byte payloads): ${commitsPerSec}/s`);
const single = benchCommits(1, Math.max(1, seconds / 3));
const commitsPerSecUnbatched = Math.round(single.commits / single.seconds);
console.log(`commits, one proposal per Ready cycle: ${commitsPerSecUnbatched}/s`);
const ticks = benchTicks();
const ticksPerSec = Math.round(ticks.ticks / ticks.seconds);
console.log(`ticks: ${ticks.ticks} node-ticks (heartbeat every tick, full Ready cycle each) in ${ticks.seconds.toFixed(2)}s: ${ticksPerSec}/s`);
console.log(JSON.stringify({ commitsPerSec, ticksPerSec, commitsPerSecUnbatched, batch, payloadBytes, nodes: 3, checkInvariants, seconds }));
