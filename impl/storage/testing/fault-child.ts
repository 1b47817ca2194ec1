/**
 * Child process for the storage fault-mode tests: writes, prints READY, then waits to be
 * SIGKILLed. Usage: fault-child.ts <dir> <scenario>
 *   synced-then-buffered  fault mode, fsync: save 1..20, then append 21..40 without sync
 *   no-fsync-fault        fault mode, fsync false: save 1..20 (acknowledged, never flushed)
 *   no-fsync-plain        no fault mode, fsync false: save 1..20 (written, not fsynced)
 *   no-fsync-lazy-flush   fault mode, fsync false, lazy flush 100 ms: save 1..10, wait for a
 *                         flush, then save 11..20
 *   writer                fault mode, fsync, 16 KiB segments: append batches forever from the
 *                         recovered last index, printing `ACK <index>` after each save resolves,
 *                         snapshotting and compacting now and then
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DiskStorage } from '../disk-storage.ts';
import type { DiskStorageOptions } from '../disk-storage.ts';
import { ent, hs } from './helpers.ts';
import type { Index, NodeId } from '../../raft/types.ts';

const [dir, scenario] = process.argv.slice(2);
if (dir === undefined || scenario === undefined) throw new Error('usage: fault-child.ts <dir> <scenario>');

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const options: Record<string, DiskStorageOptions> = {
  'synced-then-buffered': { faultMode: true, fsync: true },
  'no-fsync-fault': { faultMode: true, fsync: false, lazyFlushMs: 600_000 },
  'no-fsync-plain': { faultMode: false, fsync: false },
  'no-fsync-lazy-flush': { faultMode: true, fsync: false, lazyFlushMs: 100 },
  writer: { faultMode: true, fsync: true, segmentBytes: 16 * 1024 },
};
const chosen = options[scenario];
if (chosen === undefined) throw new Error(`unknown scenario ${scenario}`);
const s = await DiskStorage.open(dir, { ...chosen, logger: quiet });

switch (scenario) {
  case 'synced-then-buffered':
    for (let i = 1; i <= 20; i++) await s.save(hs(1, i - 1), [ent(i, 1)], null);
    for (let i = 21; i <= 40; i++) s.append(hs(1, i - 1), [ent(i, 1)], null);
    break;
  case 'no-fsync-fault':
  case 'no-fsync-plain':
    for (let i = 1; i <= 20; i++) await s.save(hs(1, i - 1), [ent(i, 1)], null);
    break;
  case 'no-fsync-lazy-flush':
    for (let i = 1; i <= 10; i++) await s.save(hs(1, i - 1), [ent(i, 1)], null);
    while (s.stats().pendingBytes > 0 || s.stats().flushes === 0) await sleep(20);
    await s.settle();
    for (let i = 11; i <= 20; i++) await s.save(hs(1, i - 1), [ent(i, 1)], null);
    break;
  case 'writer': {
    process.stdout.write(`READY ${JSON.stringify(s.stats())}\n`);
    let next = s.lastIndex() + 1;
    let round = 0;
    // Several saves in flight at once, as a pipelining driver would do: group commit under kill.
    for (;;) {
      const inflight: Promise<void>[] = [];
      for (let k = 0; k < 4; k++) {
        const n = 1 + ((next * 7 + k) % 40);
        const batch = [];
        for (let i = 0; i < n; i++, next++) batch.push(ent(next, 1, `v${next}-${'x'.repeat(next % 300)}`));
        const last = next - 1;
        inflight.push(s.save(hs(1, last), batch, null).then(() => void process.stdout.write(`ACK ${last}\n`)));
      }
      await Promise.all(inflight);
      if (++round % 10 === 0) {
        const at = s.lastIndex() - 5;
        if (at > s.snapshot().metadata.index) {
          await s.createSnapshot(at as Index, { voters: ['n1' as NodeId], learners: [] }, new TextEncoder().encode(`snap@${at}`));
          s.compact((at - 3) as Index);
        }
      }
    }
  }
}
process.stdout.write(`READY ${JSON.stringify(s.stats())}\n`);
// Stay alive until killed; the test sends SIGKILL, so nothing below runs.
setInterval(() => undefined, 1000);
