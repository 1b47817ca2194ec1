import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classify } from './cycles.ts';
import { addRealtimeChain, ALL, EdgeBuilder, PathFinder, RT, RW, stronglyConnected, WR, WW, type Graph, type Work } from './graph.ts';

const unlimited: Work = { steps: 0, alive: () => true };

/** Which vertices reach which, by brute force over edges in `allowed`. */
function reach(g: Graph, allowed: number): boolean[][] {
  const n = g.vertices;
  const r = Array.from({ length: n }, () => new Array<boolean>(n).fill(false));
  for (let s = 0; s < n; s++) {
    const stack = [s];
    while (stack.length > 0) {
      const v = stack.pop()!;
      for (let e = g.offsets[v]!; e < g.offsets[v + 1]!; e++) {
        const w = g.targets[e]!;
        if ((g.masks[e]! & allowed) !== 0 && !r[s]![w]) {
          r[s]![w] = true;
          stack.push(w);
        }
      }
    }
  }
  return r;
}

const graphs = fc.integer({ min: 1, max: 12 }).chain((n) =>
  fc.record({ n: fc.constant(n), edges: fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1), fc.constantFrom(WW, WR, RW, RT)), { maxLength: 40 }) }),
);

function build(n: number, edges: readonly [number, number, number][]): Graph {
  const b = new EdgeBuilder();
  for (const [a, c, k] of edges) b.add(a, c, k);
  return b.build(n);
}

describe('dependency graph', () => {
  it('merges parallel edges into one mask and drops self-loops', () => {
    const g = build(3, [[0, 1, WW], [0, 1, RW], [1, 1, WR], [1, 2, WR]]);
    expect([...g.targets]).toEqual([1, 2]);
    expect([...g.masks]).toEqual([WW | RW, WR]);
    expect([...g.offsets]).toEqual([0, 1, 2, 2]);
  });

  it('Tarjan: two vertices share a component exactly when each reaches the other', () => {
    fc.assert(
      fc.property(graphs, fc.constantFrom(WW, WW | WR, ALL), ({ n, edges }, allowed) => {
        const g = build(n, edges);
        const comp = new Int32Array(n);
        const sccs = stronglyConnected(g, allowed, null, null, 0, comp, unlimited)!;
        const r = reach(g, allowed);
        for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) if (a !== b) expect(comp[a] === comp[b]).toBe(r[a]![b]! && r[b]![a]!);
        const inBig = new Set(sccs.flatMap((s) => [...s]));
        for (let a = 0; a < n; a++) expect(inBig.has(a)).toBe([...Array(n).keys()].some((b) => b !== a && r[a]![b]! && r[b]![a]!));
      }),
      { numRuns: 400 },
    );
  });

  it('Tarjan restricted to one component sees only its members', () => {
    const g = build(4, [[0, 1, WW], [1, 0, WW], [1, 2, WW], [2, 3, WW], [3, 1, WW]]);
    const comp = new Int32Array(4);
    stronglyConnected(g, ALL, null, null, 0, comp, unlimited);
    const sub = new Int32Array(4).fill(-1);
    const members = Int32Array.from([0, 1, 2, 3]);
    const parts = stronglyConnected(g, WW, members, comp, comp[0]!, sub, unlimited)!;
    expect(parts).toHaveLength(1);
    expect([...parts[0]!].sort()).toEqual([0, 1, 2, 3]);
  });

  it('finds a shortest cycle through a vertex', () => {
    // 0 -> 1 -> 2 -> 0 and a longer way 0 -> 3 -> 4 -> 5 -> 0.
    const g = build(6, [[0, 3, WW], [3, 4, WW], [4, 5, WW], [5, 0, WW], [0, 1, WW], [1, 2, WW], [2, 0, WW]]);
    const comp = new Int32Array(6);
    expect(new PathFinder(g, 6).path([0], 0, WW, comp, 0, unlimited)).toEqual([0, 1, 2, 0]);
    expect(new PathFinder(g, 6).path([0], 0, WW, comp, 0, unlimited, 2)).toBeNull();
  });

  it('the real-time chain: a reaches b exactly when a completed (ok) before b was invoked, and b did not fail', () => {
    const histories = fc.array(fc.tuple(fc.nat(1000), fc.nat(1000), fc.constantFrom('ok', 'ok', 'info', 'fail')), { minLength: 1, maxLength: 14 });
    fc.assert(
      fc.property(histories, (spans) => {
        const outcomes = spans.map((s) => s[2] as 'ok' | 'info' | 'fail');
        // Events at distinct instants: invocation at 2*min, completion at 2*max+1.
        const at = spans.map(([x, y]) => [2 * Math.min(x, y), 2 * Math.max(x, y) + 1] as const);
        const events = at
          .flatMap(([inv, done], id) => [
            [inv * 100 + id, id],
            [done * 100 + id, ~id],
          ])
          .sort((p, q) => p[0]! - q[0]!)
          .map((p) => p[1]!);
        const b = new EdgeBuilder();
        const nodes = addRealtimeChain(Int32Array.from(events), outcomes, b);
        const g = b.build(spans.length + nodes);
        const r = reach(g, RT);
        for (let x = 0; x < spans.length; x++)
          for (let y = 0; y < spans.length; y++) {
            if (x === y) continue;
            const before = outcomes[x] === 'ok' && outcomes[y] !== 'fail' && at[x]![1] < at[y]![0];
            expect(r[x]![y], `${x} -> ${y}`).toBe(before);
          }
        expect(nodes).toBeLessThanOrEqual(spans.length);
      }),
      { numRuns: 400 },
    );
  });

  it('classifies cycles by their edges, counting rw adjacency around the cycle', () => {
    expect(classify(['ww', 'ww'])).toBe('G0');
    expect(classify(['ww', 'wr'])).toBe('G1c');
    expect(classify(['rw', 'wr', 'ww'])).toBe('G-single');
    expect(classify(['rw', 'wr', 'rw', 'wr'])).toBe('G-nonadjacent');
    expect(classify(['rw', 'wr', 'wr', 'rw'])).toBe('G2-item'); // the last and first are adjacent
    expect(classify(['rw', 'rt'])).toBe('G-single-realtime');
    expect(classify(['ww', 'rt'])).toBe('G0-realtime');
    expect(() => classify(['rt', 'rt'])).toThrow(/real-time edges only/);
  });
});
