import type { Op, Process } from '../history/types.ts';

/** An operation by its interval, as the literature draws them (Porcupine's `Operation`). */
export interface Interval {
  readonly process: Process;
  readonly f: string;
  readonly input?: unknown;
  /** Result; omit for an operation that never completed. */
  readonly output?: unknown;
  readonly type?: 'ok' | 'info' | 'fail';
  readonly call: number;
  /** Omit for an operation that never completed. */
  readonly ret?: number;
  readonly key?: string | number;
}

/**
 * Turns intervals into a history: events ordered by time, calls before returns at equal
 * times (so zero-length and touching operations count as concurrent, as in Porcupine).
 */
export function historyOf(intervals: readonly Interval[]): Op[] {
  type Ev = { t: number; call: boolean; iv: Interval; n: number };
  const evs: Ev[] = [];
  intervals.forEach((iv, n) => {
    evs.push({ t: iv.call, call: true, iv, n });
    if (iv.ret !== undefined) evs.push({ t: iv.ret, call: false, iv, n });
  });
  evs.sort((a, b) => a.t - b.t || Number(b.call) - Number(a.call) || a.n - b.n);
  return evs.map((e, index) => ({
    index,
    time: e.t,
    process: e.iv.process,
    type: e.call ? 'invoke' : (e.iv.type ?? 'ok'),
    f: e.iv.f,
    value: e.call ? (e.iv.input ?? null) : (e.iv.output ?? e.iv.input ?? null),
    ...(e.iv.key !== undefined ? { key: e.iv.key } : {}),
  }));
}
