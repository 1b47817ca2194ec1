/**
 * The simulation's one source of time and ordering: an event queue in virtual milliseconds,
 * ordered by (time, sequence number), run one event at a time with the microtask queue
 * drained completely in between (pump.ts). Everything that happens later in a simulated
 * run — a timer, a disk write completing, a message arriving, a client's timeout — is an
 * event here, so a run is a deterministic function of its seed.
 *
 * Events belong to a process (a node's incarnation, or the harness). A killed process's
 * events are dropped; a paused one's are held, in order, and run when it resumes (a stopped
 * process runs none of its timers or I/O completions, and reads none of its sockets).
 */
import { RealIoGuard, type GuardOptions } from './guard.ts';
import { nextMacrotask } from './pump.ts';

/**
 * The real clock, captured before the guard replaces `performance.now` during a run. Only
 * EventCosts reads it: the wall time the kernel itself spends, which no simulated code sees.
 */
// eslint-disable-next-line no-restricted-globals -- the kernel's own wall time, for benchmarks; never visible to a run
const realNow = performance.now.bind(performance);

/**
 * Where a run's wall time goes, by kind of event (the `kind` callers give `at`/`after`): how
 * many ran and the wall milliseconds from the start of each to the start of the next, i.e.
 * the event and every promise continuation it caused. Off unless a benchmark sets
 * `Scheduler.costs` (two clock reads per event); nothing in a run can observe it.
 */
export class EventCosts {
  readonly byKind = new Map<string, { events: number; wallMs: number }>();

  add(kind: string, wallMs: number): void {
    const row = this.byKind.get(kind);
    if (row === undefined) this.byKind.set(kind, { events: 1, wallMs });
    else {
      row.events++;
      row.wallMs += wallMs;
    }
  }
}

export type ProcessState = 'running' | 'paused' | 'dead';

/** One simulated OS process (a node's incarnation, or the harness driving the run). */
export class SimProcess {
  state: ProcessState = 'running';
  /** Events that came due while paused, in the order they came due. */
  held: SimEvent[] = [];
  /**
   * What an exception thrown by one of this process's events does (a real process would
   * crash). Null: the whole run fails with it.
   */
  onUncaught: ((error: unknown) => void) | null = null;
  private readonly deathListeners: (() => void)[] = [];

  constructor(readonly name: string) {}

  get alive(): boolean {
    return this.state !== 'dead';
  }

  /** Run `fn` when the process dies (kill or exit); at once if it is dead already. */
  onDeath(fn: () => void): void {
    if (this.state === 'dead') fn();
    else this.deathListeners.push(fn);
  }

  /** @internal Called by the scheduler. */
  die(): void {
    if (this.state === 'dead') return;
    this.state = 'dead';
    this.held = [];
    for (const fn of this.deathListeners.splice(0)) fn();
  }
}

export interface SimEvent {
  readonly time: number;
  readonly seq: number;
  readonly fn: () => void;
  readonly owner: SimProcess;
  /** What the event is, for EventCosts ("peer append", "disk sync", "node timer", …). */
  readonly kind: string;
  cancelled: boolean;
}

export interface RunLimits {
  /** Stop once virtual time would pass this (ms). */
  readonly untilTime?: number;
  /** Stop after this many events (a bound on every run loop). Default 50,000,000. */
  readonly maxEvents?: number;
}

export class SimulationStalled extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulationStalled';
  }
}

const DEFAULT_MAX_EVENTS = 50_000_000;

export class Scheduler {
  private nowMs = 0;
  private seq = 0;
  private heap: SimEvent[] = [];
  private cancelledInHeap = 0;
  private running = false;
  private failure: unknown = null;
  /** Events run since the start (for benchmarks and progress). */
  eventsRun = 0;
  /** When set, every event's wall cost is added here by kind (benchmarks only). */
  costs: EventCosts | null = null;

  constructor(private readonly guardOptions: GuardOptions | false = {}) {}

  /** Virtual milliseconds since the simulation began. */
  get now(): number {
    return this.nowMs;
  }

  /** Schedule `fn` at virtual time `time` (not earlier than now) on behalf of `owner`. */
  at(time: number, fn: () => void, owner: SimProcess, kind = 'other'): SimEvent {
    if (!(time >= this.nowMs)) throw new RangeError(`cannot schedule at ${time} ms: it is ${this.nowMs} ms already`);
    const event: SimEvent = { time, seq: this.seq++, fn, owner, kind, cancelled: false };
    this.push(event);
    return event;
  }

  after(delayMs: number, fn: () => void, owner: SimProcess, kind = 'other'): SimEvent {
    return this.at(this.nowMs + Math.max(0, delayMs), fn, owner, kind);
  }

  cancel(event: SimEvent): void {
    if (event.cancelled) return;
    event.cancelled = true;
    this.cancelledInHeap++;
    // Proposal timeouts are set and cleared by the thousand: keep the heap from filling with them.
    if (this.cancelledInHeap > 1024 && this.cancelledInHeap * 2 > this.heap.length) this.compact();
  }

  /** Pause a process: its events are held until `resume`. */
  pause(process: SimProcess): void {
    if (process.state === 'running') process.state = 'paused';
  }

  /** Resume a paused process: what came due meanwhile runs now, in the order it came due. */
  resume(process: SimProcess): void {
    if (process.state !== 'paused') return;
    process.state = 'running';
    const held = process.held;
    process.held = [];
    for (const e of held) if (!e.cancelled) this.at(this.nowMs, e.fn, process, e.kind);
  }

  /** Kill a process: none of its pending or held events will run. */
  kill(process: SimProcess): void {
    process.die();
  }

  /** Record a failure that must end the run (a violation, an invariant broken inside an event). */
  fail(error: unknown): void {
    this.failure ??= error;
  }

  /**
   * Run events until `done()` is true (checked before each event, after the previous one's
   * microtasks drained), the limits are reached, or nothing is left to run. Rejects with the
   * first error an event threw, or with a SimulationViolation from the real-I/O guard.
   */
  run(done: () => boolean, limits: RunLimits = {}): Promise<void> {
    if (this.running) return Promise.reject(new Error('Scheduler.run: the simulation is already running'));
    this.running = true;
    const guard = this.guardOptions === false ? null : new RealIoGuard(this.guardOptions);
    const maxEvents = limits.maxEvents ?? DEFAULT_MAX_EVENTS;
    const untilTime = limits.untilTime ?? Number.POSITIVE_INFINITY;
    let events = 0;
    // EventCosts: the kind and start of the event whose microtasks are draining.
    let costKind: string | null = null;
    let costStart = 0;
    guard?.install();
    return new Promise<void>((resolve, reject) => {
      const finish = (error: unknown): void => {
        if (costKind !== null) this.costs?.add(costKind, realNow() - costStart);
        guard?.uninstall();
        this.running = false;
        if (error === null) resolve();
        else reject(error instanceof Error ? error : new Error(`simulation failed: ${JSON.stringify(error)}`));
      };
      const step = (): void => {
        if (costKind !== null) {
          this.costs?.add(costKind, realNow() - costStart);
          costKind = null;
        }
        try {
          const violation = guard?.violations[0];
          if (violation !== undefined) return finish(violation);
          if (this.failure !== null) return finish(this.failure);
          for (;;) {
            if (done()) return finish(null);
            if (events >= maxEvents) return finish(new SimulationStalled(`stopped after ${events} events at ${this.nowMs} ms without finishing`));
            const next = this.peek();
            if (next === undefined) {
              if (untilTime === Number.POSITIVE_INFINITY) return finish(new SimulationStalled(`nothing left to run at ${this.nowMs} ms, and the run is not done`));
              this.nowMs = untilTime;
              return finish(null);
            }
            if (next.time > untilTime) {
              this.nowMs = untilTime;
              return finish(null);
            }
            this.pop();
            if (next.cancelled) {
              this.cancelledInHeap--;
              continue;
            }
            const owner = next.owner;
            if (owner.state === 'dead') continue;
            if (owner.state === 'paused') {
              owner.held.push(next);
              continue;
            }
            this.nowMs = next.time;
            events++;
            this.eventsRun++;
            if (this.costs !== null) {
              costKind = next.kind;
              costStart = realNow();
            }
            try {
              next.fn();
            } catch (error) {
              if (owner.onUncaught === null) throw error;
              owner.onUncaught(error);
            }
            break;
          }
        } catch (error) {
          return finish(error);
        }
        nextMacrotask(step);
      };
      nextMacrotask(step);
    });
  }

  /** Run for `ms` of virtual time. */
  runFor(ms: number, limits: Omit<RunLimits, 'untilTime'> = {}): Promise<void> {
    return this.run(() => false, { ...limits, untilTime: this.nowMs + ms });
  }

  // ---- the heap: a binary min-heap on (time, seq) ----

  private static before(a: SimEvent, b: SimEvent): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  private peek(): SimEvent | undefined {
    return this.heap[0];
  }

  private push(event: SimEvent): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!Scheduler.before(event, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = event;
  }

  private pop(): SimEvent | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && Scheduler.before(heap[r]!, heap[l]!) ? r : l;
      if (!Scheduler.before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
    return top;
  }

  private compact(): void {
    const live = this.heap.filter((e) => !e.cancelled);
    live.sort((a, b) => (Scheduler.before(a, b) ? -1 : 1));
    this.heap = live;
    this.cancelledInHeap = 0;
  }
}
