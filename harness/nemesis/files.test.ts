import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.ts';
import type { StartedCluster } from '../runtime/runtime.ts';
import type { PreparedSystem } from '../systems/system.ts';
import { realClock } from '../time.ts';
import { fileNemeses } from './files.ts';
import { fakeNode, type FakeNode } from './fake-node.test-support.ts';
import type { NemesisContext } from './nemesis.ts';

/** A node whose data files live in memory; `refuses` decides whether it starts on them. */
type FileNode = FakeNode & { answering(): boolean };

function fileNode(id: string, files: Map<string, Buffer>, refuses: (files: Map<string, Buffer>) => boolean): FileNode {
  const node: FileNode = Object.assign(fakeNode(id), {
    listDataFiles: () => Promise.resolve([...files].map(([path, d]) => ({ path, size: d.length }))),
    readDataFile: (p: string) => Promise.resolve(Buffer.from(files.get(p) ?? Buffer.alloc(0))),
    writeDataFile: (p: string, d: Buffer) => Promise.resolve(void files.set(p, Buffer.from(d))),
    answering: () => node.state === 'running' && !refuses(files),
  });
  return node;
}

function context(node: FileNode): NemesisContext {
  const cluster = { nodes: [node], node: () => node, clock: { ...realClock, sleep: () => Promise.resolve() } } as unknown as StartedCluster;
  const system = {
    system: { name: 'fake' },
    dataFiles: { log: [/\.wal$/], snapshot: [/\.snap$/] },
    status: () => Promise.resolve(node.answering() ? { role: 'follower', term: 1, leader: null, commit: 0, applied: 0 } : null),
  } as unknown as PreparedSystem;
  return { cluster, system, rng: new Rng(7), clusterSecret: 's', nodeDown: () => {}, log: () => {}, leader: () => Promise.resolve(null) };
}

describe('file corruption nemeses', () => {
  it('truncate: kills the node, cuts the end of a log file, restarts it, and records exactly what was cut', async () => {
    const files = new Map([['wal/1.wal', Buffer.alloc(1000, 7)], ['snap/1.snap', Buffer.alloc(500, 1)], ['other.txt', Buffer.alloc(10)]]);
    const node = fileNode('n1', files, () => false);
    const [, truncate] = fileNemeses();
    const done = (await truncate!.start(context(node))) as { file: string; cutBytes: number; newSize: number; outcome: string };
    expect(done.file).toBe('wal/1.wal');
    expect(files.get('wal/1.wal')?.length).toBe(1000 - done.cutBytes);
    expect(done.newSize).toBe(1000 - done.cutBytes);
    expect(done.outcome).toBe('restarted and answering');
    expect(node.starts).toBe(1);
  });

  it('bitflip: flips the recorded bits; a node that refuses the damaged file gets the original back at stop', async () => {
    const original = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const files = new Map([['snap/1.snap', Buffer.from(original)]]);
    const node = fileNode('n1', files, (f) => !f.get('snap/1.snap')?.equals(original));
    const ctx = context(node);
    const [bitflip] = fileNemeses();
    // Every clock read advances a second, so "not answering within 10 s" is decided at once.
    const clockNow = { t: 0 };
    (ctx.cluster as unknown as { clock: unknown }).clock = { ...realClock, now: () => (clockNow.t += 1000), sleep: () => Promise.resolve() };
    const done = (await bitflip!.start(ctx)) as { flips: { offset: number; bit: number }[]; outcome: string };
    const damaged = files.get('snap/1.snap')!;
    const expected = Buffer.from(original);
    for (const f of done.flips) expected[f.offset] = expected[f.offset]! ^ (1 << f.bit);
    expect(damaged.equals(expected)).toBe(true);
    expect(done.outcome).toMatch(/^not answering/);
    expect(node.state).toBe('killed');
    const undone = (await bitflip!.stop(ctx)) as { restoredFile: string; answering: boolean };
    expect(undone.restoredFile).toBe('snap/1.snap');
    expect(files.get('snap/1.snap')?.equals(original)).toBe(true);
    expect(undone.answering).toBe(true);
  });
});

describe('damage aims at the data a file holds', () => {
  it('a preallocated file (zeros at the end) is damaged before its zeros', async () => {
    const { usedLength } = await import('./files.ts');
    expect(usedLength(Buffer.from([1, 2, 0, 3, 0, 0, 0]))).toBe(4);
    expect(usedLength(Buffer.from([0, 0]))).toBe(1);
    const data = Buffer.alloc(4096);
    data.fill(9, 0, 100);
    const files = new Map([['wal/1.wal', data]]);
    const node = fileNode('n1', files, () => false);
    const [, truncate] = fileNemeses();
    const done = (await truncate!.start(context(node))) as { dataBytes: number; newSize: number };
    expect(done.dataBytes).toBe(100);
    expect(files.get('wal/1.wal')?.length).toBe(done.newSize);
    expect(done.newSize).toBeLessThan(100);
  });
});
