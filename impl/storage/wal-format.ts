/**
 * The write-ahead log's record format (see FORMAT.md). Pure functions: encode records to
 * bytes, and scan a segment's bytes back into records, classifying a damaged tail as torn
 * (truncate, warn) or as corruption (stop).
 */
import { BinaryReader, BinaryWriter, DecodeError, crc32 } from './binary.ts';
import type { ConfState, Entry, EntryType, HardState, Index, NodeId, Term } from '../raft/types.ts';

export const WAL_MAGIC = 'RAFTWAL1';
export const WAL_VERSION = 1;
/** Bytes before a record's payload: length u32, type u8, 3 reserved, header CRC u32, payload CRC u32. */
export const RECORD_HEADER_BYTES = 16;
/** A record larger than this is treated as a damaged header, never allocated. */
export const MAX_RECORD_BYTES = 1 << 30;

export const RecordType = {
  segmentHeader: 1,
  entries: 2,
  hardState: 3,
  snapshot: 4,
} as const;
export type RecordTypeCode = (typeof RecordType)[keyof typeof RecordType];

/**
 * 'created': the node took a snapshot of its own state machine at `index`; entries after it
 * stay. 'installed': a snapshot received from the leader replaced the whole log (Raft §7).
 */
export type SnapshotKind = 'created' | 'installed';

export interface SnapshotRef {
  readonly kind: SnapshotKind;
  readonly index: Index;
  readonly term: Term;
  readonly confState: ConfState;
}

export type WalRecord =
  | { readonly type: 'segment-header'; readonly seq: number }
  | { readonly type: 'entries'; readonly entries: readonly Entry[]; readonly firstIndex: Index }
  | { readonly type: 'hard-state'; readonly hardState: HardState }
  | { readonly type: 'snapshot'; readonly ref: SnapshotRef };

const ENTRY_TYPE_CODES: Record<EntryType, number> = { normal: 0, 'conf-change': 1, noop: 2 };
const ENTRY_TYPES: readonly EntryType[] = ['normal', 'conf-change', 'noop'];

function writeConfState(w: BinaryWriter, cs: ConfState): void {
  w.u32(cs.voters.length);
  for (const v of cs.voters) w.str(v);
  w.u32(cs.learners.length);
  for (const l of cs.learners) w.str(l);
}

function readConfState(r: BinaryReader): ConfState {
  const voters: NodeId[] = [];
  const nv = r.u32('voter count');
  for (let i = 0; i < nv; i++) voters.push(r.str('voter id') as NodeId);
  const learners: NodeId[] = [];
  const nl = r.u32('learner count');
  for (let i = 0; i < nl; i++) learners.push(r.str('learner id') as NodeId);
  return { voters, learners };
}

export { writeConfState, readConfState };

/** Encode one record (header + payload) as a single buffer. */
export function encodeRecord(rec: WalRecord): Buffer {
  const w = new BinaryWriter(64);
  w.bytes(Buffer.alloc(RECORD_HEADER_BYTES)); // header placeholder
  let code: RecordTypeCode;
  switch (rec.type) {
    case 'segment-header':
      code = RecordType.segmentHeader;
      w.bytes(Buffer.from(WAL_MAGIC, 'latin1')).u32(WAL_VERSION).u64(rec.seq);
      break;
    case 'entries': {
      code = RecordType.entries;
      w.u64(rec.firstIndex).u32(rec.entries.length);
      rec.entries.forEach((e, i) => {
        if (e.index !== rec.firstIndex + i) {
          throw new RangeError(`entries must be contiguous: entry ${i} has index ${e.index}, expected ${rec.firstIndex + i}`);
        }
        w.u64(e.term).u8(ENTRY_TYPE_CODES[e.type]).lenBytes(e.data);
      });
      break;
    }
    case 'hard-state':
      code = RecordType.hardState;
      w.u64(rec.hardState.term).u64(rec.hardState.commit).str(rec.hardState.vote ?? '');
      break;
    case 'snapshot':
      code = RecordType.snapshot;
      w.u8(rec.ref.kind === 'installed' ? 1 : 0).u64(rec.ref.index).u64(rec.ref.term);
      writeConfState(w, rec.ref.confState);
      break;
  }
  const buf = Buffer.from(w.view()); // own the memory: the writer's buffer is oversized
  const payloadLen = buf.length - RECORD_HEADER_BYTES;
  if (payloadLen > MAX_RECORD_BYTES) throw new RangeError(`WAL record of ${payloadLen} bytes exceeds the ${MAX_RECORD_BYTES}-byte limit`);
  buf.writeUInt32LE(payloadLen, 0);
  buf[4] = code;
  buf.writeUInt32LE(crc32(buf.subarray(0, 8)), 8);
  buf.writeUInt32LE(crc32(buf.subarray(RECORD_HEADER_BYTES)), 12);
  return buf;
}

function decodePayload(code: number, r: BinaryReader): WalRecord {
  switch (code) {
    case RecordType.segmentHeader: {
      const magic = Buffer.from(r.bytes(8, 'magic')).toString('latin1');
      if (magic !== WAL_MAGIC) throw new DecodeError(`bad magic ${JSON.stringify(magic)}, expected ${WAL_MAGIC}`);
      const version = r.u32('version');
      if (version !== WAL_VERSION) throw new DecodeError(`unsupported WAL version ${version}, this build reads ${WAL_VERSION}`);
      return { type: 'segment-header', seq: r.u64('segment seq') };
    }
    case RecordType.entries: {
      const firstIndex = r.u64('first index') as Index;
      const n = r.u32('entry count');
      const entries: Entry[] = [];
      for (let i = 0; i < n; i++) {
        const t = r.u64('entry term') as Term;
        const typeCode = r.u8('entry type');
        const type = ENTRY_TYPES[typeCode];
        if (type === undefined) throw new DecodeError(`entry ${i}: unknown entry type ${typeCode}`);
        entries.push({ index: (firstIndex + i) as Index, term: t, type, data: r.lenBytes('entry data') });
      }
      return { type: 'entries', firstIndex, entries };
    }
    case RecordType.hardState: {
      const t = r.u64('term') as Term;
      const commit = r.u64('commit') as Index;
      const vote = r.str('vote');
      return { type: 'hard-state', hardState: { term: t, commit, vote: vote === '' ? null : (vote as NodeId) } };
    }
    case RecordType.snapshot: {
      const kindCode = r.u8('snapshot kind');
      if (kindCode > 1) throw new DecodeError(`unknown snapshot kind ${kindCode}`);
      const idx = r.u64('snapshot index') as Index;
      const t = r.u64('snapshot term') as Term;
      return { type: 'snapshot', ref: { kind: kindCode === 1 ? 'installed' : 'created', index: idx, term: t, confState: readConfState(r) } };
    }
    default:
      throw new DecodeError(`unknown record type ${code}`);
  }
}

/** A WAL record as found in a segment, with its position for error messages. */
export interface ScannedRecord {
  readonly record: WalRecord;
  readonly offset: number;
  /** 0-based ordinal of the record within its segment. */
  readonly ordinal: number;
}

export interface SegmentScan {
  readonly records: ScannedRecord[];
  /** Bytes of valid records; equals the file length unless a torn tail was found. */
  readonly validBytes: number;
  /** Set when the tail past `validBytes` was judged torn (an interrupted write). */
  readonly tornTail: string | null;
}

/** Corruption that recovery must not paper over: a damaged record with valid data after it. */
export class WalCorruptionError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly ordinal: number,
    readonly reason: string,
  ) {
    super(
      `WAL corruption in ${file} at byte offset ${offset} (record #${ordinal}): ${reason}. ` +
        'Refusing to start: committed data may follow this point. Restore the data directory from a replica or backup.',
    );
    this.name = 'WalCorruptionError';
  }
}

function allZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Scan one segment. `isLast` selects the torn-tail rule: only the final record of the last
 * segment may be incomplete (a write cut short by a crash; §"Recovery" in FORMAT.md).
 * Anything else that fails its checksum throws WalCorruptionError.
 */
export function scanSegment(buf: Buffer, file: string, isLast: boolean): SegmentScan {
  const records: ScannedRecord[] = [];
  let off = 0;
  let ordinal = 0;
  const tornOrCorrupt = (reason: string, tornAllowed: boolean): SegmentScan => {
    if (isLast && tornAllowed) return { records, validBytes: off, tornTail: `${reason} at byte offset ${off} (record #${ordinal})` };
    throw new WalCorruptionError(file, off, ordinal, reason);
  };
  while (off < buf.length) {
    const left = buf.length - off;
    if (left < RECORD_HEADER_BYTES) {
      return tornOrCorrupt(`incomplete record header (${left} of ${RECORD_HEADER_BYTES} bytes)`, true);
    }
    const headerCrc = buf.readUInt32LE(off + 8);
    if (crc32(buf.subarray(off, off + 8)) !== headerCrc) {
      // A header we cannot trust hides where the next record starts, so it is torn only if
      // nothing but zeros follows (a file extended by the crash but never written).
      return tornOrCorrupt('record header checksum mismatch', allZero(buf, off));
    }
    const len = buf.readUInt32LE(off);
    const code = buf[off + 4]!;
    const end = off + RECORD_HEADER_BYTES + len;
    if (len > MAX_RECORD_BYTES) return tornOrCorrupt(`record length ${len} exceeds limit`, false);
    if (end > buf.length) {
      return tornOrCorrupt(`record payload cut short (${buf.length - off - RECORD_HEADER_BYTES} of ${len} bytes)`, true);
    }
    const payload = buf.subarray(off + RECORD_HEADER_BYTES, end);
    if (crc32(payload) !== buf.readUInt32LE(off + 12)) {
      // Bad payload on the very last record of the last segment: the write was torn.
      return tornOrCorrupt('record payload checksum mismatch', end === buf.length);
    }
    let record: WalRecord;
    try {
      const r = new BinaryReader(buf, off + RECORD_HEADER_BYTES, end);
      record = decodePayload(code, r);
      r.expectEnd(`record type ${code}`);
    } catch (e) {
      // The checksum matched, so these bytes are what was written: a format error, never torn.
      throw new WalCorruptionError(file, off, ordinal, `undecodable record: ${(e as Error).message}`);
    }
    if (ordinal === 0 && record.type !== 'segment-header') {
      throw new WalCorruptionError(file, off, ordinal, `first record is ${record.type}, expected segment-header`);
    }
    records.push({ record, offset: off, ordinal });
    off = end;
    ordinal++;
  }
  return { records, validBytes: off, tornTail: null };
}
