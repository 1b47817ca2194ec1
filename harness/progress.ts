/**
 * Live progress. On a TTY one status line redrawn in place (elapsed/total, ops/s, ok/fail/info,
 * active fault, leader); elsewhere a plain line every few seconds, so CI logs stay readable.
 * Ticks and elapsed time are on the run's clock: in simulation, virtual seconds (a real
 * timer there would break replay, and the guard refuses it).
 */
import type { HarnessClock, Repeating } from './time.ts';
import { realClock } from './time.ts';

export interface ProgressTiming {
  /** Redraw period on a TTY, ms of the run's clock. Default 250. */
  readonly ttyMs?: number;
  /** Period of plain lines elsewhere, ms of the run's clock. Default 5000. */
  readonly plainMs?: number;
  /** The clock is a simulation's: the line says its seconds are virtual. */
  readonly virtual?: boolean;
}

export interface ProgressState {
  phase: string;
  ok: number;
  fail: number;
  info: number;
  activeFault: string | null;
  leader: string | null;
}

export class Progress {
  readonly state: ProgressState = { phase: 'setup', ok: 0, fail: 0, info: 0, activeFault: null, leader: null };
  private timer: Repeating | null = null;
  private readonly t0: number;
  private lastCount = 0;
  private lastAt: number;
  private rate = 0;
  private readonly tty: boolean;
  private live = false;

  constructor(
    private readonly totalSeconds: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly quiet = false,
    private readonly clock: HarnessClock = realClock,
    private readonly timing: ProgressTiming = {},
  ) {
    this.tty = out.isTTY === true && !quiet;
    this.t0 = clock.now();
    this.lastAt = this.t0;
  }

  start(): void {
    if (this.quiet) return;
    this.live = true;
    this.timer = this.clock.every(this.tty ? (this.timing.ttyMs ?? 250) : (this.timing.plainMs ?? 5000), () => this.tick());
  }

  /** A line that stays (phase changes, warnings). */
  log(line: string): void {
    if (this.quiet) return;
    const redraw = this.tty && this.live;
    if (redraw) this.out.write('\r\x1b[K');
    this.out.write(`${line}\n`);
    if (redraw) this.out.write(this.line());
  }

  private tick(): void {
    const now = this.clock.now();
    const count = this.state.ok + this.state.fail + this.state.info;
    if (now > this.lastAt) this.rate = ((count - this.lastCount) * 1000) / (now - this.lastAt);
    this.lastCount = count;
    this.lastAt = now;
    if (this.tty) this.out.write(`\r\x1b[K${this.line()}`);
    else this.out.write(`${this.line()}\n`);
  }

  line(): string {
    const s = this.state;
    const elapsed = Math.round((this.clock.now() - this.t0) / 1000);
    const virtual = this.timing.virtual === true ? ' virtual' : '';
    return `[${s.phase}] ${elapsed}s/${this.totalSeconds}s${virtual}  ${this.rate.toFixed(0)} ops/s  ok ${s.ok} fail ${s.fail} info ${s.info}  fault ${s.activeFault ?? '-'}  leader ${s.leader ?? '-'}`;
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    if (this.tty && this.live) this.out.write(`\r\x1b[K${this.line()}\n`);
    this.live = false;
  }
}
