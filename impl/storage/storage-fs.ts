/**
 * The file operations DiskStorage needs, and nothing more: the storage's seam to a file
 * system. `node-fs.ts` implements it on node:fs for real nodes; the simulation
 * (harness/sim/sim-fs.ts) implements it on an in-memory disk that tracks durable and volatile
 * bytes, so the WAL's recovery code runs unchanged against simulated crashes.
 *
 * Durability contract (POSIX, as the WAL relies on it):
 *  - a write is durable once `sync`/`datasync` on its file returned, or when it returns on
 *    a file opened with `dsync` (O_DSYNC: each write completes with fdatasync's guarantee);
 *  - a new name (create, rename, unlink) is durable once `syncDir` on its directory returned;
 *  - anything else may be lost, or kept in part, by a crash.
 * Errors carry Node's `code` (`ENOENT`, `EEXIST`, ...), as node:fs's do.
 */

/** How to open a file. */
export type OpenMode =
  /** O_RDWR | O_CREAT | O_EXCL: a new file; fails with EEXIST if the name exists. */
  | 'create-exclusive'
  /** O_RDWR: an existing file; fails with ENOENT if missing. */
  | 'read-write'
  /** 'w': create, or truncate an existing file to zero. */
  | 'write-truncate';

export interface StorageFile {
  /**
   * Write `buffers` in order at `position` (at the end of the last write when omitted);
   * resolves with the bytes written, which may be fewer than asked (node:fs's own result
   * shape, so the real file system adds no promise of its own on the commit path).
   */
  writev(buffers: readonly Uint8Array[], position?: number): Promise<{ readonly bytesWritten: number }>;
  /** fdatasync: the file's data is durable. */
  datasync(): Promise<void>;
  /** fsync: data and metadata are durable. */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export interface StorageFs {
  /** mkdir -p. */
  mkdirp(dir: string): Promise<void>;
  /** Names in `dir` (not paths), in no particular order. */
  readdir(dir: string): Promise<string[]>;
  readFile(file: string): Promise<Buffer>;
  /** rm -f: removing a missing file is not an error. */
  remove(file: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** `dsync`: every write is durable when it returns (O_DSYNC; where the platform lacks it, the caller fdatasyncs instead, see `hasDsync`). */
  open(file: string, mode: OpenMode, options?: { readonly dsync?: boolean }): Promise<StorageFile>;
  /** fsync a directory: the names created, renamed or removed in it are durable. */
  syncDir(dir: string): Promise<void>;
  /** Append text without waiting (appendFileSync): logs and event files that need no fsync. */
  appendTextSync(file: string, text: string): void;
  /** Whether `dsync` opens give O_DSYNC semantics here; without it DiskStorage fdatasyncs after each write. */
  readonly hasDsync: boolean;
}
