/**
 * Records the history as it happens: every op is written to `history.jsonl` the moment it is
 * recorded (a crash of the harness loses nothing it recorded) and fsynced periodically (a
 * crash of the machine loses at most the last interval). Times are nanoseconds since the
 * recorder started, from a monotonic clock.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { Op } from '../checkers/history/types.ts';

/** What a caller records: an Op without the index and time the writer assigns. */
export type OpInput = Omit<Op, 'index' | 'time'>;

export class HistoryWriter {
  readonly ops: Op[] = [];
  private readonly fd: number;
  private readonly t0 = process.hrtime.bigint();
  readonly startedAtMs = Date.now();
  private dirty = false;
  private readonly syncTimer: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly path: string,
    fsyncEveryMs = 1000,
  ) {
    this.fd = openSync(path, 'a');
    this.syncTimer = setInterval(() => this.sync(), fsyncEveryMs);
    this.syncTimer.unref();
  }

  /** Nanoseconds since the recorder started. */
  now(): number {
    return Number(process.hrtime.bigint() - this.t0);
  }

  record(input: OpInput): Op {
    if (this.closed) throw new Error('history is closed');
    const op: Op = {
      index: this.ops.length,
      time: this.now(),
      process: input.process,
      type: input.type,
      f: input.f,
      ...(input.key !== undefined ? { key: input.key } : {}),
      value: input.value === undefined ? null : input.value,
      ...(input.error !== undefined ? { error: input.error } : {}),
      ...(input.node !== undefined ? { node: input.node } : {}),
    };
    this.ops.push(op);
    writeSync(this.fd, `${JSON.stringify(op)}\n`);
    this.dirty = true;
    return op;
  }

  sync(): void {
    if (!this.dirty || this.closed) return;
    this.dirty = false;
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.closed) return;
    clearInterval(this.syncTimer);
    this.sync();
    this.closed = true;
    closeSync(this.fd);
  }
}
