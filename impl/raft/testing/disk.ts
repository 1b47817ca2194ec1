/**
 * The only place the test layers touch MemoryStorage's write API. A node's "disk" is a
 * MemoryStorage that the driver writes to only when it persists a Ready, so whatever it
 * holds is exactly what would survive a crash.
 */
import { encodeConfChange } from '../conf-change.ts';
import { bootstrapHardState, MemoryStorage } from '../memory-storage.ts';
import type { ConfState, Entry, Index, Ready, Snapshot } from '../types.ts';
import { index, term } from '../types.ts';

export type Disk = MemoryStorage;

/** A fresh disk. With a non-empty membership the node is bootstrapped as a founding member; otherwise it waits to be sent a snapshot. */
export function newDisk(conf: ConfState): Disk {
  if (conf.learners.length === 0) return conf.voters.length === 0 ? new MemoryStorage() : MemoryStorage.bootstrap(conf.voters);
  // MemoryStorage.bootstrap knows only voters; initial learners get an 'add-learner' entry
  // without the 'promote', in the same committed term-1 log.
  if (conf.voters.length === 0) throw new Error('newDisk: a bootstrapped cluster needs at least one voter');
  const entries: Entry[] = [];
  const push = (type: 'add-learner' | 'promote', node: (typeof conf.voters)[number]): void => {
    entries.push({ term: term(1), index: index(entries.length + 1), type: 'conf-change', data: encodeConfChange({ type, node }) });
  };
  for (const v of conf.voters) {
    push('add-learner', v);
    push('promote', v);
  }
  for (const l of conf.learners) push('add-learner', l);
  const disk = new MemoryStorage();
  disk.append(entries);
  disk.setHardState({ ...bootstrapHardState(conf.voters), commit: index(entries.length) });
  return disk;
}

/** Step 1 of the Ready contract: make the snapshot, entries and hard state durable. */
export function persistReady(disk: Disk, ready: Ready): void {
  if (ready.snapshot !== null) disk.applySnapshot(ready.snapshot);
  if (ready.entries.length > 0) disk.append(ready.entries);
  if (ready.hardState !== null) disk.setHardState(ready.hardState);
}

/** Take a snapshot of the application's state at `index` and discard the log before it. */
export function compactDisk(disk: Disk, index: Index, conf: ConfState, data: Uint8Array): Snapshot {
  const snap = disk.createSnapshot(index, conf, data);
  disk.compact(index);
  return snap;
}
