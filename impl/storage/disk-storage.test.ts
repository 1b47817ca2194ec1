import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskStorage, segmentFileName } from './disk-storage.ts';
import type { DiskStorageOptions } from './disk-storage.ts';
import { WalCorruptionError } from './wal-format.ts';
import { captureLogger, conf, ent, ents, hs, tempDir, text } from './testing/helpers.ts';
import { MemoryStorage } from '../raft/memory-storage.ts';
import type { Index, NodeId, Snapshot, Term } from '../raft/types.ts';

const dirs: { cleanup(): void }[] = [];
const open: DiskStorage[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) d.cleanup();
});

function newDir(): string {
  const d = tempDir();
  dirs.push(d);
  return d.dir;
}

async function openStorage(dir: string, options: DiskStorageOptions = {}): Promise<DiskStorage> {
  const s = await DiskStorage.open(dir, { logger: captureLogger(), ...options });
  open.push(s);
  return s;
}

async function reopen(s: DiskStorage, options: DiskStorageOptions = {}): Promise<DiskStorage> {
  await s.close();
  return openStorage(s.dir, options);
}

const all = (s: DiskStorage) => s.entries(s.firstIndex(), (s.lastIndex() + 1) as Index, Infinity);
const segmentFile = (dir: string, seq: number) => path.join(dir, 'wal', segmentFileName(seq));

describe('DiskStorage', () => {
  it('round-trips entries and hard state across a clean restart', async () => {
    const dir = newDir();
    let s = await openStorage(dir);
    await s.save(hs(1, 0, 'n1'), ents(1, 5, 1), null);
    await s.save(hs(2, 3, 'n2'), [ent(6, 2, 'x'.repeat(10_000)), ent(7, 2, '', 'noop')], null);
    s = await reopen(s);
    expect(s.initialState()).toEqual({ hardState: hs(2, 3, 'n2'), confState: conf() });
    expect(s.firstIndex()).toBe(1);
    expect(s.lastIndex()).toBe(7);
    const got = all(s);
    expect(got.map(text)).toEqual([...ents(1, 5, 1).map(text), 'x'.repeat(10_000), '']);
    expect(got[6]!.type).toBe('noop');
    expect(s.term(6 as Index)).toBe(2);
  });

  it('overwrites a conflicting suffix, in memory and after restart (§5.3)', async () => {
    let s = await openStorage(newDir());
    await s.save(hs(1, 0), ents(1, 10, 1), null);
    await s.save(hs(2, 4), ents(6, 8, 2), null);
    const expected = [...ents(1, 5, 1), ...ents(6, 8, 2)].map((e) => [e.index, e.term, text(e)]);
    expect(all(s).map((e) => [e.index, e.term, text(e)])).toEqual(expected);
    s = await reopen(s);
    expect(all(s).map((e) => [e.index, e.term, text(e)])).toEqual(expected);
  });

  it('rejects an append that would leave a gap, without changing anything', async () => {
    const s = await openStorage(newDir());
    await s.save(hs(1, 0), ents(1, 3, 1), null);
    await expect(s.save(hs(9, 9), ents(5, 6, 1), null)).rejects.toThrow(/log gap: entries start at index 5 but the last index is 3/);
    expect(s.lastIndex()).toBe(3);
    expect(s.initialState().hardState).toEqual(hs(1, 0));
  });

  it('recovers across many segments', async () => {
    const dir = newDir();
    let s = await openStorage(dir, { segmentBytes: 512 });
    for (let i = 1; i <= 60; i++) await s.save(hs(1, i - 1), [ent(i, 1)], null);
    expect(s.stats().segments).toBeGreaterThan(3);
    s = await reopen(s, { segmentBytes: 512 });
    expect(s.lastIndex()).toBe(60);
    expect(s.initialState().hardState).toEqual(hs(1, 59));
    expect(all(s).map(text)).toEqual(ents(1, 60, 1).map(text));
  });

  it('truncates a torn last record with a warning and keeps everything before it', async () => {
    const dir = newDir();
    let s = await openStorage(dir);
    await s.save(hs(1, 0), ents(1, 5, 1), null);
    await s.save(null, ents(6, 8, 1), null);
    await s.close();
    const file = segmentFile(dir, 1);
    const size = (await fsp.stat(file)).size;
    await fsp.truncate(file, size - 7); // cut the last record (entries 6..8) mid-payload
    const logger = captureLogger();
    s = await openStorage(dir, { logger });
    expect(s.lastIndex()).toBe(5);
    const warning = logger.lines.find((l) => l.level === 'warn');
    expect(warning?.msg).toMatch(/torn tail/);
    expect(JSON.stringify(warning?.fields)).toMatch(/payload cut short/);
    // The truncation is durable and appending continues from there.
    await s.save(null, ents(6, 7, 2), null);
    s = await reopen(s);
    expect(all(s).map((e) => e.term)).toEqual([1, 1, 1, 1, 1, 2, 2]);
  });

  it('treats a bad checksum on the final record of the last segment as torn', async () => {
    const dir = newDir();
    let s = await openStorage(dir);
    await s.save(hs(1, 0), ents(1, 3, 1), null);
    await s.save(null, ents(4, 4, 1), null);
    await s.close();
    const file = segmentFile(dir, 1);
    const buf = await fsp.readFile(file);
    buf[buf.length - 2]! ^= 0xff;
    await fsp.writeFile(file, buf);
    s = await openStorage(dir);
    expect(s.lastIndex()).toBe(3);
  });

  it('stops with an error naming file, offset and record on corruption before the end', async () => {
    const dir = newDir();
    const s = await openStorage(dir);
    await s.save(hs(1, 0), ents(1, 3, 1), null);
    await s.save(hs(1, 2), ents(4, 6, 1), null);
    await s.save(hs(1, 6), ents(7, 9, 1), null);
    await s.close();
    const file = segmentFile(dir, 1);
    const buf = await fsp.readFile(file);
    const target = buf.indexOf(Buffer.from('e5t1'));
    expect(target).toBeGreaterThan(0);
    buf[target]! ^= 0x01; // one flipped bit inside a committed entry, with records after it
    await fsp.writeFile(file, buf);
    const err = await DiskStorage.open(dir, { logger: captureLogger() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WalCorruptionError);
    const c = err as WalCorruptionError;
    expect(c.file).toBe(file);
    expect(c.offset).toBeGreaterThan(0);
    expect(c.offset).toBeLessThan(target);
    expect(c.message).toMatch(/record #\d+\): record payload checksum mismatch/);
    expect(c.message).toContain(file);
    // The file was not truncated: nothing was dropped.
    expect((await fsp.readFile(file)).length).toBe(buf.length);
  });

  it('rejects a damaged non-final segment even at its end', async () => {
    const dir = newDir();
    const s = await openStorage(dir, { segmentBytes: 256 });
    for (let i = 1; i <= 20; i++) await s.save(hs(1, 0), [ent(i, 1)], null);
    await s.close();
    const file = segmentFile(dir, 1);
    await fsp.truncate(file, (await fsp.stat(file)).size - 3);
    await expect(DiskStorage.open(dir, { logger: captureLogger() })).rejects.toThrow(WalCorruptionError);
  });

  it('treats a zero-filled tail as torn but a garbage header mid-file as corruption', async () => {
    const dir = newDir();
    let s = await openStorage(dir);
    await s.save(hs(1, 0), ents(1, 3, 1), null);
    await s.close();
    const file = segmentFile(dir, 1);
    await fsp.appendFile(file, Buffer.alloc(4096));
    s = await openStorage(dir);
    expect(s.lastIndex()).toBe(3);
    await s.save(null, ents(4, 5, 1), null);
    await s.close();
    const buf = await fsp.readFile(file);
    const firstEntries = buf.indexOf(Buffer.from('e1t1'));
    // Corrupt the header of the record holding entries 1..3 (16-byte header, then index u64 and count u32).
    buf[firstEntries - 16 - 8 - 4 - 4 - 8 - 1]! ^= 0xff;
    await fsp.writeFile(file, buf);
    await expect(DiskStorage.open(dir, { logger: captureLogger() })).rejects.toThrow(/record header checksum mismatch/);
  });

  it('creates a snapshot, compacts, deletes covered segments and restarts from the snapshot', async () => {
    const dir = newDir();
    const opts = { segmentBytes: 400 };
    let s = await openStorage(dir, opts);
    for (let i = 1; i <= 40; i++) await s.save(hs(3, i), [ent(i, 3)], null);
    const before = s.stats().segments;
    const data = new Uint8Array(50_000).map((_, i) => i % 251);
    const snap = await s.createSnapshot(30 as Index, conf('n1', 'n2'), data);
    expect(snap.metadata).toEqual({ index: 30, term: 3, confState: conf('n1', 'n2') });
    s.compact(25 as Index);
    await s.settle();
    expect(s.firstIndex()).toBe(26);
    expect(() => s.term(24 as Index)).toThrow(/compacted/);
    expect(s.stats().segmentsDeleted).toBeGreaterThan(0);
    expect(s.stats().segments).toBeLessThan(before);
    for (let i = 41; i <= 45; i++) await s.save(hs(3, i), [ent(i, 3)], null);
    s = await reopen(s, opts);
    expect(s.snapshot().metadata).toEqual({ index: 30, term: 3, confState: conf('n1', 'n2') });
    expect(Buffer.from(s.snapshot().data).equals(Buffer.from(data))).toBe(true);
    expect(s.initialState().confState).toEqual(conf('n1', 'n2'));
    expect(s.firstIndex()).toBe(31);
    expect(s.term(30 as Index)).toBe(3);
    expect(s.lastIndex()).toBe(45);
    expect(all(s).map(text)).toEqual(ents(31, 45, 3).map(text));
    expect((await fsp.readdir(path.join(dir, 'snap'))).length).toBe(1);
  });

  it('installs a snapshot from the leader, discarding the stale log, across restart', async () => {
    const dir = newDir();
    let s = await openStorage(dir);
    await s.save(hs(1, 2), ents(1, 20, 1), null); // 3..20 are uncommitted and stale
    const snap: Snapshot = {
      metadata: { index: 10 as Index, term: 4 as Term, confState: conf('n1', 'n2', 'n3') },
      data: new TextEncoder().encode('state@10'),
    };
    await s.save(hs(4, 10), [], snap);
    expect(s.firstIndex()).toBe(11);
    expect(s.lastIndex()).toBe(10);
    s = await reopen(s);
    expect(s.lastIndex()).toBe(10);
    expect(s.term(10 as Index)).toBe(4);
    expect(new TextDecoder().decode(s.snapshot().data)).toBe('state@10');
    expect(s.initialState()).toEqual({ hardState: hs(4, 10), confState: conf('n1', 'n2', 'n3') });
    await s.save(hs(4, 11), ents(11, 12, 4), null);
    s = await reopen(s);
    expect(all(s).map((e) => [e.index, e.term])).toEqual([
      [11, 4],
      [12, 4],
    ]);
  });

  it('group-commits concurrent saves into fewer fsyncs, all durable', async () => {
    const dir = newDir();
    let s = await openStorage(dir);
    const before = s.stats().fsyncs;
    const saves: Promise<void>[] = [];
    for (let i = 1; i <= 200; i++) saves.push(s.save(hs(1, 0), [ent(i, 1)], null));
    await Promise.all(saves);
    const used = s.stats().fsyncs - before;
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThan(200);
    s = await reopen(s);
    expect(s.lastIndex()).toBe(200);
  });

  it('bootstraps an empty directory like MemoryStorage.bootstrap, and only an empty one', async () => {
    const dir = newDir();
    let s = await openStorage(dir, { bootstrap: conf('n1', 'n2') });
    expect(s.fresh).toBe(true);
    const mem = MemoryStorage.bootstrap(['n1', 'n2'] as NodeId[]);
    expect(s.initialState()).toEqual(mem.initialState());
    expect(all(s)).toEqual(mem.allEntries());
    await s.save(hs(2, 4), [ent(5, 2)], null);
    s = await reopen(s, { bootstrap: conf('x', 'y', 'z') });
    expect(s.fresh).toBe(false);
    expect(s.lastIndex()).toBe(5);
    expect(s.initialState().hardState).toEqual(hs(2, 4));
    expect(all(s).slice(0, 4)).toEqual(mem.allEntries());
  });

  it('refuses writes after close with a clear error', async () => {
    const s = await openStorage(newDir());
    await s.close();
    await expect(s.save(null, [ent(1, 1)], null)).rejects.toThrow(/is closed/);
  });
});
