/** Durable Raft storage: see FORMAT.md for the on-disk format. */
export { DiskStorage, StorageUnavailableError, stderrLogger, segmentFileName } from './disk-storage.ts';
export type { DiskStorageOptions, StorageLogger, StorageStats } from './disk-storage.ts';
export { WalCorruptionError } from './wal-format.ts';
