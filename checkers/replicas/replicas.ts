/**
 * Replica agreement from the digests nodes expose (`GET /v1/digest`: index, term and a hash
 * of each applied entry). State Machine Safety (Raft §5.4.3, Figure 3): if a node has applied
 * an entry at an index, no node ever applies a different entry at that index. So every two
 * nodes agree at every index both report, and a node's own digest of an index never changes.
 */
import type { CheckInput, CheckResult, Checker, Validity } from '../checker.ts';
import type { NodeEvent } from '../history/types.ts';

export interface ReplicasOptions {
  /** How many divergent indexes and changed entries to list (default 50; counts cover all). */
  readonly maxListed?: number;
}

export interface EntryDigest {
  readonly term: number;
  readonly hash: string;
  /** When the digest was taken (the event's time). */
  readonly time: number;
}

export interface Divergence {
  readonly kind: 'divergent';
  readonly index: number;
  /** What each node that reported this index had there (its first report). */
  readonly nodes: readonly ({ readonly node: string } & EntryDigest)[];
}

export interface ChangedEntry {
  readonly kind: 'changed';
  readonly node: string;
  readonly index: number;
  readonly first: EntryDigest;
  readonly later: EntryDigest;
}

export interface ReplicasResult extends CheckResult {
  readonly checker: 'replicas';
  readonly nodes: readonly { readonly node: string; readonly digests: number; readonly minIndex: number | null; readonly maxIndex: number | null }[];
  /** Indexes reported by at least two nodes (the ones cross-checked). */
  readonly sharedIndexes: number;
  readonly divergentCount: number;
  readonly firstDivergence: Divergence | null;
  readonly divergences: readonly Divergence[];
  readonly changedCount: number;
  readonly changed: readonly ChangedEntry[];
}

/** Members whose key-space hashes at the same revision differ (etcd's HashKV). */
export interface KvHashDivergence {
  readonly kind: 'kv-hash-divergent';
  readonly revision: number;
  readonly nodes: readonly { readonly node: string; readonly hash: string; readonly compactRevision: number }[];
}

/**
 * Systems that expose a hash of their key space at a revision instead of per-entry digests:
 * every member's hash at one revision must be equal. Compaction does not change the hash of
 * the keys as of a revision at or after the compaction (etcd's HashKV hashes the MVCC keys in
 * (compactRevision, revision]), so members compared at one revision must also agree on the
 * compact revision; when they do not, the comparison is skipped and said.
 */
function checkKvHashes(events: readonly NodeEvent[]): { compared: number; divergent: KvHashDivergence[]; skipped: string[] } {
  const byRevision = new Map<number, Extract<NodeEvent, { kind: 'kv-hash' }>[]>();
  for (const e of events) {
    if (e.kind !== 'kv-hash') continue;
    const list = byRevision.get(e.revision) ?? [];
    list.push(e);
    byRevision.set(e.revision, list);
  }
  let compared = 0;
  const divergent: KvHashDivergence[] = [];
  const skipped: string[] = [];
  for (const [revision, list] of [...byRevision].sort((a, b) => a[0] - b[0])) {
    if (list.length < 2) continue;
    if (new Set(list.map((e) => e.compactRevision)).size > 1) {
      skipped.push(`revision ${revision}: members compacted at different revisions (${list.map((e) => `${e.node} ${e.compactRevision}`).join(', ')})`);
      continue;
    }
    compared += 1;
    if (new Set(list.map((e) => e.hash)).size > 1) divergent.push({ kind: 'kv-hash-divergent', revision, nodes: list.map((e) => ({ node: e.node, hash: e.hash, compactRevision: e.compactRevision })).sort((a, b) => (a.node < b.node ? -1 : 1)) });
  }
  return { compared, divergent, skipped };
}

export function checkReplicas(input: CheckInput, options: ReplicasOptions = {}): ReplicasResult {
  const kv = checkKvHashes(input.events ?? []);
  if (kv.compared > 0 || kv.divergent.length > 0 || kv.skipped.length > 0) {
    const problems = input.collectionProblems ?? [];
    const first = kv.divergent[0];
    const valid: Validity = kv.divergent.length > 0 ? false : kv.compared > 0 ? true : 'unknown';
    let summary =
      first !== undefined
        ? `members' key spaces differ at revision ${first.revision}: ${first.nodes.map((n) => `${n.node} hash ${n.hash}`).join(', ')}`
        : kv.compared > 0
          ? `members agree: equal key-space hashes at ${kv.compared} revision(s)`
          : `nothing compared: ${kv.skipped.join('; ')}`;
    if (problems.length > 0) summary += `; could not collect: ${problems.slice(0, 5).join('; ')}`;
    return {
      checker: 'replicas',
      valid,
      summary,
      nodes: [],
      sharedIndexes: 0,
      divergentCount: kv.divergent.length,
      firstDivergence: null,
      divergences: [],
      changedCount: 0,
      changed: [],
      kvHashDivergences: kv.divergent,
      ...(kv.skipped.length > 0 ? { kvHashSkipped: kv.skipped } : {}),
      ...(problems.length > 0 ? { collectionProblems: problems } : {}),
    };
  }
  return checkDigests(input, options);
}

function checkDigests(input: CheckInput, options: ReplicasOptions): ReplicasResult {
  const maxListed = options.maxListed ?? 50;
  const digests = (input.events ?? []).map((e, i) => [e, i] as const).filter((x): x is readonly [Extract<NodeEvent, { kind: 'digest' }>, number] => x[0].kind === 'digest');
  digests.sort((a, b) => a[0].time - b[0].time || a[1] - b[1]);

  const perNode = new Map<string, Map<number, EntryDigest>>();
  const changed: ChangedEntry[] = [];
  let changedCount = 0;
  let reobserved = 0;
  for (const [e, i] of digests) {
    const where = `event ${i} (digest of ${JSON.stringify(e.node)})`;
    if (typeof e.node !== 'string' || e.node === '') throw new Error(`event ${i} (digest): node must be a non-empty string`);
    if (typeof e.time !== 'number' || !Number.isFinite(e.time)) throw new Error(`${where}: time must be a finite number`);
    const entries: Extract<NodeEvent, { kind: 'digest' }>['entries'] = e.entries;
    if (!Array.isArray(entries as unknown)) throw new Error(`${where}: entries must be an array`);
    let mine = perNode.get(e.node);
    if (mine === undefined) perNode.set(e.node, (mine = new Map<number, EntryDigest>()));
    entries.forEach((x, k) => {
      if (!Number.isInteger(x.index) || x.index < 1) throw new Error(`${where}, entry ${k}: index must be an integer >= 1, got ${JSON.stringify(x.index)}`);
      if (!Number.isInteger(x.term) || x.term < 0) throw new Error(`${where}, entry ${k}: term must be a non-negative integer, got ${JSON.stringify(x.term)}`);
      if (typeof x.hash !== 'string') throw new Error(`${where}, entry ${k}: hash must be a string`);
      const d: EntryDigest = { term: x.term, hash: x.hash, time: e.time };
      const prior = mine.get(x.index);
      if (prior === undefined) {
        mine.set(x.index, d);
        return;
      }
      reobserved += 1;
      if (prior.term !== d.term || prior.hash !== d.hash) {
        changedCount += 1;
        if (changed.length < maxListed) changed.push({ kind: 'changed', node: e.node, index: x.index, first: prior, later: d });
      }
    });
  }

  const byIndex = new Map<number, ({ node: string } & EntryDigest)[]>();
  for (const [node, entries] of perNode) {
    for (const [index, d] of entries) {
      let list = byIndex.get(index);
      if (list === undefined) byIndex.set(index, (list = []));
      list.push({ node, ...d });
    }
  }
  let sharedIndexes = 0;
  let divergentCount = 0;
  const divergences: Divergence[] = [];
  for (const index of [...byIndex.keys()].sort((a, b) => a - b)) {
    const list = byIndex.get(index)!;
    if (list.length < 2) continue;
    sharedIndexes += 1;
    const first = list[0]!;
    if (list.every((x) => x.term === first.term && x.hash === first.hash)) continue;
    divergentCount += 1;
    if (divergences.length < maxListed) divergences.push({ kind: 'divergent', index, nodes: [...list].sort((a, b) => (a.node < b.node ? -1 : 1)) });
  }

  const nodes = [...perNode]
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([node, entries]) => {
      const idx = [...entries.keys()];
      return { node, digests: entries.size, minIndex: idx.length > 0 ? Math.min(...idx) : null, maxIndex: idx.length > 0 ? Math.max(...idx) : null };
    });

  const firstDivergence = divergences[0] ?? null;
  const nothingCompared = sharedIndexes === 0 && reobserved === 0;
  // One member: agreement holds by construction, so "nothing to compare" is not a gap in the evidence.
  const single = input.clusterSize === 1;
  const valid: Validity = divergentCount > 0 || changedCount > 0 ? false : nothingCompared && !single ? 'unknown' : true;
  let summary: string;
  if (firstDivergence !== null) {
    summary = `logs diverge at index ${firstDivergence.index}: ` + firstDivergence.nodes.map((n) => `${n.node} term ${n.term} hash ${n.hash}`).join(', ');
    if (divergentCount > 1) summary += ` (${divergentCount} divergent indexes)`;
  } else if (changed.length > 0) {
    const c = changed[0]!;
    summary = `${c.node}'s applied entry ${c.index} changed from term ${c.first.term} hash ${c.first.hash} to term ${c.later.term} hash ${c.later.hash}`;
  } else if (single && nothingCompared) {
    summary = 'a one-member cluster: no replicas to compare';
  } else if (valid === 'unknown') {
    summary = digests.length === 0 ? 'no digest events to check' : 'no index reported twice: nothing to compare';
  } else if (perNode.size < new Set((input.events ?? []).map((e) => e.node)).size) {
    summary = `${nodes.length} nodes agree at all ${sharedIndexes} shared indexes (the others gave no digest)`;
  } else {
    summary = `${nodes.length} nodes agree at all ${sharedIndexes} shared indexes`;
  }
  if (changedCount > 0 && firstDivergence !== null) summary += `; ${changedCount} entries changed on a node`;
  // Say exactly what could not be collected, so "nothing to compare" never hides why.
  const problems = input.collectionProblems ?? [];
  if (problems.length > 0) summary += `; could not collect: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (${problems.length - 5} more)` : ''}`;

  return { checker: 'replicas', valid, summary, nodes, sharedIndexes, divergentCount, firstDivergence, divergences, changedCount, changed, ...(problems.length > 0 ? { collectionProblems: problems } : {}) };
}

export class ReplicasChecker implements Checker {
  readonly name = 'replicas';
  constructor(private readonly options: ReplicasOptions = {}) {}
  check(input: CheckInput): ReplicasResult {
    return checkReplicas(input, this.options);
  }
}
