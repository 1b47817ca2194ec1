/**
 * A node's Platform (impl/node/platform.ts) in the simulation: its machine's clock (drifting
 * at its own rate, its wall clock jumping when told), timers on the scheduler in that
 * clock's time, a random stream forked per boot, the machine's simulated disk and the
 * simulated network. One SimPlatform per process: everything it schedules belongs to that
 * process, so killing the process cancels it and pausing it holds it.
 */
import type { HttpServing, PeerNetwork, Platform, PlatformClock, PlatformRandom, PlatformTimers, TimerHandle, LoopDelayStats } from '../../impl/node/platform.ts';
import type { StorageFs } from '../../impl/storage/storage-fs.ts';
import type { SimRandom } from './random.ts';
import type { Scheduler, SimEvent, SimProcess } from './scheduler.ts';
import type { SimDisk } from './sim-fs.ts';
import type { SimNetwork } from './sim-network.ts';

/**
 * A machine's clock. Local time runs at `rate` × true (virtual) time: monotonic =
 * anchorLocal + (now − anchorTrue) × rate. The wall clock is the epoch plus local time plus
 * an offset that jumps (NTP steps, an operator's `date -s`); the monotonic clock never jumps.
 */
export class SimMachineClock implements PlatformClock {
  private anchorTrue: number;
  private anchorLocal: number;
  private rateValue: number;
  private offsetMs: number;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly epochMs: number,
    rate: number,
    initialOffsetMs: number,
  ) {
    this.anchorTrue = scheduler.now;
    this.anchorLocal = 0;
    this.rateValue = rate;
    this.offsetMs = initialOffsetMs;
  }

  readonly monotonicMs = (): number => this.anchorLocal + (this.scheduler.now - this.anchorTrue) * this.rateValue;

  readonly wallMs = (): number => this.epochMs + this.monotonicMs() + this.offsetMs;

  get rate(): number {
    return this.rateValue;
  }

  /** The wall clock's offset from the epoch-aligned local clock (jumps accumulate here). */
  get wallOffsetMs(): number {
    return this.offsetMs;
  }

  /** Change the rate from now on (local time stays continuous). */
  setRate(rate: number): void {
    this.anchorLocal = this.monotonicMs();
    this.anchorTrue = this.scheduler.now;
    this.rateValue = rate;
  }

  /** Step the wall clock by `ms` (the monotonic clock is unaffected). */
  jump(ms: number): void {
    this.offsetMs += ms;
  }

  /** How much true time `localMs` of this clock takes. */
  trueDelay(localMs: number): number {
    return localMs / this.rateValue;
  }
}

interface SimTimer {
  event: SimEvent | null;
}

/** Timers on the scheduler, in the machine clock's time, owned by one process. */
export class SimTimers implements PlatformTimers {
  constructor(
    private readonly scheduler: Scheduler,
    private readonly owner: SimProcess,
    private readonly clock: SimMachineClock,
  ) {}

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: SimTimer = { event: null };
    timer.event = this.scheduler.after(
      this.delay(ms),
      () => {
        timer.event = null;
        fn();
      },
      this.owner,
      'node timer',
    );
    return timer as unknown as TimerHandle;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const timer: SimTimer = { event: null };
    const delay = this.delay(ms);
    // As Node does: the next run is scheduled from when this one starts.
    const fire = (): void => {
      timer.event = this.scheduler.after(delay, fire, this.owner, 'node timer');
      fn();
    };
    timer.event = this.scheduler.after(delay, fire, this.owner, 'node timer');
    return timer as unknown as TimerHandle;
  }

  clear(handle: TimerHandle): void {
    const timer = handle as unknown as SimTimer;
    if (timer.event !== null) this.scheduler.cancel(timer.event);
    timer.event = null;
  }

  /** Node's rule: a delay below 1 ms (or not a number) is 1 ms. */
  private delay(ms: number): number {
    return this.clock.trueDelay(ms >= 1 ? ms : 1);
  }
}

export class SimPlatform implements Platform {
  readonly clock: SimMachineClock;
  readonly timers: SimTimers;
  readonly random: PlatformRandom;
  readonly fs: StorageFs;
  readonly peers: PeerNetwork;
  readonly http: HttpServing;

  constructor(options: {
    readonly host: string;
    readonly process: SimProcess;
    readonly scheduler: Scheduler;
    readonly clock: SimMachineClock;
    readonly disk: SimDisk;
    readonly network: SimNetwork;
    readonly rng: SimRandom;
  }) {
    const { host, process, network } = options;
    this.clock = options.clock;
    this.timers = new SimTimers(options.scheduler, process, options.clock);
    const rng = options.rng;
    this.random = { uint32: () => rng.uint32() };
    this.fs = options.disk.view(process);
    this.peers = { open: (endpointOptions) => Promise.resolve(network.openPeer(host, process, endpointOptions)) };
    this.http = { listen: (handler, port) => Promise.resolve(network.listenHttp(host, process, handler, port)) };
  }

  /** Event-loop delay means nothing in virtual time. */
  loopDelay(): LoopDelayStats | null {
    return null;
  }
}
