/**
 * Finding short, classified cycles inside one strongly connected component, the way Elle
 * does (elle/txn.clj): look for the most severe kinds first, each in the subgraph of the edge
 * kinds it may use, and name every cycle found by the edges it actually has:
 *
 * | cycle edges                                  | name            |
 * |----------------------------------------------|-----------------|
 * | ww only                                      | G0              |
 * | ww and wr, at least one wr                   | G1c             |
 * | exactly one rw, the rest ww/wr               | G-single        |
 * | two or more rw, no two of them consecutive   | G-nonadjacent   |
 * | two or more rw, some two consecutive         | G2-item         |
 *
 * with `-realtime` appended when the cycle needs a real-time edge (a violation of strict
 * serializability that serializability allows). Adya, Liskov and O'Neil, "Generalized
 * Isolation Level Definitions" (2000) define G0-G2; Kingsbury and Alvaro, "Elle" (2020) the
 * rest of the vocabulary.
 *
 * Each search is linear in the component (a Tarjan pass on a subgraph, then one BFS),
 * except "exactly one rw edge", which needs a BFS per candidate rw edge: it runs under a
 * step budget, and when the budget ends the component is reported as incompletely searched
 * (the cycles found so far still stand; a cheaper search has always found one).
 */
import { ALL, DATA, edgeMask, kindOf, RT, RW, stronglyConnected, WR, WW, type EdgeKind, type Graph, type PathFinder, type Work } from './graph.ts';

/** A cycle of transactions: `kinds[i]` is the edge from `txns[i]` to `txns[(i + 1) % n]`. */
export interface FoundCycle {
  readonly txns: readonly number[];
  readonly kinds: readonly EdgeKind[];
  readonly type: string;
}

export interface SccSearch {
  readonly cycles: FoundCycle[];
  /** False when the search for some kind stopped on the step budget. */
  readonly complete: boolean;
  /** What the budget cut short, for the report. */
  readonly cutShort: string[];
}

export interface SearchContext {
  readonly g: Graph;
  /** Vertices at or above this id are time nodes (see graph.ts). */
  readonly firstTimeNode: number;
  /** Component id of every vertex in the whole graph. */
  readonly comp: Int32Array;
  /** Scratch component ids for subgraphs of one component: -1 outside it (searchScc restores that). */
  readonly subComp: Int32Array;
  readonly finder: PathFinder;
  readonly work: Work;
  /** Steps one component's "exactly one rw" searches may take. */
  readonly stepsPerScc: number;
}

/** Elle's names for a cycle with these edges. */
export function classify(kinds: readonly EdgeKind[]): string {
  let ww = 0;
  let wr = 0;
  let rw = 0;
  let rt = 0;
  for (const k of kinds) {
    if (k === 'ww') ww++;
    else if (k === 'wr') wr++;
    else if (k === 'rw') rw++;
    else rt++;
  }
  let base: string;
  if (rw === 1) base = 'G-single';
  else if (rw > 1) {
    let adjacent = false;
    for (let i = 0; i < kinds.length; i++) if (kinds[i] === 'rw' && kinds[(i + 1) % kinds.length] === 'rw') adjacent = true;
    base = adjacent ? 'G2-item' : 'G-nonadjacent';
  } else if (wr > 0) base = 'G1c';
  else if (ww > 0) base = 'G0';
  else throw new Error('internal error: a cycle of real-time edges only (real time is acyclic)');
  return rt > 0 ? `${base}-realtime` : base;
}

/**
 * Searches one component (`members`, with `ctx.comp[v] === compId`) for cycles. `realtime`:
 * the graph has real-time edges and strict serializability is being checked.
 */
export function searchScc(ctx: SearchContext, members: Int32Array, compId: number, realtime: boolean): SccSearch {
  const cycles: FoundCycle[] = [];
  const types = new Set<string>();
  const cutShort: string[] = [];
  let complete = true;
  const add = (c: FoundCycle | null): boolean => {
    if (c === null) return false;
    if (!types.has(c.type)) {
      types.add(c.type);
      cycles.push(c);
    }
    return true;
  };
  const isOp = (v: number): boolean => v < ctx.firstTimeNode;

  // G0: a cycle of write-write edges.
  const g0 = add(cycleInSubgraph(ctx, members, compId, WW));
  // G1c: with no G0 here, every ww/wr cycle has a wr edge. (G0 implies G1c: skip.)
  const g1c = !g0 && add(cycleInSubgraph(ctx, members, compId, WW | WR));
  // G-single: exactly one anti-dependency.
  const single = oneRwCycle(ctx, members, compId, WW | WR, cutShort);
  if (single === 'cut') complete = false;
  const gSingle = single !== 'cut' && add(single);
  // G2-item / G-nonadjacent: anything left in the data edges has two or more rw edges.
  if (!(g0 || g1c || gSingle)) add(cycleInSubgraph(ctx, members, compId, DATA));

  if (realtime) {
    const g0rt = !g0 && add(cycleInSubgraph(ctx, members, compId, WW | RT));
    if (!g0 && !g1c && !g0rt) add(cycleInSubgraph(ctx, members, compId, WW | WR | RT));
    if (!gSingle) {
      const singleRt = oneRwCycle(ctx, members, compId, WW | WR | RT, cutShort);
      if (singleRt === 'cut') complete = false;
      else add(singleRt);
    }
    if (cycles.length === 0) add(cycleInSubgraph(ctx, members, compId, ALL));
  }
  if (cycles.length === 0) {
    // A component always holds a cycle; reaching here means the time budget stopped the
    // searches above. Any cycle through any member will do.
    for (const v of members) {
      if (!isOp(v)) continue;
      const path = ctx.finder.path([v], v, realtime ? ALL : DATA, ctx.comp, compId, ctx.work);
      if (path !== null) add(toCycle(ctx, path, realtime ? ALL : DATA, -1));
      break;
    }
  }
  // Vertices outside the component being searched must never match a sub-component id.
  for (const v of members) ctx.subComp[v] = -1;
  return { cycles, complete, cutShort };
}

/**
 * The shortest cycle (among a few tries) inside the smallest component of the subgraph
 * with edges in `allowed`, or null when that subgraph is acyclic.
 */
function cycleInSubgraph(ctx: SearchContext, members: Int32Array, compId: number, allowed: number): FoundCycle | null {
  const subs = stronglyConnected(ctx.g, allowed, members, ctx.comp, compId, ctx.subComp, ctx.work);
  if (subs === null || subs.length === 0) return null;
  let smallest = subs[0]!;
  for (const s of subs) if (s.length < smallest.length) smallest = s;
  const subId = ctx.subComp[smallest[0]!]!;
  let best: number[] | null = null;
  let tries = 0;
  for (const v of smallest) {
    if (v >= ctx.firstTimeNode) continue;
    const path = ctx.finder.path([v], v, allowed, ctx.subComp, subId, ctx.work);
    if (path !== null && (best === null || path.length < best.length)) best = path;
    if (++tries === 4 || (best !== null && best.length <= 3)) break;
  }
  return best === null ? null : toCycle(ctx, best, allowed, -1);
}

/**
 * A cycle with exactly one rw edge a -> b and a path b ~> a over `allowed` (no rw). Tries
 * the rw edges whose ends share a component of the `allowed` subgraph first (a path is
 * certain there), then a BFS per rw source, within the step budget.
 */
function oneRwCycle(ctx: SearchContext, members: Int32Array, compId: number, allowed: number, cutShort: string[]): FoundCycle | null | 'cut' {
  const g = ctx.g;
  const sources: number[] = [];
  for (const a of members) {
    if (a >= ctx.firstTimeNode) continue;
    for (let e = g.offsets[a]!; e < g.offsets[a + 1]!; e++) {
      if ((g.masks[e]! & RW) !== 0 && ctx.comp[g.targets[e]!] === compId) {
        sources.push(a);
        break;
      }
    }
  }
  if (sources.length === 0) return null;
  const subs = stronglyConnected(g, allowed, members, ctx.comp, compId, ctx.subComp, ctx.work);
  if (subs === null) return 'cut';
  if (subs.length > 0) {
    for (const a of sources) {
      for (let e = g.offsets[a]!; e < g.offsets[a + 1]!; e++) {
        const b = g.targets[e]!;
        if ((g.masks[e]! & RW) === 0 || ctx.comp[b] !== compId || ctx.subComp[b] !== ctx.subComp[a]) continue;
        const path = ctx.finder.path([b], a, allowed, ctx.subComp, ctx.subComp[a]!, ctx.work);
        if (path !== null) return toCycle(ctx, [a, ...path], allowed, RW | allowed);
      }
    }
  }
  // Short cycles first: a depth-bounded BFS per rw source is cheap even in a component of
  // hundreds of thousands, and the cycles a bug makes are usually short; then unbounded.
  const limit = ctx.work.steps + ctx.stepsPerScc;
  for (const maxHops of [SHORT_CYCLE_HOPS, Number.POSITIVE_INFINITY]) {
    for (const [i, a] of sources.entries()) {
      if (ctx.work.steps > limit || !ctx.work.alive()) {
        const what = (allowed & RT) !== 0 ? 'G-single-realtime' : 'G-single';
        cutShort.push(`${what} (exactly one rw edge) in a component of ${members.length} vertices: searched ${maxHops === SHORT_CYCLE_HOPS ? `for cycles of up to ${SHORT_CYCLE_HOPS} edges from ${i}` : `from ${i}`} of ${sources.length} rw sources`);
        return 'cut';
      }
      const targets: number[] = [];
      for (let e = g.offsets[a]!; e < g.offsets[a + 1]!; e++) if ((g.masks[e]! & RW) !== 0 && ctx.comp[g.targets[e]!] === compId) targets.push(g.targets[e]!);
      const path = ctx.finder.path(targets, a, allowed, ctx.comp, compId, ctx.work, maxHops);
      if (path !== null) return toCycle(ctx, [a, ...path], allowed, RW | allowed);
    }
  }
  return null;
}

/** Depth of the first, cheap round of the one-rw search (edges after the rw edge). */
const SHORT_CYCLE_HOPS = 6;

/**
 * Turns a closed walk [v0, ..., v0] (v0 a transaction) into transactions and edge kinds,
 * folding each run through time nodes into one `rt` edge. The first edge may use
 * `firstAllowed` (the rw edge of a G-single search); the rest use `allowed`. Where two
 * transactions are linked by several kinds, the least severe is named (ww, then wr, rw, rt),
 * so a cycle is never called worse than it is.
 */
function toCycle(ctx: SearchContext, walk: readonly number[], allowed: number, firstAllowed: number): FoundCycle {
  const txns: number[] = [];
  const kinds: EdgeKind[] = [];
  let i = 0;
  while (i < walk.length - 1) {
    const u = walk[i]!;
    txns.push(u);
    let j = i + 1;
    if (walk[j]! >= ctx.firstTimeNode) {
      while (walk[j]! >= ctx.firstTimeNode) j++;
      kinds.push('rt');
    } else {
      const mask = edgeMask(ctx.g, u, walk[j]!) & (i === 0 && firstAllowed >= 0 ? firstAllowed : allowed);
      kinds.push(kindOf(mask & WW ? WW : mask & WR ? WR : mask & RW ? RW : RT));
    }
    i = j;
  }
  return { txns, kinds, type: classify(kinds) };
}
