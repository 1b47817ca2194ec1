/**
 * A simulated disk: the StorageFs seam (impl/storage/storage-fs.ts) in memory, so the real
 * DiskStorage (WAL, CRCs, torn-tail recovery, snapshot files, fault mode) runs unchanged
 * against simulated crashes.
 *
 * Each file keeps two images: what processes see (every write lands there at once, as in a
 * page cache) and what is durable. A write becomes durable when `sync`/`datasync` on its
 * file completes, or when it completes on a file opened `dsync` (O_DSYNC). Names (create,
 * rename, unlink) become durable when `syncDir` on their directory completes, as POSIX asks
 * (no ext4 courtesy of committing a new file's name with its data). Directories themselves
 * (mkdirp) are durable at once: a node that lost its data directory is a different fault.
 *
 * `crash()` is a power loss: each file keeps its durable image plus a seeded prefix of its
 * unsynced operations, in order, the last kept write possibly torn (a prefix of its bytes,
 * or the right length of zeros: a file extended whose data never reached the disk); each
 * directory keeps its durable names plus a seeded prefix of its unsynced name changes. A
 * process that is only killed loses nothing here (the page cache survives it).
 *
 * Every operation completes through the scheduler after a seeded latency, on behalf of the
 * calling process (a killed process's operations never complete), so I/O interleavings
 * vary with the seed.
 */
import * as path from 'node:path';
import type { OpenMode, StorageFile, StorageFs } from '../../impl/storage/storage-fs.ts';
import type { SimRandom } from './random.ts';
import type { Scheduler, SimProcess } from './scheduler.ts';

/** EventCosts kinds of disk completions (scheduler.ts). */
const DISK_EVENT_KIND: Readonly<Record<keyof DiskLatency, string>> = { metadataMs: 'disk metadata', writeMs: 'disk write', syncMs: 'disk sync' };

export interface DiskLatency {
  /** Reads, opens, renames, removes: uniform in [min, max] ms. */
  readonly metadataMs: readonly [number, number];
  /** A write to the page cache. */
  readonly writeMs: readonly [number, number];
  /** A durable write (dsync) or a sync/datasync/syncDir. */
  readonly syncMs: readonly [number, number];
}

export interface DiskOptions {
  readonly latency?: Partial<DiskLatency>;
  /** Probability that a torn write leaves zeros instead of a prefix of its bytes. Default 0.2. */
  readonly zeroTearProbability?: number;
  /**
   * Unsynced writes older than this become durable by themselves (the kernel's background
   * writeback; Linux's dirty_expire_centisecs is 30 s). Default 30,000 ms; Infinity: never.
   */
  readonly writebackMs?: number;
}

export const DEFAULT_DISK_LATENCY: DiskLatency = {
  metadataMs: [0.02, 0.1],
  writeMs: [0.02, 0.1],
  syncMs: [0.3, 2],
};

/** A byte array that grows by doubling. */
class Bytes {
  buf: Buffer;
  length: number;

  constructor(initial?: Uint8Array) {
    this.buf = Buffer.alloc(Math.max(64, initial?.length ?? 0));
    this.length = 0;
    if (initial !== undefined) this.write(0, initial);
  }

  write(pos: number, data: Uint8Array): void {
    const end = pos + data.length;
    this.reserve(end);
    if (pos > this.length) this.buf.fill(0, this.length, pos);
    this.buf.set(data, pos);
    this.length = Math.max(this.length, end);
  }

  truncate(len: number): void {
    this.reserve(len);
    if (len > this.length) this.buf.fill(0, this.length, len);
    this.length = len;
  }

  view(): Buffer {
    return this.buf.subarray(0, this.length);
  }

  copy(): Bytes {
    return new Bytes(this.view());
  }

  private reserve(n: number): void {
    if (n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < n) cap *= 2;
    const next = Buffer.alloc(cap);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
}

type DataChange = { readonly kind: 'write'; readonly pos: number; readonly buffers: readonly Uint8Array[] } | { readonly kind: 'truncate'; readonly length: number };

/**
 * An unsynced operation, kept as what it takes to undo it: the file's length before it, and
 * the bytes it overwrote or cut off (none for an append, the WAL's common case). The file
 * itself holds what processes see; a crash undoes the operations it does not keep, newest
 * first, so syncing costs nothing and a write is copied once.
 */
interface PendingOp {
  readonly kind: 'write' | 'truncate';
  /** Where a write started, or the length a truncate set. */
  readonly pos: number;
  /** Bytes a write wrote. */
  readonly length: number;
  readonly oldLength: number;
  /** What a write overwrote (at pos), or what a shrinking truncate removed (at pos). */
  readonly saved: Buffer | null;
  /** Virtual time of the call (background writeback makes old ops durable). */
  readonly at: number;
}

class Inode {
  visible = new Bytes();
  pending: PendingOp[] = [];

  constructor(readonly id: number) {}

  apply(op: DataChange, now: number, writebackBefore: number): void {
    let old = 0;
    while (old < this.pending.length && this.pending[old]!.at < writebackBefore) old++;
    if (old > 0) this.syncThrough(old);
    const oldLength = this.visible.length;
    if (op.kind === 'write') {
      let length = 0;
      for (const b of op.buffers) length += b.length;
      const overlap = Math.min(oldLength, op.pos + length) - op.pos;
      const saved = overlap > 0 ? Buffer.from(this.visible.buf.subarray(op.pos, op.pos + overlap)) : null;
      let at = op.pos;
      for (const b of op.buffers) {
        this.visible.write(at, b);
        at += b.length;
      }
      this.pending.push({ kind: 'write', pos: op.pos, length, oldLength, saved, at: now });
    } else {
      const saved = op.length < oldLength ? Buffer.from(this.visible.buf.subarray(op.length, oldLength)) : null;
      this.visible.truncate(op.length);
      this.pending.push({ kind: 'truncate', pos: op.length, length: 0, oldLength, saved, at: now });
    }
  }

  /** Make the first `count` pending operations durable (nothing to copy: the undo records go). */
  syncThrough(count: number): void {
    const n = Math.min(count, this.pending.length);
    if (n === this.pending.length) this.pending.length = 0;
    else this.pending.splice(0, n);
  }

  /** Undo the pending operations from `from` on, newest first. */
  undoFrom(from: number): void {
    for (let i = this.pending.length - 1; i >= from; i--) {
      const op = this.pending[i]!;
      if (op.kind === 'write') {
        if (op.saved !== null) this.visible.buf.set(op.saved, op.pos);
      } else if (op.saved !== null) {
        this.visible.write(op.pos, op.saved);
      }
      this.visible.length = op.oldLength;
    }
    this.pending.length = from;
  }
}

type NameOp = { readonly kind: 'link'; readonly name: string; readonly inode: Inode } | { readonly kind: 'unlink'; readonly name: string };

class Directory {
  visible = new Map<string, Inode>();
  durable = new Map<string, Inode>();
  pending: NameOp[] = [];

  apply(op: NameOp): void {
    applyName(this.visible, op);
    this.pending.push(op);
  }

  syncThrough(count: number): void {
    const n = Math.min(count, this.pending.length);
    for (let i = 0; i < n; i++) applyName(this.durable, this.pending[i]!);
    if (n === this.pending.length) this.pending.length = 0;
    else this.pending.splice(0, n);
  }
}

function applyName(names: Map<string, Inode>, op: NameOp): void {
  if (op.kind === 'link') names.set(op.name, op.inode);
  else names.delete(op.name);
}

function fsError(code: string, syscall: string, file: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${syscall} '${file}' (simulated disk)`);
  err.code = code;
  err.syscall = syscall;
  err.path = file;
  return err;
}

/** What a crash did to one file, for the trace and for tests. */
export interface CrashReport {
  readonly file: string;
  readonly keptOps: number;
  readonly lostOps: number;
  readonly torn: 'prefix' | 'zeros' | null;
}

export class SimDisk {
  private readonly dirs = new Map<string, Directory>();
  private nextInode = 1;
  private readonly latency: DiskLatency;
  private readonly zeroTear: number;
  private readonly writebackMs: number;

  constructor(
    readonly name: string,
    private readonly scheduler: Scheduler,
    private readonly rng: SimRandom,
    options: DiskOptions = {},
  ) {
    this.latency = { ...DEFAULT_DISK_LATENCY, ...options.latency };
    this.zeroTear = options.zeroTearProbability ?? 0.2;
    this.writebackMs = options.writebackMs ?? 30_000;
    this.dirs.set('/', new Directory());
  }

  /** The file system as process `owner` sees it: its operations complete on its behalf. */
  view(owner: SimProcess): StorageFs {
    return new SimFsView(this, owner);
  }

  // ---- for nemeses and tests: direct access, outside any process (the node is down) ----

  /** Regular files under `dir`, recursively, with sizes (paths relative to `dir`). */
  listFiles(dir: string): { readonly path: string; readonly size: number }[] {
    const root = normalize(dir);
    const out: { path: string; size: number }[] = [];
    for (const [dirPath, d] of [...this.dirs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (dirPath !== root && !dirPath.startsWith(root === '/' ? '/' : `${root}/`)) continue;
      for (const [name, inode] of [...d.visible].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        out.push({ path: path.relative(root, path.join(dirPath, name)), size: inode.visible.length });
      }
    }
    return out;
  }

  /** A file's bytes as processes would read them now. */
  readFile(file: string): Buffer {
    return Buffer.from(this.lookup(file, 'open').visible.view());
  }

  /** Replace a file's contents, durably (a nemesis editing the disk of a stopped node). */
  writeFile(file: string, data: Uint8Array): void {
    const inode = this.lookup(file, 'open');
    inode.visible = new Bytes(data);
    inode.pending = [];
  }

  /** Bytes written to `file` but not durable yet (tests). */
  unsyncedOps(file: string): number {
    return this.lookup(file, 'open').pending.length;
  }

  /**
   * Power loss: every file and directory keeps what was durable plus a seeded prefix of
   * what was not (the last kept write possibly torn). Returns what happened to each file
   * that had unsynced operations.
   */
  crash(): CrashReport[] {
    const reports: CrashReport[] = [];
    const names = new Map<Inode, string>();
    const dirPaths = [...this.dirs.keys()].sort();
    for (const dirPath of dirPaths) {
      const d = this.dirs.get(dirPath)!;
      for (const [name, inode] of d.visible) names.set(inode, path.join(dirPath, name));
      for (const [name, inode] of d.durable) if (!names.has(inode)) names.set(inode, path.join(dirPath, name));
      for (const op of d.pending) if (op.kind === 'link' && !names.has(op.inode)) names.set(op.inode, path.join(dirPath, op.name));
    }
    // Files in a fixed order (by inode number), so the draws do not depend on map order.
    const inodes = [...names.keys()].sort((a, b) => a.id - b.id);
    for (const inode of inodes) {
      const n = inode.pending.length;
      if (n === 0) continue;
      const kept = this.rng.int(n + 1);
      let torn: CrashReport['torn'] = null;
      const next = inode.pending[kept];
      if (next !== undefined && next.kind === 'write' && next.length > 0 && this.rng.chance(0.5)) {
        // The first write not kept reached the disk in part: a prefix of its bytes, or zeros.
        const len = 1 + this.rng.int(next.length);
        const zeros = this.rng.chance(this.zeroTear);
        inode.undoFrom(kept + 1);
        const part = zeros ? Buffer.alloc(len) : Buffer.from(inode.visible.buf.subarray(next.pos, next.pos + len));
        inode.undoFrom(kept);
        inode.visible.write(next.pos, part);
        torn = zeros ? 'zeros' : 'prefix';
      } else {
        inode.undoFrom(kept);
      }
      inode.pending = [];
      reports.push({ file: names.get(inode) ?? `inode ${inode.id}`, keptOps: kept, lostOps: n - kept, torn });
    }
    for (const dirPath of dirPaths) {
      const d = this.dirs.get(dirPath)!;
      if (d.pending.length > 0) d.syncThrough(this.rng.int(d.pending.length + 1));
      d.pending = [];
      d.visible = new Map(d.durable);
    }
    return reports;
  }

  // ---- used by SimFsView ----

  /** @internal Apply a data operation now (it reaches the page cache when the call is made). */
  applyData(inode: Inode, op: DataChange): PendingOp {
    inode.apply(op, this.scheduler.now, this.scheduler.now - this.writebackMs);
    return inode.pending[inode.pending.length - 1]!;
  }

  /** @internal */
  complete<T>(owner: SimProcess, kind: keyof DiskLatency, work: () => T): Promise<T> {
    const [min, max] = this.latency[kind];
    const delay = this.rng.between(min, max);
    return new Promise<T>((resolve, reject) => {
      this.scheduler.after(
        delay,
        () => {
          try {
            resolve(work());
          } catch (e) {
            reject(e as Error);
          }
        },
        owner,
        DISK_EVENT_KIND[kind],
      );
    });
  }

  /** @internal */
  dir(dirPath: string, syscall: string): Directory {
    const d = this.dirs.get(normalize(dirPath));
    if (d === undefined) throw fsError('ENOENT', syscall, dirPath);
    return d;
  }

  /** @internal */
  mkdirp(dirPath: string): void {
    let p = normalize(dirPath);
    const missing: string[] = [];
    while (!this.dirs.has(p)) {
      missing.push(p);
      p = path.dirname(p);
    }
    for (const m of missing.reverse()) this.dirs.set(m, new Directory());
  }

  /** @internal */
  lookup(file: string, syscall: string): Inode {
    const f = normalize(file);
    const inode = this.dir(path.dirname(f), syscall).visible.get(path.basename(f));
    if (inode === undefined) throw fsError('ENOENT', syscall, file);
    return inode;
  }

  /** @internal */
  create(file: string): Inode {
    const f = normalize(file);
    const inode = new Inode(this.nextInode++);
    this.dir(path.dirname(f), 'open').apply({ kind: 'link', name: path.basename(f), inode });
    return inode;
  }
}

function normalize(p: string): string {
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

class SimFile implements StorageFile {
  private position = 0;
  private closed = false;

  constructor(
    private readonly disk: SimDisk,
    private readonly owner: SimProcess,
    private readonly inode: Inode,
    private readonly dsync: boolean,
    private readonly file: string,
  ) {}

  writev(buffers: readonly Uint8Array[], position?: number): Promise<{ readonly bytesWritten: number }> {
    this.checkOpen('write');
    const pos = position ?? this.position;
    // The bytes reach the page cache when the call is made (copied into the file: the caller
    // may reuse its buffers); with O_DSYNC the call returns once they are durable. A crash
    // in between may keep any prefix of them.
    const op = this.disk.applyData(this.inode, { kind: 'write', pos, buffers });
    if (position === undefined) this.position += op.length;
    return this.disk.complete(this.owner, this.dsync ? 'syncMs' : 'writeMs', () => {
      if (this.dsync) {
        const at = this.inode.pending.indexOf(op);
        if (at >= 0) this.inode.syncThrough(at + 1);
      }
      return { bytesWritten: op.length };
    });
  }

  datasync(): Promise<void> {
    return this.sync();
  }

  sync(): Promise<void> {
    this.checkOpen('fsync');
    // What is dirty when the call is made becomes durable by the time it returns.
    const upTo = this.inode.pending.length;
    const last = this.inode.pending[upTo - 1];
    return this.disk.complete(this.owner, 'syncMs', () => {
      if (last === undefined) return;
      const at = this.inode.pending.indexOf(last);
      if (at >= 0) this.inode.syncThrough(at + 1);
    });
  }

  truncate(length: number): Promise<void> {
    this.checkOpen('ftruncate');
    this.disk.applyData(this.inode, { kind: 'truncate', length });
    return this.disk.complete(this.owner, 'metadataMs', () => undefined);
  }

  close(): Promise<void> {
    this.closed = true;
    return this.disk.complete(this.owner, 'metadataMs', () => undefined);
  }

  private checkOpen(syscall: string): void {
    if (this.closed) throw fsError('EBADF', syscall, this.file);
  }
}

class SimFsView implements StorageFs {
  readonly hasDsync = true;

  constructor(
    private readonly disk: SimDisk,
    private readonly owner: SimProcess,
  ) {}

  mkdirp(dir: string): Promise<void> {
    return this.disk.complete(this.owner, 'metadataMs', () => this.disk.mkdirp(dir));
  }

  readdir(dir: string): Promise<string[]> {
    return this.disk.complete(this.owner, 'metadataMs', () => [...this.disk.dir(dir, 'scandir').visible.keys()].sort());
  }

  readFile(file: string): Promise<Buffer> {
    return this.disk.complete(this.owner, 'metadataMs', () => Buffer.from(this.disk.lookup(file, 'open').visible.view()));
  }

  remove(file: string): Promise<void> {
    // rm -f: a missing file or directory is not an error.
    const f = normalize(file);
    const name = path.basename(f);
    let d: Directory | null;
    try {
      d = this.disk.dir(path.dirname(f), 'rm');
    } catch {
      d = null;
    }
    if (d?.visible.has(name) === true) d.apply({ kind: 'unlink', name });
    return this.disk.complete(this.owner, 'metadataMs', () => undefined);
  }

  rename(from: string, to: string): Promise<void> {
    const f = normalize(from);
    const t = normalize(to);
    if (path.dirname(f) !== path.dirname(t)) throw new Error(`simulated disk: rename across directories (${from} -> ${to}) is not modelled`);
    const d = this.disk.dir(path.dirname(f), 'rename');
    const inode = d.visible.get(path.basename(f));
    if (inode === undefined) return Promise.reject(fsError('ENOENT', 'rename', from));
    d.apply({ kind: 'link', name: path.basename(t), inode });
    d.apply({ kind: 'unlink', name: path.basename(f) });
    return this.disk.complete(this.owner, 'metadataMs', () => undefined);
  }

  open(file: string, mode: OpenMode, options?: { readonly dsync?: boolean }): Promise<StorageFile> {
    const f = normalize(file);
    let inode: Inode;
    try {
      const d = this.disk.dir(path.dirname(f), 'open');
      const existing = d.visible.get(path.basename(f));
      switch (mode) {
        case 'create-exclusive':
          if (existing !== undefined) throw fsError('EEXIST', 'open', file);
          inode = this.disk.create(f);
          break;
        case 'read-write':
          if (existing === undefined) throw fsError('ENOENT', 'open', file);
          inode = existing;
          break;
        case 'write-truncate':
          inode = existing ?? this.disk.create(f);
          if (existing !== undefined) this.disk.applyData(inode, { kind: 'truncate', length: 0 });
          break;
      }
    } catch (e) {
      return this.disk.complete(this.owner, 'metadataMs', () => {
        throw e;
      });
    }
    return this.disk.complete(this.owner, 'metadataMs', () => new SimFile(this.disk, this.owner, inode, options?.dsync === true, file));
  }

  syncDir(dir: string): Promise<void> {
    let d: Directory;
    try {
      d = this.disk.dir(dir, 'open');
    } catch (e) {
      return this.disk.complete(this.owner, 'metadataMs', () => {
        throw e;
      });
    }
    const last = d.pending[d.pending.length - 1];
    return this.disk.complete(this.owner, 'syncMs', () => {
      if (last === undefined) return;
      const at = d.pending.indexOf(last);
      if (at >= 0) d.syncThrough(at + 1);
    });
  }

  appendTextSync(file: string, text: string): void {
    const f = normalize(file);
    const d = this.disk.dir(path.dirname(f), 'open');
    const inode = d.visible.get(path.basename(f)) ?? this.disk.create(f);
    this.disk.applyData(inode, { kind: 'write', pos: inode.visible.length, buffers: [Buffer.from(text, 'utf8')] });
  }
}
