/**
 * What the checker benches measure around one check of one history file: wall time to read
 * and to check, CPU time, peak RSS and peak heap (sampled after the read and after the check).
 */
import type { Op } from '../history/types.ts';
import { readHistoryFile } from '../history/read.ts';

export interface Measured<R> {
  readonly result: R;
  readonly lines: number;
  readonly readMs: number;
  readonly totalMs: number;
  readonly cpuMs: number;
  readonly peakRssMb: number;
  readonly peakHeapMb: number;
}

export async function measureCheck<R>(file: string, check: (history: Op[]) => R | Promise<R>): Promise<Measured<R>> {
  let peakHeap = 0;
  const sample = (): void => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  };
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const history = readHistoryFile(file);
  const readMs = performance.now() - t0;
  sample();
  const result = await check(history);
  sample();
  const totalMs = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  return {
    result,
    lines: history.length,
    readMs: Math.round(readMs),
    totalMs: Math.round(totalMs),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    peakHeapMb: Math.round(peakHeap / 2 ** 20),
  };
}
