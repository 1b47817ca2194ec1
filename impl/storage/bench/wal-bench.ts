/**
 * WAL throughput: entries appended per second and fsyncs per second.
 *  - sequential: one save() per Ready of `batch` entries, awaited (the driver's loop);
 *  - concurrent: `writers` savers of one entry each, sharing fsyncs (group commit).
 * Usage: npm run bench:storage [-- --seconds 2 --entry-bytes 128 --dir /tmp/x]
 * The last line is a JSON object with every figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DiskStorage } from '../disk-storage.ts';
import type { Entry, Index, Term } from '../../raft/types.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    'entry-bytes': { type: 'string', default: '128' },
    dir: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const entryBytes = Number(values['entry-bytes']);
if (!(seconds > 0) || !(entryBytes >= 0)) throw new Error('--seconds must be > 0 and --entry-bytes >= 0');
const base = values.dir ?? tmpdir();
const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const payload = new Uint8Array(entryBytes).fill(7);

interface Figure {
  readonly mode: string;
  readonly size: number;
  readonly entriesPerSec: number;
  readonly fsyncsPerSec: number;
  readonly entriesPerFsync: number;
  readonly mbPerSec: number;
}

async function run(mode: 'sequential' | 'concurrent', size: number): Promise<Figure> {
  const dir = mkdtempSync(path.join(base, 'wal-bench-'));
  const s = await DiskStorage.open(dir, { logger: quiet });
  let next = 1;
  const mk = (n: number): Entry[] => {
    const out: Entry[] = [];
    for (let k = 0; k < n; k++) out.push({ index: next++ as Index, term: 1 as Term, type: 'normal', data: payload });
    return out;
  };
  const hs = () => ({ term: 1 as Term, vote: null, commit: 0 as Index });
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const fsyncs0 = s.stats().fsyncs;
  const bytes0 = s.stats().bytesWritten;
  if (mode === 'sequential') {
    while (performance.now() < deadline) await s.save(hs(), mk(size), null);
  } else {
    const writer = async () => {
      while (performance.now() < deadline) await s.save(hs(), mk(1), null);
    };
    await Promise.all(Array.from({ length: size }, writer));
  }
  const elapsed = (performance.now() - start) / 1000;
  const entries = next - 1;
  const fsyncs = s.stats().fsyncs - fsyncs0;
  const bytes = s.stats().bytesWritten - bytes0;
  await s.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    mode,
    size,
    entriesPerSec: Math.round(entries / elapsed),
    fsyncsPerSec: Math.round(fsyncs / elapsed),
    entriesPerFsync: Math.round((entries / Math.max(1, fsyncs)) * 10) / 10,
    mbPerSec: Math.round((bytes / elapsed / 1e6) * 10) / 10,
  };
}

const figures: Figure[] = [];
for (const batch of [1, 16, 128, 1024]) figures.push(await run('sequential', batch));
for (const writers of [16, 64, 256]) figures.push(await run('concurrent', writers));
for (const f of figures) {
  const label = f.mode === 'sequential' ? `batch ${f.size} entries/save` : `${f.size} concurrent savers`;
  console.log(`${label.padEnd(26)} ${String(f.entriesPerSec).padStart(9)} entries/s  ${String(f.fsyncsPerSec).padStart(6)} fsyncs/s  ${String(f.entriesPerFsync).padStart(7)} entries/fsync  ${f.mbPerSec} MB/s`);
}
const single = figures[0]!;
console.log(
  JSON.stringify({
    entryBytes,
    seconds,
    fsyncsPerSec: single.fsyncsPerSec,
    appendsPerSecBatch1: single.entriesPerSec,
    appendsPerSecBatch1024: figures[3]!.entriesPerSec,
    appendsPerSecConcurrent64: figures[5]!.entriesPerSec,
    figures,
  }),
);
