import { appendWorkload } from './append.ts';
import { leaseWorkload } from './lease.ts';
import { registerWorkload } from './register.ts';
import { setWorkload } from './set.ts';
import { versionedKvWorkload } from './versioned-kv.ts';
import { watchWorkload } from './watch.ts';
import type { Workload } from './workload.ts';

/** Every workload by name (what `--workload` accepts). */
export const WORKLOADS: Readonly<Record<string, () => Workload>> = {
  register: () => registerWorkload(),
  'versioned-kv': () => versionedKvWorkload(),
  set: () => setWorkload(),
  lease: () => leaseWorkload(),
  watch: () => watchWorkload(),
  append: () => appendWorkload(),
};

export function workloadByName(name: string): Workload {
  const make = WORKLOADS[name];
  if (make === undefined) throw new Error(`--workload: unknown workload "${name}" (known: ${Object.keys(WORKLOADS).join(', ')})`);
  return make();
}
