/**
 * Records the history as it happens. `record` only appends to memory and to a write buffer
 * (it is on every client's hot path); the buffer goes to `history.jsonl` every
 * `flushEveryMs` (or at once past 1 MiB), and the file is fsynced every `fsyncEveryMs`. So a
 * crash of the harness loses at most the last flush interval, a crash of the machine at most
 * the last fsync interval, and `close` writes everything. Times are nanoseconds since the
 * recorder started, on the run's clock (monotonic; virtual in simulation).
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { Op } from '../checkers/history/types.ts';
import type { HarnessClock, Repeating } from './time.ts';
import { realClock } from './time.ts';

/** What a caller records: an Op without the index and time the writer assigns. */
export type OpInput = Omit<Op, 'index' | 'time'>;

const MAX_BUFFERED_CHARS = 1 << 20;

export interface HistoryWriterOptions {
  readonly clock?: HarnessClock;
  readonly flushEveryMs?: number;
  readonly fsyncEveryMs?: number;
}

export class HistoryWriter {
  readonly ops: Op[] = [];
  private readonly fd: number;
  private readonly clock: HarnessClock;
  private readonly t0: bigint;
  /** Wall-clock ms when the recorder started (on the run's clock). */
  readonly startedAtMs: number;
  private buffer: string[] = [];
  private bufferedChars = 0;
  private unsynced = false;
  private readonly timers: Repeating[];
  private closed = false;

  constructor(
    readonly path: string,
    options: HistoryWriterOptions = {},
  ) {
    this.clock = options.clock ?? realClock;
    this.t0 = this.clock.nowNs();
    this.startedAtMs = this.clock.wallMs();
    this.fd = openSync(path, 'a');
    this.timers = [this.clock.every(options.flushEveryMs ?? 100, () => this.flush()), this.clock.every(options.fsyncEveryMs ?? 1000, () => this.sync())];
  }

  /** Nanoseconds since the recorder started. */
  now(): number {
    return Number(this.clock.nowNs() - this.t0);
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
    const line = `${JSON.stringify(op)}\n`;
    this.buffer.push(line);
    this.bufferedChars += line.length;
    if (this.bufferedChars > MAX_BUFFERED_CHARS) this.flush();
    return op;
  }

  /** Write what is buffered to the file (no fsync). */
  flush(): void {
    if (this.buffer.length === 0 || this.closed) return;
    const text = this.buffer.join('');
    this.buffer = [];
    this.bufferedChars = 0;
    writeSync(this.fd, text);
    this.unsynced = true;
  }

  sync(): void {
    this.flush();
    if (!this.unsynced || this.closed) return;
    this.unsynced = false;
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.closed) return;
    for (const t of this.timers) t.cancel();
    this.sync();
    this.closed = true;
    closeSync(this.fd);
  }
}
