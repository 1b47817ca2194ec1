/**
 * For tests that drive the etcd client by hand and hand what it saw to a checker: unwrap an ok
 * result, and record each call as an invoke/ok pair in a history.
 */
import type { Op } from '../../../../checkers/history/types.ts';
import type { OpResult } from '../../../../workloads/client.ts';

export function okValue<T>(r: OpResult<T>): T {
  if (r.type !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r.value;
}

/** A history and a way to add one completed call to it (times are the indexes). */
export function recordedHistory(): { readonly history: Op[]; readonly record: (process: number, f: string, invoke: unknown, value: unknown, key?: string) => void } {
  const history: Op[] = [];
  const record = (process: number, f: string, invoke: unknown, value: unknown, key?: string): void => {
    for (const [type, v] of [['invoke', invoke], ['ok', value]] as const) history.push({ index: history.length, time: history.length, process, type, f, value: v, ...(key !== undefined ? { key } : {}) });
  };
  return { history, record };
}
