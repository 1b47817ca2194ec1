/**
 * StorageFs on node:fs: the real platform's file system (storage-fs.ts has the contract).
 * The only file under impl/storage that touches node:fs outside tests (eslint.config.js).
 */
import { appendFileSync, constants as fsConstants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { OpenMode, StorageFile, StorageFs } from './storage-fs.ts';

/**
 * With fsync on, WAL segments are opened O_DSYNC: each write returns only once its data is
 * durable (POSIX synchronized I/O data integrity completion, what fdatasync gives), so a
 * batch costs one thread-pool round trip instead of two (writev, then fdatasync). On a busy
 * machine every round trip is a wake-up of the main thread on the commit path.
 * Null where the platform has no O_DSYNC: then writes are followed by fdatasync as before.
 */
const O_DSYNC: number | null = typeof fsConstants.O_DSYNC === 'number' && fsConstants.O_DSYNC !== 0 ? fsConstants.O_DSYNC : null;

function openFlags(mode: OpenMode, dsync: boolean): number | string {
  if (mode === 'write-truncate') return 'w';
  const base = mode === 'create-exclusive' ? fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL : fsConstants.O_RDWR;
  return dsync && O_DSYNC !== null ? base | O_DSYNC : base;
}

class NodeFile implements StorageFile {
  constructor(private readonly fh: FileHandle) {}

  writev(buffers: readonly Uint8Array[], position?: number): Promise<{ readonly bytesWritten: number }> {
    return this.fh.writev(buffers as Uint8Array[], position);
  }

  datasync(): Promise<void> {
    return this.fh.datasync();
  }

  sync(): Promise<void> {
    return this.fh.sync();
  }

  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

export const nodeFs: StorageFs = {
  mkdirp: async (dir) => {
    await fsp.mkdir(dir, { recursive: true });
  },
  readdir: (dir) => fsp.readdir(dir),
  readFile: (file) => fsp.readFile(file),
  remove: (file) => fsp.rm(file, { force: true }),
  rename: (from, to) => fsp.rename(from, to),
  open: async (file, mode, options) => new NodeFile(await fsp.open(file, openFlags(mode, options?.dsync ?? false))),
  syncDir: async (dir) => {
    const fh = await fsp.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  appendTextSync: (file, text) => appendFileSync(file, text),
  hasDsync: O_DSYNC !== null,
};
