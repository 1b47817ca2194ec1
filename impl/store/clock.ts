/**
 * A node clock that tests can skew (`POST /v1/test/clock`, with --enable-fault-injection).
 *
 * Reads a base millisecond source (the node passes its platform's monotonic clock shifted to
 * the epoch, so it tracks wall time but never jumps by itself; the default is the real one,
 * performance.timeOrigin + performance.now()) and adds
 *  - a fixed offset (`setOffset`), and
 *  - optionally a strobe: for `durationMs` from when it was set, the clock alternates every
 *    `periodMs` between `offset + strobeMs` and `offset` — Jepsen's clock strobing, which
 *    makes the clock jump forward and back repeatedly. Computed from the base time on
 *    every read, so it needs no timers.
 */
import type { Clock } from '../node/contracts.ts';
import { realMonotonicEpochMs } from '../node/real-time.ts';

export interface ClockStrobe {
  /** Size of each jump in ms (may be negative). */
  readonly strobeMs: number;
  /** How long each half of the square wave lasts, ms (> 0). */
  readonly periodMs: number;
  /** How long strobing lasts, ms (> 0). */
  readonly durationMs: number;
}

export interface SkewState {
  readonly offsetMs: number;
  readonly strobe: (ClockStrobe & { readonly startedAtBaseMs: number }) | null;
}

export class SkewableClock implements Clock {
  private offsetMs = 0;
  private strobe: (ClockStrobe & { readonly startedAtBaseMs: number }) | null = null;

  constructor(private readonly base: () => number = realMonotonicEpochMs) {}

  now(): number {
    const t = this.base();
    return t + this.offsetMs + this.strobeOffsetAt(t);
  }

  /** The unskewed base time. */
  baseNow(): number {
    return this.base();
  }

  /** Replace the fixed offset (0 restores the base clock, apart from a running strobe). */
  setOffset(offsetMs: number): void {
    if (!Number.isFinite(offsetMs)) throw new RangeError(`offsetMs must be a finite number, got ${offsetMs}`);
    this.offsetMs = offsetMs;
  }

  /** Start strobing now, replacing any strobe in progress. */
  startStrobe(strobe: ClockStrobe): void {
    if (!Number.isFinite(strobe.strobeMs)) throw new RangeError(`strobeMs must be a finite number, got ${strobe.strobeMs}`);
    if (!(strobe.periodMs > 0)) throw new RangeError(`periodMs must be > 0, got ${strobe.periodMs}`);
    if (!(strobe.durationMs > 0)) throw new RangeError(`durationMs must be > 0, got ${strobe.durationMs}`);
    this.strobe = { ...strobe, startedAtBaseMs: this.base() };
  }

  /** Remove offset and strobe. */
  reset(): void {
    this.offsetMs = 0;
    this.strobe = null;
  }

  state(): SkewState {
    return { offsetMs: this.offsetMs, strobe: this.strobe };
  }

  private strobeOffsetAt(t: number): number {
    const s = this.strobe;
    if (s === null) return 0;
    const elapsed = t - s.startedAtBaseMs;
    if (elapsed < 0 || elapsed >= s.durationMs) return 0;
    return Math.floor(elapsed / s.periodMs) % 2 === 0 ? s.strobeMs : 0;
  }
}
