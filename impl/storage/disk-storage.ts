/**
 * DiskStorage: the node's durable Raft log (WAL segments + snapshot files, FORMAT.md) that
 * also implements the core's RaftStorage contract. Reads are served from memory; writes are
 * appended to a queue and made durable by `sync()`, which group-commits everything queued
 * since the last fsync in one O_DSYNC write (write + fdatasync in one call; many proposals per fsync).
 *
 * Order of operations (etcd's raft node): for each Ready the driver calls
 * `save(hardState, entries, snapshot)` (or `append` for several Readys then one `sync`),
 * and sends persist-gated messages only after the returned promise resolves.
 */
import * as path from 'node:path';
import { MemoryLog } from './memory-log.ts';
import { bootstrapEntries, bootstrapHardState } from '../raft/memory-storage.ts';
import { parseSnapshotFileName, readSnapshotFile, snapshotFileName, writeSnapshotFile } from './snapshot-file.ts';
import { nodeFs } from './node-fs.ts';
import type { StorageFile, StorageFs } from './storage-fs.ts';
import { realTimers } from '../node/real-time.ts';
import type { PlatformTimers, TimerHandle } from '../node/platform.ts';
import { encodeRecord, scanSegment } from './wal-format.ts';
import type { SnapshotRef, WalRecord } from './wal-format.ts';
import type { ConfState, Entry, HardState, Index, RaftStorage, Snapshot, Term } from '../raft/types.ts';

/**
 * With fsync on, WAL segments are opened O_DSYNC (`dsync`): each write returns only once its
 * data is durable (POSIX synchronized I/O data integrity completion, what fdatasync gives), so
 * a batch costs one thread-pool round trip instead of two (writev, then fdatasync). On a busy
 * machine every round trip is a wake-up of the main thread on the commit path. Where the file
 * system has no O_DSYNC (`fs.hasDsync` false), writes are followed by fdatasync.
 */
function openSegment(fs: StorageFs, file: string, create: boolean, fsync: boolean): Promise<StorageFile> {
  return fs.open(file, create ? 'create-exclusive' : 'read-write', { dsync: fsync && fs.hasDsync });
}

export interface StorageLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** JSON lines on stderr, so stdout stays free for whoever embeds the storage. */
export const stderrLogger: StorageLogger = {
  info: (msg, fields) => process.stderr.write(`${JSON.stringify({ level: 'info', component: 'storage', msg, ...fields })}\n`),
  warn: (msg, fields) => process.stderr.write(`${JSON.stringify({ level: 'warn', component: 'storage', msg, ...fields })}\n`),
  error: (msg, fields) => process.stderr.write(`${JSON.stringify({ level: 'error', component: 'storage', msg, ...fields })}\n`),
};

export interface DiskStorageOptions {
  /**
   * Test only. Queued writes stay in this process's memory until `sync()` writes and fsyncs
   * them, so `kill -9` loses exactly what a power loss would. Default false.
   */
  readonly faultMode?: boolean;
  /**
   * false = the unsafe `no-fsync` switch: `sync()` resolves without fsync. Without fault mode
   * the bytes are still write()n (the page cache survives kill -9); with fault mode they stay
   * in process memory until a lazy flush every `lazyFlushMs`, so a kill loses acknowledged
   * writes. Default true.
   */
  readonly fsync?: boolean;
  /**
   * Voters of a new cluster. When the directory holds no WAL yet, the log is initialized the
   * way the core's `MemoryStorage.bootstrap` does it (`bootstrapEntries` + `bootstrapHardState`:
   * membership lives in the log). Ignored when the directory already holds data. Omit it for
   * a node that joins an existing cluster.
   */
  readonly bootstrap?: ConfState;
  readonly logger?: StorageLogger;
  /** Start a new segment once the active one reaches this size. Default 64 MiB. */
  readonly segmentBytes?: number;
  /** Fault mode with fsync false: how often buffered bytes reach the disk. Default 5000 ms. */
  readonly lazyFlushMs?: number;
  /** The file system (platform seam). Default: node:fs. */
  readonly fs?: StorageFs;
  /** Timers (the lazy flush). Default: Node's. */
  readonly timers?: PlatformTimers;
}

export interface StorageStats {
  /** Durable WAL writes (O_DSYNC writes, or fdatasync calls where O_DSYNC is missing). */
  readonly fsyncs: number;
  /** Write batches (each one writev, then one fsync if enabled). */
  readonly flushes: number;
  readonly bytesWritten: number;
  readonly recordsWritten: number;
  readonly segments: number;
  readonly segmentsDeleted: number;
  /** Bytes queued but not yet written to the OS. */
  readonly pendingBytes: number;
}

interface Segment {
  readonly seq: number;
  readonly file: string;
  /** Highest entry index written to this segment (0 if none); it may be deleted once a durable snapshot covers it. */
  maxIndex: number;
  size: number;
}

interface WrittenState {
  hardState: HardState;
  snapRef: SnapshotRef | null;
}

type Pending =
  | { readonly kind: 'records'; readonly seq: number; readonly bufs: Buffer[]; readonly bytes: number; readonly records: readonly WalRecord[] }
  | { readonly kind: 'snapshot-file'; readonly seq: number; readonly snapshot: Snapshot };

interface Waiter {
  readonly seq: number;
  resolve(): void;
  reject(err: Error): void;
}

const EMPTY_HARD_STATE: HardState = { term: 0 as Term, vote: null, commit: 0 as Index };
const EMPTY_CONF_STATE: ConfState = { voters: [], learners: [] };
const WAL_DIR = 'wal';
const SNAP_DIR = 'snap';

export function segmentFileName(seq: number): string {
  return `${seq.toString(16).padStart(16, '0')}.wal`;
}

function parseSegmentFileName(name: string): number | null {
  const m = /^([0-9a-f]{16})\.wal$/.exec(name);
  return m ? parseInt(m[1]!, 16) : null;
}

/** Storage was closed, or an earlier write/fsync failed (after which nothing is trusted: fsyncgate). */
export class StorageUnavailableError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'StorageUnavailableError';
  }
}

export class DiskStorage implements RaftStorage {
  /** True when `open` found no WAL (a new member): the driver may log it; bootstrap was applied if given. */
  readonly fresh: boolean;
  private readonly log: MemoryLog;
  private hardState: HardState;
  private snap: Snapshot;

  private readonly walDir: string;
  private readonly snapDir: string;
  private readonly fsyncEnabled: boolean;
  private readonly faultMode: boolean;
  private readonly segmentBytes: number;
  private readonly logger: StorageLogger;

  private readonly segments: Segment[];
  private active: StorageFile | null;
  private readonly fs: StorageFs;
  private readonly timers: PlatformTimers;
  private written: WrittenState;

  private queue: Pending[] = [];
  private queuedBytes = 0;
  private appendSeq = 0;
  private writtenSeq = 0;
  private waiters: Waiter[] = [];
  private draining: Promise<void> | null = null;
  private drainAgain = false;
  private compactGoal = 0;
  private failure: Error | null = null;
  private closed = false;
  private lazyTimer: TimerHandle | null = null;

  private counters = { fsyncs: 0, flushes: 0, bytesWritten: 0, recordsWritten: 0, segmentsDeleted: 0 };

  private constructor(
    readonly dir: string,
    options: DiskStorageOptions,
    init: {
      log: MemoryLog;
      hardState: HardState;
      snapshot: Snapshot;
      segments: Segment[];
      active: StorageFile;
      written: WrittenState;
      fresh: boolean;
    },
  ) {
    this.walDir = path.join(dir, WAL_DIR);
    this.snapDir = path.join(dir, SNAP_DIR);
    this.fsyncEnabled = options.fsync ?? true;
    this.faultMode = options.faultMode ?? false;
    this.segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.logger = options.logger ?? stderrLogger;
    this.log = init.log;
    this.hardState = init.hardState;
    this.snap = init.snapshot;
    this.segments = init.segments;
    this.active = init.active;
    this.written = init.written;
    this.fresh = init.fresh;
    this.fs = options.fs ?? nodeFs;
    this.timers = options.timers ?? realTimers;
    if (this.lazy) {
      const every = options.lazyFlushMs ?? 5000;
      this.lazyTimer = this.timers.setInterval(() => this.kick(), every, { unref: true });
    }
  }

  /** Fault mode without fsync: nothing reaches the disk except through the lazy flush. */
  private get lazy(): boolean {
    return this.faultMode && !this.fsyncEnabled;
  }

  /**
   * Open (and recover) the storage in `dir`, creating it if needed. Recovery replays every
   * WAL segment: a torn final record of the last segment is truncated with a warning; any
   * other damage throws WalCorruptionError naming the file, offset and record.
   */
  static async open(dir: string, options: DiskStorageOptions = {}): Promise<DiskStorage> {
    const logger = options.logger ?? stderrLogger;
    const fs = options.fs ?? nodeFs;
    const walDir = path.join(dir, WAL_DIR);
    const snapDir = path.join(dir, SNAP_DIR);
    await fs.mkdirp(walDir);
    await fs.mkdirp(snapDir);
    // Sorted: readdir's order is the file system's, and what recovery does (and logs) must not depend on it.
    for (const name of (await fs.readdir(snapDir)).sort()) {
      if (name.endsWith('.tmp')) await fs.remove(path.join(snapDir, name));
    }

    const seqs: number[] = [];
    for (const name of (await fs.readdir(walDir)).sort()) {
      const seq = parseSegmentFileName(name);
      if (seq === null) logger.warn('ignoring unexpected file in WAL directory', { file: path.join(walDir, name) });
      else seqs.push(seq);
    }
    seqs.sort((a, b) => a - b);
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i] !== seqs[i - 1]! + 1) {
        throw new Error(
          `WAL segments are not contiguous in ${walDir}: ${segmentFileName(seqs[i - 1]!)} is followed by ${segmentFileName(seqs[i]!)}; a segment is missing`,
        );
      }
    }

    // Pass 1: read and validate every record, truncating a torn tail of the last segment.
    const scanned: { seg: Segment; records: WalRecord[] }[] = [];
    for (let i = 0; i < seqs.length; i++) {
      const seq = seqs[i]!;
      const file = path.join(walDir, segmentFileName(seq));
      const buf = await fs.readFile(file);
      const isLast = i === seqs.length - 1;
      const scan = scanSegment(buf, file, isLast);
      if (scan.tornTail !== null) {
        logger.warn('WAL: truncating torn tail of the last segment (a write interrupted by a crash)', {
          file,
          detail: scan.tornTail,
          truncatedBytes: buf.length - scan.validBytes,
        });
        const fh = await fs.open(file, 'read-write');
        try {
          await fh.truncate(scan.validBytes);
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
      if (scan.records.length === 0) {
        // Only a last segment can get here (a crash right after creating it): nothing in it was durable.
        logger.warn('WAL: removing a last segment that holds no complete record', { file });
        await fs.remove(file);
        continue;
      }
      const header = scan.records[0]!.record;
      if (header.type === 'segment-header' && header.seq !== seq) {
        throw new Error(`WAL segment ${file} says it is segment ${header.seq}; the file name says ${seq}`);
      }
      const records = scan.records.map((r) => r.record);
      let maxIndex = 0;
      for (const r of records) if (r.type === 'entries' && r.entries.length > 0) maxIndex = Math.max(maxIndex, r.firstIndex + r.entries.length - 1);
      scanned.push({ seg: { seq, file, maxIndex, size: scan.validBytes }, records });
    }

    // Pass 2: the latest snapshot marker bounds the log from below; replay state in order.
    let snapRef: SnapshotRef | null = null;
    for (const { records } of scanned) for (const r of records) if (r.type === 'snapshot') snapRef = r.ref;
    const floor = snapRef?.index ?? 0;
    let hardState = EMPTY_HARD_STATE;
    const log = new MemoryLog((snapRef?.index ?? 0) as Index, (snapRef?.term ?? 0) as Term);
    for (const { seg, records } of scanned) {
      for (const r of records) {
        switch (r.type) {
          case 'segment-header':
            break;
          case 'hard-state':
            hardState = r.hardState;
            break;
          case 'snapshot':
            // An installed snapshot replaced the whole log: entries above the floor that were
            // written before it are stale (those at or below it are covered by the snapshot).
            if (r.ref.kind === 'installed') log.reset(floor as Index, (snapRef?.term ?? 0) as Term);
            break;
          case 'entries': {
            // An entries record replaces everything from its first index on (a conflicting
            // suffix), even when all of it lies at or below the floor.
            const first = r.firstIndex;
            if (first > log.lastIndex() + 1) {
              throw new Error(
                `WAL gap in ${seg.file}: an entries record starts at index ${first} but the log so far ends at ${log.lastIndex()}`,
              );
            }
            const kept = r.entries.filter((e) => e.index > floor);
            if (kept.length > 0) log.append(kept);
            else log.truncateAfter(floor as Index);
            break;
          }
        }
      }
    }

    let snapshot: Snapshot = { metadata: { index: 0 as Index, term: 0 as Term, confState: EMPTY_CONF_STATE }, data: new Uint8Array(0) };
    if (snapRef !== null && snapRef.index > 0) {
      const file = path.join(snapDir, snapshotFileName(snapRef.index, snapRef.term));
      try {
        snapshot = await readSnapshotFile(fs, file);
        if (snapshot.metadata.index !== snapRef.index || snapshot.metadata.term !== snapRef.term) {
          throw new Error(`it holds index ${snapshot.metadata.index} term ${snapshot.metadata.term}`);
        }
      } catch (e) {
        throw new Error(
          `the WAL refers to snapshot index ${snapRef.index} term ${snapRef.term}, but ${file} cannot be read: ${(e as Error).message}`,
          { cause: e },
        );
      }
    }
    if (hardState.commit > log.lastIndex()) {
      throw new Error(
        `recovered hard state commits index ${hardState.commit} but the recovered log ends at ${log.lastIndex()}: committed entries are missing from ${walDir}`,
      );
    }
    // A snapshot only ever covers committed entries, so its index is a valid commit floor.
    if (hardState.commit < floor) hardState = { ...hardState, commit: floor as Index };

    // Snapshot files the WAL does not reference: older ones are obsolete; newer ones were
    // written but their WAL marker never became durable, so they do not count.
    for (const name of (await fs.readdir(snapDir)).sort()) {
      const parsed = parseSnapshotFileName(name);
      if (parsed === null) continue;
      if (parsed.index === (snapRef?.index ?? -1) && parsed.term === snapRef?.term) continue;
      if (parsed.index > floor) logger.warn('WAL: removing a snapshot file whose WAL marker was never written', { file: name });
      await fs.remove(path.join(snapDir, name));
    }

    const segments = scanned.map((s) => s.seg);
    const written: WrittenState = { hardState, snapRef };
    let active: StorageFile;
    if (segments.length === 0) {
      const seq = 1;
      const file = path.join(walDir, segmentFileName(seq));
      active = await openSegment(fs, file, true, options.fsync ?? true);
      const bufs = checkpointRecords(seq, written).map(encodeRecord);
      const size = bufs.reduce((n, b) => n + b.length, 0);
      await active.writev(bufs, 0);
      await active.sync();
      await fs.syncDir(walDir);
      segments.push({ seq, file, maxIndex: 0, size });
    } else {
      const last = segments[segments.length - 1]!;
      active = await openSegment(fs, last.file, false, options.fsync ?? true);
    }
    logger.info('storage opened', {
      dir,
      segments: segments.length,
      firstIndex: log.firstIndex(),
      lastIndex: log.lastIndex(),
      term: hardState.term,
      commit: hardState.commit,
      snapshotIndex: snapshot.metadata.index,
      faultMode: options.faultMode ?? false,
      fsync: options.fsync ?? true,
    });
    const storage = new DiskStorage(dir, options, { log, hardState, snapshot, segments, active, written, fresh: scanned.length === 0 });
    if (storage.fresh && options.bootstrap !== undefined && options.bootstrap.voters.length > 0) {
      const voters = options.bootstrap.voters;
      storage.append(bootstrapHardState(voters), bootstrapEntries(voters), null);
      await storage.sync();
      logger.info('WAL: bootstrapped a new cluster member', { dir, voters });
    }
    return storage;
  }

  // ---- RaftStorage (served from memory) ----

  initialState(): { readonly hardState: HardState; readonly confState: ConfState } {
    // As in etcd and the core's MemoryStorage: membership as of the snapshot; the core
    // replays conf-change entries after it.
    return { hardState: this.hardState, confState: this.snap.metadata.confState };
  }

  entries(lo: Index, hi: Index, maxBytes: number): readonly Entry[] {
    return this.log.entries(lo, hi, maxBytes);
  }

  term(i: Index): Term {
    return this.log.term(i);
  }

  firstIndex(): Index {
    return this.log.firstIndex();
  }

  lastIndex(): Index {
    return this.log.lastIndex();
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  // ---- Persistence ----

  /**
   * Apply one Ready's writes to memory at once and queue them for the disk, in this order:
   * snapshot (replaces the log), entries (may overwrite a conflicting suffix), hard state.
   * Nothing is durable until `sync()` resolves.
   */
  append(hardState: HardState | null, entries: readonly Entry[], snapshot: Snapshot | null): void {
    this.checkUsable();
    validateAppend(entries, snapshot?.metadata.index ?? this.log.lastIndex());
    const records: WalRecord[] = [];
    if (snapshot !== null) {
      const m = snapshot.metadata;
      if (m.index <= this.snap.metadata.index) {
        throw new RangeError(`snapshot at index ${m.index} is not newer than the current snapshot at ${this.snap.metadata.index}`);
      }
      this.snap = snapshot;
      this.log.reset(m.index, m.term);
      this.enqueueSnapshotFile(snapshot);
      records.push({ type: 'snapshot', ref: { kind: 'installed', index: m.index, term: m.term, confState: m.confState } });
    }
    if (entries.length > 0) {
      this.log.append(entries);
      records.push({ type: 'entries', firstIndex: entries[0]!.index, entries });
    }
    if (hardState !== null) {
      this.hardState = hardState;
      records.push({ type: 'hard-state', hardState });
    }
    this.enqueueRecords(records);
  }

  /** Resolve once everything appended before this call is durable (group commit: one fsync for all). */
  sync(): Promise<void> {
    if (this.failure) return Promise.reject(this.unusable());
    if (this.writtenSeq >= this.appendSeq) return Promise.resolve();
    // Unsafe no-fsync under fault mode: acknowledge now; the bytes stay in memory until the lazy flush.
    if (this.lazy) return Promise.resolve();
    const seq = this.appendSeq;
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
    this.kick();
    return p;
  }

  /** One Ready: `append` then `sync`. Concurrent calls share fsyncs. */
  save(hardState: HardState | null, entries: readonly Entry[], snapshot: Snapshot | null): Promise<void> {
    try {
      this.append(hardState, entries, snapshot);
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return this.sync();
  }

  /**
   * Take a snapshot of the application state at `index` (applied, hence committed) and make it
   * durable: file written and fsynced, then its WAL marker. Call `compact` afterwards.
   */
  async createSnapshot(index: Index, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    this.checkUsable();
    if (index <= this.snap.metadata.index) {
      throw new RangeError(`createSnapshot(${index}): not newer than the current snapshot at ${this.snap.metadata.index}`);
    }
    if (index > this.log.lastIndex()) throw new RangeError(`createSnapshot(${index}): beyond the last index ${this.log.lastIndex()}`);
    if (index > this.hardState.commit) throw new RangeError(`createSnapshot(${index}): not committed (commit is ${this.hardState.commit})`);
    const snapshot: Snapshot = { metadata: { index, term: this.log.term(index), confState }, data };
    this.snap = snapshot;
    this.enqueueSnapshotFile(snapshot);
    this.enqueueRecords([{ type: 'snapshot', ref: { kind: 'created', index, term: snapshot.metadata.term, confState } }]);
    await this.sync();
    return snapshot;
  }

  /**
   * Drop entries up to and including `index` from memory; WAL segments holding only such
   * entries are deleted once the covering snapshot's marker is on disk. `index` must not
   * exceed the snapshot's index.
   */
  compact(index: Index): void {
    this.checkUsable();
    if (index > this.snap.metadata.index) {
      throw new RangeError(`compact(${index}): the latest snapshot only covers up to index ${this.snap.metadata.index}`);
    }
    this.log.compact(index);
    this.compactGoal = Math.max(this.compactGoal, index);
    if (!this.lazy) this.kick();
  }

  /** Wait until queued writes and segment clean-up have finished (tests, benchmarks). */
  async settle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  /** Flush everything queued (a clean shutdown, so even the lazy mode writes), then close files. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.lazyTimer) this.timers.clear(this.lazyTimer);
    this.lazyTimer = null;
    try {
      if (!this.failure) {
        const seq = this.appendSeq;
        if (this.writtenSeq < seq) {
          const p = new Promise<void>((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
          this.kick();
          await p;
        }
        await this.settle();
      }
    } finally {
      this.closed = true;
      const fh = this.active;
      this.active = null;
      await fh?.close();
    }
  }

  stats(): StorageStats {
    return { ...this.counters, segments: this.segments.length, pendingBytes: this.queuedBytes };
  }

  // ---- The write path ----

  private checkUsable(): void {
    if (this.failure || this.closed) throw this.unusable();
  }

  private unusable(): StorageUnavailableError {
    if (this.failure) return new StorageUnavailableError(`storage in ${this.dir} failed earlier: ${this.failure.message}`, { cause: this.failure });
    return new StorageUnavailableError(`storage in ${this.dir} is closed`);
  }

  private enqueueRecords(records: WalRecord[]): void {
    if (records.length === 0) return;
    const bufs = records.map(encodeRecord);
    const bytes = bufs.reduce((n, b) => n + b.length, 0);
    this.queue.push({ kind: 'records', seq: ++this.appendSeq, bufs, bytes, records });
    this.queuedBytes += bytes;
  }

  private enqueueSnapshotFile(snapshot: Snapshot): void {
    this.queue.push({ kind: 'snapshot-file', seq: ++this.appendSeq, snapshot });
    this.queuedBytes += snapshot.data.byteLength;
  }

  private kick(): void {
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.drainAgain && !this.failure) {
        this.drainAgain = false;
        this.kick();
      }
    });
  }

  /**
   * The single writer: everything that touches WAL files runs here, one pass at a time.
   * Writes all queued items (one durable writev per run of records), then resolves
   * the waiters they cover, then deletes segments a durable snapshot made obsolete.
   */
  private async drain(): Promise<void> {
    if (this.failure || this.active === null) return;
    try {
      while (this.queue.length > 0) {
        const items = this.queue;
        this.queue = [];
        this.queuedBytes = 0;
        let i = 0;
        while (i < items.length) {
          const item = items[i]!;
          if (item.kind === 'snapshot-file') {
            await writeSnapshotFile(this.fs, this.snapDir, item.snapshot, this.fsyncEnabled);
            this.writtenSeq = item.seq;
            i++;
            continue;
          }
          let j = i;
          const bufs: Buffer[] = [];
          const records: WalRecord[] = [];
          let bytes = 0;
          while (j < items.length && items[j]!.kind === 'records') {
            const r = items[j] as Extract<Pending, { kind: 'records' }>;
            bufs.push(...r.bufs);
            records.push(...r.records);
            bytes += r.bytes;
            j++;
          }
          await this.writeRecords(bufs, bytes, records);
          this.writtenSeq = items[j - 1]!.seq;
          i = j;
        }
        this.resolveWaiters();
      }
      await this.deleteObsolete();
    } catch (e) {
      this.fail(e as Error);
    }
  }

  private async writeRecords(bufs: Buffer[], bytes: number, records: readonly WalRecord[]): Promise<void> {
    let seg = this.segments[this.segments.length - 1]!;
    if (seg.size >= this.segmentBytes) seg = await this.rotate();
    const fh = this.active!;
    let off = 0;
    // writev may write fewer bytes than asked (large batches); keep going until all are out.
    let remaining: Buffer[] = bufs;
    while (off < bytes) {
      const { bytesWritten } = await fh.writev(remaining, seg.size + off);
      off += bytesWritten;
      if (off < bytes) remaining = [Buffer.concat(bufs).subarray(off)];
    }
    if (this.fsyncEnabled) {
      // O_DSYNC: the writes above were already durable when they returned.
      if (!this.fs.hasDsync) await fh.datasync();
      this.counters.fsyncs++;
    }
    seg.size += bytes;
    this.counters.flushes++;
    this.counters.bytesWritten += bytes;
    this.counters.recordsWritten += records.length;
    for (const r of records) {
      switch (r.type) {
        case 'entries':
          if (r.entries.length > 0) seg.maxIndex = Math.max(seg.maxIndex, r.firstIndex + r.entries.length - 1);
          break;
        case 'hard-state':
          this.written.hardState = r.hardState;
          break;
        case 'snapshot':
          this.written.snapRef = r.ref;
          break;
        case 'segment-header':
          break;
      }
    }
  }

  /** Start the next segment with a checkpoint of the state written so far (FORMAT.md). */
  private async rotate(): Promise<Segment> {
    const prev = this.segments[this.segments.length - 1]!;
    const seq = prev.seq + 1;
    const file = path.join(this.walDir, segmentFileName(seq));
    const fh = await openSegment(this.fs, file, true, this.fsyncEnabled);
    const bufs = checkpointRecords(seq, this.written).map(encodeRecord);
    const size = bufs.reduce((n, b) => n + b.length, 0);
    await fh.writev(bufs, 0);
    if (this.fsyncEnabled) {
      await fh.datasync();
      await this.fs.syncDir(this.walDir);
      this.counters.fsyncs++;
    }
    const old = this.active;
    this.active = fh;
    await old?.close();
    const seg: Segment = { seq, file, maxIndex: 0, size };
    this.segments.push(seg);
    return seg;
  }

  /** Delete the oldest segments whose entries a durable snapshot covers, and older snapshot files. */
  private async deleteObsolete(): Promise<void> {
    const durableSnap = this.written.snapRef?.index ?? 0;
    const limit = Math.min(this.compactGoal, durableSnap);
    let deleted = 0;
    while (this.segments.length > 1 && this.segments[0]!.maxIndex <= limit) {
      const seg = this.segments.shift()!;
      await this.fs.remove(seg.file);
      deleted++;
    }
    if (deleted > 0) {
      this.counters.segmentsDeleted += deleted;
      if (this.fsyncEnabled) await this.fs.syncDir(this.walDir);
      for (const name of (await this.fs.readdir(this.snapDir)).sort()) {
        const parsed = parseSnapshotFileName(name);
        if (parsed !== null && parsed.index < durableSnap) await this.fs.remove(path.join(this.snapDir, name));
      }
    }
  }

  private resolveWaiters(): void {
    const still: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.seq <= this.writtenSeq) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  private fail(err: Error): void {
    // After a failed write or fsync the page cache state is unknown (PostgreSQL's
    // "fsyncgate"): refuse all further writes; the node must restart and recover.
    this.failure = err;
    this.logger.error('storage write failed; refusing further writes', { dir: this.dir, error: err.message });
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(this.unusable());
  }
}

function checkpointRecords(seq: number, s: WrittenState): WalRecord[] {
  const out: WalRecord[] = [{ type: 'segment-header', seq }, { type: 'hard-state', hardState: s.hardState }];
  if (s.snapRef !== null && s.snapRef.index > 0) out.push({ type: 'snapshot', ref: { ...s.snapRef, kind: 'created' } });
  return out;
}

/** Check before mutating anything, so a rejected append leaves memory and disk as they were. */
function validateAppend(entries: readonly Entry[], lastIndex: number): void {
  if (entries.length === 0) return;
  const first = entries[0]!.index;
  if (first > lastIndex + 1) throw new RangeError(`log gap: entries start at index ${first} but the last index is ${lastIndex}`);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i]!.index !== first + i) {
      throw new RangeError(`entries are not contiguous: position ${i} has index ${entries[i]!.index}, expected ${first + i}`);
    }
  }
}
