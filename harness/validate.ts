/**
 * What a system can do against what a run asks of it, checked before anything starts: a
 * workload operation, a nemesis, a runtime or a flag the system lacks is refused with exit 64
 * and a message naming it, never silently skipped (a test that quietly injects no clock
 * faults would report a pass it never earned).
 */
import type { ClientOptions, ReadConsistency } from '../workloads/client.ts';
import type { Workload } from '../workloads/workload.ts';
import { UsageError } from './errors.ts';
import { needsFaultInjection, type Nemesis } from './nemesis/nemesis.ts';
import type { RuntimeName } from './runtime/runtime.ts';
import type { System } from './systems/system.ts';

export interface RunRequest {
  readonly system: System;
  readonly workload: Workload;
  readonly nemeses: readonly Nemesis[];
  readonly config: {
    readonly runtime: RuntimeName;
    readonly unsafe: readonly string[];
    readonly storageFaultMode?: boolean;
    readonly readConsistency: ReadConsistency;
    readonly clientMode: ClientOptions['mode'];
    readonly systemOptions?: Readonly<Record<string, string>>;
    readonly nodes?: number;
  };
}

/** Every reason the run cannot go ahead (empty when it can). */
export function runProblems(r: RunRequest): string[] {
  const s = r.system;
  const problems: string[] = [];
  if (!s.supports.runtimes.has(r.config.runtime)) {
    problems.push(`--runtime ${r.config.runtime}: ${s.name} runs on ${[...s.supports.runtimes].join(', ')} only`);
  }
  const missingOps = r.workload.requires.filter((op) => !s.supports.ops.has(op));
  if (missingOps.length > 0) problems.push(`--workload ${r.workload.name} needs the operation(s) ${missingOps.join(', ')}, which ${s.name}'s client does not support`);
  for (const n of r.nemeses) {
    const missing = (n.requires ?? []).filter((f) => !s.supports.features.has(f));
    if (missing.length > 0) problems.push(`--nemesis ${n.name} needs ${missing.join(', ')}, which ${s.name} does not support`);
    if (n.minNodes !== undefined && r.config.nodes !== undefined && r.config.nodes < n.minNodes) problems.push(`--nemesis ${n.name} needs at least ${n.minNodes} nodes (--nodes ${r.config.nodes})`);
  }
  if (r.config.unsafe.length > 0) {
    if (!s.supports.features.has('unsafe')) problems.push(`--unsafe: ${s.name} has no unsafe switches`);
    else for (const u of r.config.unsafe) if (!s.supports.unsafe.includes(u)) problems.push(`--unsafe: unknown switch "${u}" (${s.name} knows: ${s.supports.unsafe.join(', ')})`);
  }
  if (r.config.storageFaultMode === true && !s.supports.features.has('storage-fault-mode')) problems.push(`--storage-fault-mode: ${s.name} cannot lose unsynced writes on a kill`);
  if (!s.supports.readConsistency.has(r.config.readConsistency)) problems.push(`--read-consistency ${r.config.readConsistency}: ${s.name} supports ${[...s.supports.readConsistency].join(', ')}`);
  if (r.config.clientMode === 'retrying' && !s.supports.features.has('retrying-client')) problems.push(`--client retrying: ${s.name} has no retrying client library wired in`);
  try {
    s.checkOptions?.(r.config.systemOptions ?? {}, { faultInjection: r.nemeses.some(needsFaultInjection) });
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    problems.push(e.message);
  }
  return problems;
}

/** Throws a UsageError listing every problem. */
export function validateRun(r: RunRequest): void {
  const problems = runProblems(r);
  if (problems.length > 0) throw new UsageError(problems.join('; '));
}
