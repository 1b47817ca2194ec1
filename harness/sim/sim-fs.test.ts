/**
 * The simulated disk's durability model, and the real DiskStorage running on it.
 */
import { describe, expect, it } from 'vitest';
import { bootstrapHardState, index, nodeId, term } from '../../impl/raft/index.ts';
import type { Entry } from '../../impl/raft/index.ts';
import { DiskStorage } from '../../impl/storage/disk-storage.ts';
import type { StorageFs } from '../../impl/storage/storage-fs.ts';
import { SimRandom } from './random.ts';
import { Scheduler, SimProcess } from './scheduler.ts';
import { SimDisk } from './sim-fs.ts';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Run `f` as process `proc` on `disk` until it settles. */
async function runAs<T>(scheduler: Scheduler, disk: SimDisk, proc: SimProcess, f: (fs: StorageFs) => Promise<T>): Promise<T> {
  let out: { v: T } | null = null;
  let err: Error | null = null;
  scheduler.after(0, () => void f(disk.view(proc)).then((v) => (out = { v }), (e: unknown) => (err = e instanceof Error ? e : new Error(String(e)))), proc);
  await scheduler.run(() => out !== null || err !== null);
  if (err !== null) throw err as Error;
  return (out as unknown as { v: T }).v;
}

function setup(seed = 'disk'): { scheduler: Scheduler; disk: SimDisk; run: <T>(f: (fs: StorageFs) => Promise<T>) => Promise<T> } {
  const scheduler = new Scheduler(false);
  const disk = new SimDisk('d', scheduler, SimRandom.fromSeed(seed));
  return { scheduler, disk, run: (f) => runAs(scheduler, disk, new SimProcess('p'), f) };
}

/** /d/a holds "durable" (synced, its name too), then "-volatile" written after it, never synced. */
async function durableThenVolatile(fs: StorageFs): Promise<void> {
  await fs.mkdirp('/d');
  const f = await fs.open('/d/a', 'create-exclusive');
  await f.writev([Buffer.from('durable')], 0);
  await f.sync();
  await fs.syncDir('/d');
  await f.writev([Buffer.from('-volatile')], 7);
}

describe('SimDisk', () => {
  it('keeps synced bytes and names across a power loss and loses what was never synced or named durably', async () => {
    const { disk, run } = setup();
    await run(async (fs) => {
      await durableThenVolatile(fs);
      const g = await fs.open('/d/b', 'create-exclusive');
      await g.writev([Buffer.from('unnamed')], 0);
      await g.sync(); // the data is durable, its name is not
    });
    expect(disk.readFile('/d/a').toString()).toBe('durable-volatile');
    // Crash until the unsynced write is lost entirely (it may also survive or be torn).
    for (let i = 0; i < 50; i++) {
      const copy = setup(`crash-${i}`);
      await copy.run(durableThenVolatile);
      copy.disk.crash();
      const after = copy.disk.readFile('/d/a').toString();
      expect(after.startsWith('durable')).toBe(true);
      expect('durable-volatile'.startsWith(after) || /^durable\0+$/.test(after)).toBe(true);
    }
    disk.crash();
    expect(disk.readFile('/d/a').subarray(0, 7).toString()).toBe('durable');
  });

  it('makes an O_DSYNC write durable when it returns, and a crash while it is in flight may tear it', async () => {
    const outcomes = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const { scheduler, disk } = setup(`dsync-${i}`);
      const proc = new SimProcess('p');
      const fs = disk.view(proc);
      let wrote = false;
      scheduler.after(0, () => {
        void (async () => {
          await fs.mkdirp('/d');
          const f = await fs.open('/d/w', 'create-exclusive', { dsync: true });
          await fs.syncDir('/d');
          await f.writev([Buffer.from('0123456789')], 0);
          wrote = true;
          void f.writev([Buffer.from('abcdefghij')], 10); // in flight at the crash
        })();
      }, proc);
      await scheduler.run(() => wrote);
      expect(disk.unsyncedOps('/d/w')).toBe(1);
      disk.crash();
      const after = disk.readFile('/d/w').toString();
      expect(after.slice(0, 10)).toBe('0123456789');
      const tail = after.slice(10);
      outcomes.add(tail === '' ? 'lost' : tail === 'abcdefghij' ? 'kept' : /^\0+$/.test(tail) ? 'zeros' : 'abcdefghij'.startsWith(tail) ? 'prefix' : `bad:${tail}`);
    }
    expect([...outcomes].sort()).toEqual(['kept', 'lost', 'prefix', 'zeros']);
  });

  it('runs the real DiskStorage: what save() acknowledged survives a power loss; recovery truncates a torn tail', async () => {
    let tornSeen = false;
    for (let i = 0; i < 30; i++) {
      const { scheduler, disk } = setup(`wal-${i}`);
      const voters = [nodeId('n1')];
      const acked: number[] = [];
      const proc = new SimProcess('node');
      let stop = false;
      scheduler.after(0, () => {
        void (async () => {
          const s = await DiskStorage.open('/data', { fs: disk.view(proc), logger: quiet, bootstrap: { voters, learners: [] } });
          let last = s.lastIndex();
          acked.push(last); // open() returns once the bootstrap entries are durable
          for (let k = 0; k < 20; k++) {
            const entry: Entry = { index: index(last + 1), term: term(1), type: 'normal', data: Buffer.from(`entry-${k}`) };
            const p = s.save({ ...bootstrapHardState(voters), term: term(1) }, [entry], null);
            last++;
            await p;
            acked.push(last);
          }
          stop = true;
        })();
      }, proc);
      // Lose power at a seeded moment while the writes go on.
      const rng = SimRandom.fromSeed(`when-${i}`);
      await scheduler.runFor(rng.between(1, 15));
      scheduler.kill(proc);
      const report = disk.crash();
      tornSeen ||= report.some((r) => r.file.endsWith('.wal') && r.torn !== null);
      const warnings: string[] = [];
      const recovered = await runAs(scheduler, disk, new SimProcess('again'), (fs) => DiskStorage.open('/data', { fs, logger: { ...quiet, warn: (m: string) => warnings.push(m) } }));
      expect(stop || acked.length < 20).toBe(true);
      const lastAcked = acked.at(-1) ?? 0;
      expect(recovered.lastIndex()).toBeGreaterThanOrEqual(lastAcked);
      if (report.some((r) => r.file.endsWith('.wal') && r.torn !== null)) expect(warnings.join('\n')).toContain('truncating torn tail');
    }
    expect(tornSeen).toBe(true);
  });
});
