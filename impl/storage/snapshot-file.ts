/**
 * Snapshot files: `snap/<index>-<term>.snap`, written to a temporary name, fsynced, renamed
 * and the directory fsynced, so a crash leaves either the old set of files or the new one.
 */
import * as path from 'node:path';
import { BinaryReader, BinaryWriter, crc32 } from './binary.ts';
import { readConfState, writeConfState } from './wal-format.ts';
import type { Index, Snapshot, Term } from '../raft/types.ts';
import type { StorageFs } from './storage-fs.ts';

export const SNAP_MAGIC = 'RAFTSNP1';
const HEADER_BYTES = 8 + 4 + 8; // magic, crc32 of body, body length

export function snapshotFileName(index: number, term: number): string {
  return `${index.toString(16).padStart(16, '0')}-${term.toString(16).padStart(16, '0')}.snap`;
}

export function parseSnapshotFileName(name: string): { index: number; term: number } | null {
  const m = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/.exec(name);
  if (!m) return null;
  return { index: parseInt(m[1]!, 16), term: parseInt(m[2]!, 16) };
}

export function encodeSnapshotFile(snap: Snapshot): Buffer[] {
  const body = new BinaryWriter(128);
  body.u64(snap.metadata.index).u64(snap.metadata.term);
  writeConfState(body, snap.metadata.confState);
  body.u64(snap.data.length);
  const meta = body.view();
  const crc = crc32(snap.data, crc32(meta));
  const head = new BinaryWriter(HEADER_BYTES).bytes(Buffer.from(SNAP_MAGIC, 'latin1')).u32(crc).u64(meta.length + snap.data.length);
  return [Buffer.from(head.view()), Buffer.from(meta), Buffer.from(snap.data.buffer, snap.data.byteOffset, snap.data.byteLength)];
}

export function decodeSnapshotFile(buf: Buffer, file: string): Snapshot {
  const fail = (why: string): never => {
    throw new Error(`snapshot file ${file} is unreadable: ${why}`);
  };
  if (buf.length < HEADER_BYTES) fail(`only ${buf.length} bytes, header needs ${HEADER_BYTES}`);
  if (buf.subarray(0, 8).toString('latin1') !== SNAP_MAGIC) fail('bad magic');
  const r = new BinaryReader(buf, 8);
  const crc = r.u32('crc');
  const bodyLen = r.u64('body length');
  if (HEADER_BYTES + bodyLen !== buf.length) fail(`length field says ${bodyLen} body bytes, file has ${buf.length - HEADER_BYTES}`);
  if (crc32(buf.subarray(HEADER_BYTES)) !== crc) fail('checksum mismatch');
  const index = r.u64('index') as Index;
  const term = r.u64('term') as Term;
  const confState = readConfState(r);
  const dataLen = r.u64('data length');
  const data = r.bytes(dataLen, 'data');
  r.expectEnd('snapshot file');
  return { metadata: { index, term, confState }, data };
}

/** Write atomically: temp file, (fsync), rename, (directory fsync). */
export async function writeSnapshotFile(fs: StorageFs, dir: string, snap: Snapshot, fsync: boolean): Promise<string> {
  const name = snapshotFileName(snap.metadata.index, snap.metadata.term);
  const final = path.join(dir, name);
  const tmp = `${final}.tmp`;
  const fh = await fs.open(tmp, 'write-truncate');
  try {
    await fh.writev(encodeSnapshotFile(snap));
    if (fsync) await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, final);
  if (fsync) await fs.syncDir(dir);
  return final;
}

export async function readSnapshotFile(fs: StorageFs, file: string): Promise<Snapshot> {
  return decodeSnapshotFile(await fs.readFile(file), file);
}
