/**
 * The dependency graph of a list-append history, in flat typed arrays: a million
 * micro-operations make a few million edges, and objects per edge would cost ten times the
 * memory. Written here rather than taken from a graph library because the search needs
 * three things libraries do not combine: edge kinds as bit masks filtered per search, an
 * iterative Tarjan (a recursive one overflows the stack at this size), and 0-1 weights so
 * that the real-time chain (below) counts as one hop.
 *
 * Vertices are transactions (ids 0..txns-1) followed by real-time "time nodes". Real time is
 * not stored as the O(n · concurrency) edges "a completed before b started": each `ok`
 * completion points at a time node, time nodes form a chain in history order, and a time
 * node points at every transaction invoked while it was the latest. Then a reaches b
 * through the chain exactly when a completed before b was invoked, with O(n) edges. A cycle
 * path a -> t_i -> ... -> t_j -> b is shown as one `rt` edge a -> b.
 */

/** Edge kinds, as bits: write-write, write-read, read-write (anti-dependency), real time. */
export const WW = 1;
export const WR = 2;
export const RW = 4;
export const RT = 8;
export const DATA = WW | WR | RW;
export const ALL = DATA | RT;

export type EdgeKind = 'ww' | 'wr' | 'rw' | 'rt';

export function kindOf(bit: number): EdgeKind {
  return bit === WW ? 'ww' : bit === WR ? 'wr' : bit === RW ? 'rw' : 'rt';
}

/** Accumulates edges before the graph is frozen into compressed rows. */
export class EdgeBuilder {
  private src = new Int32Array(1024);
  private dst = new Int32Array(1024);
  private kind = new Uint8Array(1024);
  length = 0;

  add(from: number, to: number, kind: number): void {
    if (from === to) return;
    if (this.length === this.src.length) {
      const n = this.src.length * 2;
      const s = new Int32Array(n);
      s.set(this.src);
      this.src = s;
      const d = new Int32Array(n);
      d.set(this.dst);
      this.dst = d;
      const k = new Uint8Array(n);
      k.set(this.kind);
      this.kind = k;
    }
    this.src[this.length] = from;
    this.dst[this.length] = to;
    this.kind[this.length] = kind;
    this.length++;
  }

  /**
   * Compressed sparse rows: the out-edges of v are targets[offsets[v] .. offsets[v+1]), with
   * the kinds of all parallel edges between the same pair merged into one mask.
   */
  build(vertices: number): Graph {
    const counts = new Int32Array(vertices + 1);
    for (let i = 0; i < this.length; i++) counts[this.src[i]! + 1]!++;
    for (let v = 0; v < vertices; v++) counts[v + 1]! += counts[v]!;
    const fill = counts.slice(0, vertices);
    const rawTargets = new Int32Array(this.length);
    const rawMasks = new Uint8Array(this.length);
    for (let i = 0; i < this.length; i++) {
      const at = fill[this.src[i]!]!++;
      rawTargets[at] = this.dst[i]!;
      rawMasks[at] = this.kind[i]!;
    }
    // Merge parallel edges: `slot[w]` remembers where w already sits in the current row.
    const slot = new Int32Array(vertices).fill(-1);
    const offsets = new Int32Array(vertices + 1);
    let out = 0;
    for (let v = 0; v < vertices; v++) {
      offsets[v] = out;
      const rowStart = out;
      for (let i = counts[v]!; i < counts[v + 1]!; i++) {
        const w = rawTargets[i]!;
        const s = slot[w]!;
        if (s >= rowStart) {
          rawMasks[s] = rawMasks[s]! | rawMasks[i]!;
        } else {
          rawTargets[out] = w;
          rawMasks[out] = rawMasks[i]!;
          slot[w] = out;
          out++;
        }
      }
    }
    offsets[vertices] = out;
    return { vertices, offsets, targets: rawTargets.slice(0, out), masks: rawMasks.slice(0, out) };
  }
}

/**
 * Real-time order as a chain of time nodes (see the top of this file). `events` lists the
 * client events in history order: a transaction id for its invocation, `~id` for its
 * completion; `outcomes[id]` says how it ended. Failed transactions get no edges (they did
 * not happen); crashed (`info`) ones follow what completed before their invocation but
 * precede nothing. Time node ids start at `outcomes.length`; returns how many were made.
 * A new node is made only when something was invoked since the last one, so completions
 * with no invocation between them share a node.
 */
export function addRealtimeChain(events: Int32Array, outcomes: readonly ('ok' | 'info' | 'fail')[], edges: EdgeBuilder): number {
  const first = outcomes.length;
  let nodes = 0;
  let latest = -1;
  let invokedSince = true;
  for (const ev of events) {
    if (ev >= 0) {
      if (latest >= 0 && outcomes[ev] !== 'fail') edges.add(latest, ev, RT);
      invokedSince = true;
    } else if (outcomes[~ev] === 'ok') {
      if (invokedSince) {
        const node = first + nodes++;
        if (latest >= 0) edges.add(latest, node, RT);
        latest = node;
        invokedSince = false;
      }
      edges.add(~ev, latest, RT);
    }
  }
  return nodes;
}

export interface Graph {
  readonly vertices: number;
  readonly offsets: Int32Array;
  readonly targets: Int32Array;
  readonly masks: Uint8Array;
}

/** The kinds of the edge from -> to (0 when there is none). */
export function edgeMask(g: Graph, from: number, to: number): number {
  for (let i = g.offsets[from]!; i < g.offsets[from + 1]!; i++) if (g.targets[i] === to) return g.masks[i]!;
  return 0;
}

/** Counts work for the budget: every edge looked at is one step. */
export interface Work {
  steps: number;
  /** Returns false when the search must stop (time or step budget spent). */
  readonly alive: () => boolean;
}

/**
 * Strongly connected components (Tarjan, iterative) of the subgraph with edges in `allowed`
 * and vertices in `members` (all vertices when null; when given, `memberComp[v] === memberId`
 * says who is in). Returns the component id of each member in `comp` (-1 elsewhere) and the
 * components with two or more vertices, each as a list. Stops early and returns null when
 * `work` says the budget is spent.
 */
export function stronglyConnected(
  g: Graph,
  allowed: number,
  members: Int32Array | null,
  memberComp: Int32Array | null,
  memberId: number,
  comp: Int32Array,
  work: Work,
): Int32Array[] | null {
  const n = g.vertices;
  const count = members === null ? n : members.length;
  const vertexAt = (i: number): number => (members === null ? i : members[i]!);
  const inside = (w: number): boolean => memberComp === null || memberComp[w] === memberId;
  // index[v] = order of discovery + 1 (0: not seen); kept for members only, reset after.
  const index = scratch.index(n);
  const low = scratch.low(n);
  const onStack = scratch.onStack(n);
  const stack = new Int32Array(count);
  const callV = new Int32Array(count);
  const callE = new Int32Array(count);
  let sp = 0;
  let cp = 0;
  let counter = 0;
  const nontrivial: Int32Array[] = [];
  let nextComp = 0;
  for (let i = 0; i < count; i++) comp[vertexAt(i)] = -1;
  let stopped = false;
  outer: for (let r = 0; r < count; r++) {
    const root = vertexAt(r);
    if (index[root] !== 0) continue;
    index[root] = low[root] = ++counter;
    stack[sp++] = root;
    onStack[root] = 1;
    callV[cp] = root;
    callE[cp] = g.offsets[root]!;
    cp++;
    while (cp > 0) {
      const v = callV[cp - 1]!;
      const e0 = callE[cp - 1]!;
      let e = e0;
      const end = g.offsets[v + 1]!;
      let descended = false;
      for (; e < end; e++) {
        if ((g.masks[e]! & allowed) === 0) continue;
        const w = g.targets[e]!;
        if (!inside(w)) continue;
        if (index[w] === 0) {
          callE[cp - 1] = e + 1;
          index[w] = low[w] = ++counter;
          stack[sp++] = w;
          onStack[w] = 1;
          callV[cp] = w;
          callE[cp] = g.offsets[w]!;
          cp++;
          descended = true;
          break;
        } else if (onStack[w] === 1 && index[w]! < low[v]!) {
          low[v] = index[w]!;
        }
      }
      work.steps += e - e0 + 1;
      if (descended) continue;
      cp--;
      if (low[v] === index[v]) {
        let size = 0;
        for (let s = sp - 1; ; s--) {
          size++;
          if (stack[s] === v) break;
        }
        const id = nextComp++;
        const list = size > 1 ? new Int32Array(size) : null;
        for (let k = 0; k < size; k++) {
          const w = stack[--sp]!;
          onStack[w] = 0;
          comp[w] = id;
          if (list !== null) list[k] = w;
        }
        if (list !== null) nontrivial.push(list);
      }
      if (cp > 0) {
        const parent = callV[cp - 1]!;
        if (low[v]! < low[parent]!) low[parent] = low[v]!;
      }
      if ((counter & 0xfff) === 0 && !work.alive()) {
        stopped = true;
        break outer;
      }
    }
  }
  // Leave the shared scratch clean for the next call.
  for (let i = 0; i < count; i++) {
    const v = vertexAt(i);
    index[v] = 0;
    low[v] = 0;
    onStack[v] = 0;
  }
  return stopped ? null : nontrivial;
}

/** Scratch arrays shared by searches (one check runs at a time in a thread). */
class Scratch {
  private indexArr = new Int32Array(0);
  private lowArr = new Int32Array(0);
  private onStackArr = new Uint8Array(0);
  index(n: number): Int32Array {
    if (this.indexArr.length < n) this.indexArr = new Int32Array(n);
    return this.indexArr;
  }
  low(n: number): Int32Array {
    if (this.lowArr.length < n) this.lowArr = new Int32Array(n);
    return this.lowArr;
  }
  onStack(n: number): Uint8Array {
    if (this.onStackArr.length < n) this.onStackArr = new Uint8Array(n);
    return this.onStackArr;
  }
  /** Drop the arrays after a check so a finished check holds no memory. */
  release(): void {
    this.indexArr = new Int32Array(0);
    this.lowArr = new Int32Array(0);
    this.onStackArr = new Uint8Array(0);
  }
}
const scratch = new Scratch();
export function releaseScratch(): void {
  scratch.release();
}

/**
 * Shortest paths with 0-1 weights (a deque BFS). An edge into a time node from a
 * transaction costs 1 (it starts an `rt` hop); edges out of time nodes cost 0, so a walk
 * along the chain is one hop. Transaction-to-transaction edges cost 1.
 */
export class PathFinder {
  private readonly seen: Uint32Array;
  private readonly dist: Int32Array;
  private readonly parent: Int32Array;
  private readonly deque: Int32Array;
  private epoch = 0;

  constructor(
    private readonly g: Graph,
    /** Vertices at or above this id are time nodes. */
    private readonly firstTimeNode: number,
  ) {
    this.seen = new Uint32Array(g.vertices);
    this.dist = new Int32Array(g.vertices);
    this.parent = new Int32Array(g.vertices);
    this.deque = new Int32Array(2 * g.vertices + 2);
  }

  /**
   * A shortest path from any of `sources` to `target` (which may be one of the sources'
   * predecessors but is never entered before the end) over edges in `allowed`, staying on
   * vertices with `comp[v] === compId`. Returns the vertices from a source to the target,
   * or null when there is none or the budget ran out. With `target` among the sources the
   * path is a cycle: it leaves the target and comes back. `maxHops` bounds the search depth.
   */
  path(sources: readonly number[], target: number, allowed: number, comp: Int32Array, compId: number, work: Work, maxHops = Number.POSITIVE_INFINITY): number[] | null {
    const g = this.g;
    const epoch = ++this.epoch;
    const cap = this.deque.length;
    let head = g.vertices + 1;
    let tail = head;
    for (const s of sources) {
      if (this.seen[s] === epoch) continue;
      this.seen[s] = epoch;
      this.dist[s] = 0;
      this.parent[s] = -1;
      this.deque[tail++] = s;
    }
    let budgetCheck = 0;
    while (head !== tail) {
      const u = this.deque[head]!;
      head = (head + 1) % cap;
      const du = this.dist[u]!;
      const end = g.offsets[u + 1]!;
      for (let e = g.offsets[u]!; e < end; e++) {
        if ((g.masks[e]! & allowed) === 0) continue;
        const w = g.targets[e]!;
        if (comp[w] !== compId) continue;
        if (w === target) {
          work.steps += e - g.offsets[u]! + 1;
          return this.trace(u, target);
        }
        const weight = u >= this.firstTimeNode ? 0 : 1;
        const dw = du + weight;
        if (dw >= maxHops || (this.seen[w] === epoch && this.dist[w]! <= dw)) continue;
        this.seen[w] = epoch;
        this.dist[w] = dw;
        this.parent[w] = u;
        if (weight === 0) {
          head = (head - 1 + cap) % cap;
          this.deque[head] = w;
        } else {
          this.deque[tail] = w;
          tail = (tail + 1) % cap;
        }
      }
      work.steps += end - g.offsets[u]! + 1;
      if (++budgetCheck === 4096) {
        budgetCheck = 0;
        if (!work.alive()) return null;
      }
    }
    return null;
  }

  private trace(last: number, target: number): number[] {
    const out: number[] = [target];
    for (let v = last; v !== -1; v = this.parent[v]!) out.push(v);
    out.reverse();
    return out;
  }
}
