/**
 * Live progress. On a TTY one status line redrawn in place (elapsed/total, ops/s, ok/fail/info,
 * active fault, leader); elsewhere a plain line every few seconds, so CI logs stay readable.
 */
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
  private timer: NodeJS.Timeout | null = null;
  private readonly t0 = Date.now();
  private lastCount = 0;
  private lastAt = Date.now();
  private rate = 0;
  private readonly tty: boolean;
  private live = false;

  constructor(
    private readonly totalSeconds: number,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly quiet = false,
  ) {
    this.tty = out.isTTY === true && !quiet;
  }

  start(): void {
    if (this.quiet) return;
    this.live = true;
    this.timer = setInterval(() => this.tick(), this.tty ? 250 : 5000);
    this.timer.unref();
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
    const now = Date.now();
    const count = this.state.ok + this.state.fail + this.state.info;
    if (now > this.lastAt) this.rate = ((count - this.lastCount) * 1000) / (now - this.lastAt);
    this.lastCount = count;
    this.lastAt = now;
    if (this.tty) this.out.write(`\r\x1b[K${this.line()}`);
    else this.out.write(`${this.line()}\n`);
  }

  line(): string {
    const s = this.state;
    const elapsed = Math.round((Date.now() - this.t0) / 1000);
    return `[${s.phase}] ${elapsed}s/${this.totalSeconds}s  ${this.rate.toFixed(0)} ops/s  ok ${s.ok} fail ${s.fail} info ${s.info}  fault ${s.activeFault ?? '-'}  leader ${s.leader ?? '-'}`;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.tty && this.live) this.out.write(`\r\x1b[K${this.line()}\n`);
    this.live = false;
  }
}
