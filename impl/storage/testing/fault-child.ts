/**
 * Child process for the storage fault-mode tests: writes, prints READY, then waits to be
 * SIGKILLed. Usage: fault-child.ts <dir> <scenario>
 *   synced-then-buffered  fault mode, fsync: save 1..20, then append 21..40 without sync
 *   no-fsync-fault        fault mode, fsync false: save 1..20 (acknowledged, never flushed)
 *   no-fsync-plain        no fault mode, fsync false: save 1..20 (written, not fsynced)
 *   no-fsync-lazy-flush   fault mode, fsync false, lazy flush 100 ms: save 1..10, wait for a
 *                         flush, then save 11..20
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DiskStorage } from '../disk-storage.ts';
import type { DiskStorageOptions } from '../disk-storage.ts';
import { ent, hs } from './helpers.ts';

const [dir, scenario] = process.argv.slice(2);
if (dir === undefined || scenario === undefined) throw new Error('usage: fault-child.ts <dir> <scenario>');

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const options: Record<string, DiskStorageOptions> = {
  'synced-then-buffered': { faultMode: true, fsync: true },
  'no-fsync-fault': { faultMode: true, fsync: false, lazyFlushMs: 600_000 },
  'no-fsync-plain': { faultMode: false, fsync: false },
  'no-fsync-lazy-flush': { faultMode: true, fsync: false, lazyFlushMs: 100 },
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
}
process.stdout.write(`READY ${JSON.stringify(s.stats())}\n`);
// Stay alive until killed; the test sends SIGKILL, so nothing below runs.
setInterval(() => undefined, 1000);
