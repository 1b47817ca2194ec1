/**
 * The RaftStorage contract (impl/raft/types.ts), checked differentially: random sequences of
 * Ready-style writes, snapshots, compactions and restarts are applied to DiskStorage and to
 * the core's reference MemoryStorage, and every read must agree — half-open entry ranges,
 * term() valid on [firstIndex-1, lastIndex], CompactedError below, UnavailableError above.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DiskStorage } from './disk-storage.ts';
import { captureLogger, ent, hs, tempDir } from './testing/helpers.ts';
import { MemoryStorage } from '../raft/memory-storage.ts';
import type { Entry, Index, NodeId, RaftStorage, Snapshot, Term } from '../raft/types.ts';

type Op =
  | { kind: 'append'; at: number; count: number; term: number; size: number; commit: number }
  | { kind: 'snapshot'; at: number }
  | { kind: 'compact'; at: number }
  | { kind: 'install'; ahead: number; term: number }
  | { kind: 'restart' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }), term: fc.integer({ min: 1, max: 9 }), size: fc.nat(40), commit: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('snapshot' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('compact' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('install' as const), ahead: fc.integer({ min: 1, max: 6 }), term: fc.integer({ min: 1, max: 9 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

/** Everything observable through RaftStorage, with errors reduced to their class name. */
function observe(s: RaftStorage): unknown {
  const attempt = <T>(f: () => T): T | string => {
    try {
      return f();
    } catch (e) {
      return (e as Error).name;
    }
  };
  const first = s.firstIndex();
  const last = s.lastIndex();
  const terms: unknown[] = [];
  for (let i = Math.max(0, first - 2); i <= last + 1; i++) terms.push([i, attempt(() => s.term(i as Index))]);
  const ranges: unknown[] = [];
  for (let lo = Math.max(0, first - 1); lo <= last + 1; lo++) {
    for (const hi of [lo, lo + 1, last + 1, last + 2]) {
      for (const maxBytes of [0, 50, Infinity]) {
        ranges.push([lo, hi, maxBytes, attempt(() => s.entries(lo as Index, hi as Index, maxBytes).map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]))]);
      }
    }
  }
  const snap = s.snapshot();
  return { first, last, initial: s.initialState(), snap: [snap.metadata, Buffer.from(snap.data).toString('hex')], terms, ranges };
}

const dirs: { cleanup(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.cleanup()));

describe('DiskStorage honours the RaftStorage contract like MemoryStorage', () => {
  it('agrees with MemoryStorage on every read after random writes, snapshots, compactions and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
        const d = tempDir('contract-');
        dirs.push(d);
        const opts = { logger: captureLogger(), segmentBytes: 300 };
        let disk = await DiskStorage.open(d.dir, opts);
        const mem = new MemoryStorage();
        try {
          for (const op of ops) {
            const first = mem.firstIndex();
            const last = mem.lastIndex();
            switch (op.kind) {
              case 'append': {
                // Anywhere in [max(first, commit+1), last+1]: appends at the end, or overwrites an
                // uncommitted suffix (committed entries are never overwritten, Log Matching).
                const prevCommit = mem.getHardState().commit;
                const lo = Math.max(first, prevCommit + 1);
                const at = lo + (op.at % (last + 2 - lo));
                const batch: Entry[] = [];
                for (let k = 0; k < op.count; k++) batch.push(ent(at + k, op.term, 'd'.repeat((op.size + k) % 41)));
                const newLast = at + op.count - 1;
                const h = hs(op.term, prevCommit + (op.commit % (newLast - prevCommit + 1)), 'n1');
                mem.append(batch);
                mem.setHardState(h);
                await disk.save(h, batch, null);
                break;
              }
              case 'snapshot': {
                const snapIndex = mem.snapshot().metadata.index;
                const top = Math.min(last, mem.getHardState().commit);
                if (top <= snapIndex) break;
                const at = (snapIndex + 1 + (op.at % (top - snapIndex))) as Index;
                const data = new TextEncoder().encode(`state@${at}`);
                const cs = { voters: ['n1', `n${at}`] as NodeId[], learners: [] };
                mem.createSnapshot(at, cs, data);
                await disk.createSnapshot(at, cs, data);
                break;
              }
              case 'compact': {
                const snapIndex = mem.snapshot().metadata.index;
                if (snapIndex < first) break;
                const at = (first + (op.at % (snapIndex - first + 1))) as Index;
                mem.compact(at);
                disk.compact(at);
                break;
              }
              case 'install': {
                const at = (Math.max(last, mem.snapshot().metadata.index) + op.ahead) as Index;
                const snap: Snapshot = { metadata: { index: at, term: op.term as Term, confState: { voters: ['n9' as NodeId], learners: [] } }, data: new Uint8Array([at % 256]) };
                const h = hs(op.term, at);
                mem.applySnapshot(snap);
                mem.setHardState(h);
                await disk.save(h, [], snap);
                break;
              }
              case 'restart':
                await disk.close();
                disk = await DiskStorage.open(d.dir, opts);
                // After a restart the log starts right after the snapshot (FORMAT.md, Recovery).
                if (mem.snapshot().metadata.index >= mem.firstIndex()) mem.compact(mem.snapshot().metadata.index);
                break;
            }
            expect(observe(disk)).toEqual(observe(mem));
          }
        } finally {
          await disk.close();
          d.cleanup();
        }
      }),
      { numRuns: 60 },
    );
  });
});
