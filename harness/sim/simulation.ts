/**
 * A whole store cluster in one process, in virtual time: the kernel a harness-level
 * SimRuntime builds on. Each node is the real node (impl/node/start-node.ts: the core, the
 * state machine, the driver, DiskStorage, the store's request handler) assembled on a
 * SimPlatform; its machine keeps a simulated disk and a drifting clock across restarts. The
 * harness's clients reach nodes through `client()` (simulated HTTP over the same network)
 * and wait on `clock` (virtual time). Faults: `kill` (power loss by default), `pause` /
 * `resume`, `start` again from the disk, `jumpClock` / `setClockRate`, and the network's
 * cuts, partitions, latency, loss, bandwidth and resets (`network`).
 *
 * Everything random comes from `seed`, forked per component by name (random.ts), and
 * everything that happens later is an event on `scheduler`: the same seed and the same
 * driving code give the same run, bit for bit (`trace.digest()`).
 */
import { parseConfig, type LogLevel, type NodeConfig } from '../../impl/node/config.ts';
import { createLogger } from '../../impl/node/log.ts';
import { startNode, type RunningNode } from '../../impl/node/start-node.ts';
import type { HarnessClock, Repeating } from '../time.ts';
import type { GuardOptions } from './guard.ts';
import { SimRandom, type Seed } from './random.ts';
import { Scheduler, SimProcess, type RunLimits } from './scheduler.ts';
import { SimDisk, type CrashReport, type DiskOptions } from './sim-fs.ts';
import { SimNetwork, SimHttpError, type ClientFailure, type ClientRequest, type ClientResponse, type NetworkOptions, type StreamOutcome } from './sim-network.ts';
import { SimMachineClock, SimPlatform } from './sim-platform.ts';
import { Trace } from './trace.ts';

export interface ClockBounds {
  /** Each machine's clock runs at 1 ± up to this many parts per million (drawn per machine). Default 200. */
  readonly maxDriftPpm?: number;
  /** Largest total wall-clock offset `jumpClock` may reach, ms. Default 60,000. */
  readonly maxOffsetMs?: number;
  /** Each machine's wall clock starts off by up to this many ms (drawn). Default 0. */
  readonly initialOffsetMs?: number;
}

export interface SimulationOptions {
  readonly seed: Seed;
  /** The real-I/O guard while running (guard.ts); false: off. Default: everything guarded. */
  readonly guard?: GuardOptions | false;
  /** Default settings of every link, and how peer messages travel (`wire`, default 'bytes'). */
  readonly network?: NetworkOptions;
  readonly disk?: DiskOptions;
  readonly clocks?: ClockBounds;
  /** Virtual wall-clock time at the start (Unix ms). Default 2024-01-01T00:00:00Z. */
  readonly epochMs?: number;
  /** Node log level (lines kept per node, see `logLines`). Default: each node's `--log-level`. */
  readonly logLevel?: LogLevel;
  /** Log lines kept per node, newest. Default 5,000. */
  readonly logLines?: number;
  /** Trace records kept readable (the hash covers all). Default 200. */
  readonly traceLines?: number;
}

export interface SimNodeSpec {
  readonly id: string;
  /** The node's command line (what the system plugin builds for every runtime). */
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export type SimNodeState = 'stopped' | 'starting' | 'running' | 'paused' | 'killed' | 'exited';

export interface KillOptions {
  /**
   * true (default): the machine loses power, so the disk keeps only what was durable plus a
   * torn prefix of what was not. false: only the process dies; written bytes survive (page cache).
   */
  readonly powerLoss?: boolean;
}

/** One node: its machine (disk, clock, log) and its current process, if any. */
export class SimNode {
  state: SimNodeState = 'stopped';
  process: SimProcess | null = null;
  running: RunningNode | null = null;
  /** Boots so far (each start is a new process). */
  boots = 0;
  /** How the last process ended: an exit code, or the error that stopped it. */
  exit: { readonly code: number; readonly error?: unknown } | null = null;
  /** What the last power loss did to files with unsynced writes. */
  lastCrash: readonly CrashReport[] = [];
  private readonly logRing: string[] = [];
  private logNext = 0;

  constructor(
    readonly id: string,
    readonly config: NodeConfig,
    readonly disk: SimDisk,
    readonly clock: SimMachineClock,
    private readonly maxLogLines: number,
  ) {}

  /** The client URL clients use: http://<id>:<client port>. */
  get clientUrl(): string {
    return `http://${this.id}:${this.config.clientPort}`;
  }

  /** The node's log, oldest kept line first. */
  logLines(): string[] {
    if (this.logRing.length < this.maxLogLines) return [...this.logRing];
    return [...this.logRing.slice(this.logNext), ...this.logRing.slice(0, this.logNext)];
  }

  /** @internal */
  log(line: string): void {
    if (this.logRing.length < this.maxLogLines) this.logRing.push(line);
    else this.logRing[this.logNext] = line;
    this.logNext = (this.logNext + 1) % this.maxLogLines;
  }
}

/** HTTP for the harness's clients, through the simulated network (the shape of harness/runtime/http-transport.ts). */
export interface SimHttpClient {
  request(req: ClientRequest): Promise<ClientResponse>;
  stream(url: string, durationMs: number, onText: (text: string) => void): Promise<StreamOutcome>;
}

/** 2024-01-01T00:00:00Z. */
export const DEFAULT_EPOCH_MS = 1_704_067_200_000;

export class Simulation {
  readonly scheduler: Scheduler;
  readonly network: SimNetwork;
  readonly trace: Trace;
  /** The harness's own process: clients, nemeses and the run's code act on its behalf. Never killed. */
  readonly harness = new SimProcess('harness');
  /** Virtual time for the harness (harness/time.ts's HarnessClock). */
  readonly clock: HarnessClock;
  private readonly rng: SimRandom;
  private readonly nodes = new Map<string, SimNode>();
  private readonly epochMs: number;

  constructor(private readonly options: SimulationOptions) {
    this.scheduler = new Scheduler(options.guard ?? {});
    this.rng = SimRandom.fromSeed(options.seed);
    this.trace = new Trace(options.traceLines ?? 200);
    this.network = new SimNetwork(this.scheduler, this.rng.fork('network'), this.trace, options.network);
    this.epochMs = options.epochMs ?? DEFAULT_EPOCH_MS;
    this.clock = virtualClock(this.scheduler, this.harness, this.epochMs);
  }

  /** Virtual milliseconds since the start. */
  get now(): number {
    return this.scheduler.now;
  }

  /** Add a node (not started): its machine gets a disk and a clock drawn from the seed. */
  addNode(spec: SimNodeSpec): SimNode {
    if (this.nodes.has(spec.id)) throw new Error(`node ${spec.id} exists already`);
    const config = parseConfig(spec.args, spec.env ?? {}, { checkDataDir: false });
    if (config.id !== spec.id) throw new Error(`node ${spec.id}: its command line says --id ${config.id}`);
    const machine = this.rng.fork(`machine/${spec.id}`);
    const bounds = this.options.clocks ?? {};
    const drift = (bounds.maxDriftPpm ?? 200) / 1e6;
    const clockRng = machine.fork('clock');
    const rate = 1 + clockRng.between(-drift, drift);
    const initialOffset = bounds.initialOffsetMs !== undefined && bounds.initialOffsetMs > 0 ? clockRng.between(-bounds.initialOffsetMs, bounds.initialOffsetMs) : 0;
    const clock = new SimMachineClock(this.scheduler, this.epochMs, rate, initialOffset);
    const disk = new SimDisk(spec.id, this.scheduler, machine.fork('disk'), this.options.disk);
    const node = new SimNode(spec.id, config, disk, clock, this.options.logLines ?? 5_000);
    this.nodes.set(spec.id, node);
    return node;
  }

  node(id: string): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id} (known: ${[...this.nodes.keys()].join(', ')})`);
    return node;
  }

  allNodes(): SimNode[] {
    return [...this.nodes.values()];
  }

  /**
   * Start node `id` (again) from its disk: a new process runs startNode on a new platform.
   * Resolves once it serves clients; rejects if it fails to start (storage that cannot be
   * recovered, say) or dies while starting. Call it while the simulation runs (`run`).
   */
  start(id: string): Promise<RunningNode> {
    const node = this.node(id);
    if (node.process !== null && node.process.alive) throw new Error(`node ${id} is running already (state ${node.state})`);
    node.boots++;
    const proc = new SimProcess(`${id}#${node.boots}`);
    node.process = proc;
    node.running = null;
    node.exit = null;
    node.state = 'starting';
    this.trace.record(`t=${this.now} start ${id} boot=${node.boots}`);
    const platform = new SimPlatform({
      host: id,
      process: proc,
      scheduler: this.scheduler,
      clock: node.clock,
      disk: node.disk,
      network: this.network,
      rng: this.rng.fork(`machine/${id}/boot/${node.boots}`),
    });
    const level = this.options.logLevel ?? node.config.logLevel;
    const logger = createLogger(id, level, (line) => node.log(line.endsWith('\n') ? line.slice(0, -1) : line), node.clock.wallMs);
    // A node's uncaught exception crashes its process, as it would a real one.
    proc.onUncaught = (error) => {
      logger.error('uncaught exception: the process crashes', { err: error });
      this.trace.record(`t=${this.now} crash ${id} ${String(error)}`);
      this.endProcess(node, proc, { code: 1, error });
    };
    return new Promise<RunningNode>((resolve, reject) => {
      let started = false;
      proc.onDeath(() => {
        if (!started) reject(new Error(`node ${id} died while starting${node.exit?.error instanceof Error ? `: ${node.exit.error.message}` : ''}`));
      });
      this.scheduler.after(
        0,
        () => {
          startNode(node.config, logger, platform).then(
            (running) => {
              if (!proc.alive) return;
              started = true;
              node.running = running;
              node.state = proc.state === 'paused' ? 'paused' : 'running';
              void running.done.then((code) => this.endProcess(node, proc, { code }));
              resolve(running);
            },
            (error: unknown) => {
              logger.error('failed to start', { err: error });
              this.trace.record(`t=${this.now} start-failed ${id} ${String(error)}`);
              this.endProcess(node, proc, { code: 1, error });
              reject(error instanceof Error ? error : new Error(String(error)));
            },
          );
        },
        proc,
      );
    });
  }

  /** SIGKILL (and, by default, a power loss of its machine). */
  kill(id: string, options: KillOptions = {}): void {
    const node = this.node(id);
    const powerLoss = options.powerLoss ?? true;
    const proc = node.process;
    if (proc !== null && proc.alive) {
      this.endProcess(node, proc, { code: 137 });
      node.state = 'killed';
    }
    if (powerLoss) node.lastCrash = node.disk.crash();
    this.trace.record(`t=${this.now} kill ${id} powerLoss=${powerLoss} ${JSON.stringify(node.lastCrash)}`);
  }

  /** SIGSTOP: the node's timers, I/O completions and arriving messages wait until `resume`. */
  pause(id: string): void {
    const node = this.node(id);
    if (node.process === null || !node.process.alive) throw new Error(`node ${id} is not running (state ${node.state})`);
    this.scheduler.pause(node.process);
    node.state = 'paused';
    this.trace.record(`t=${this.now} pause ${id}`);
  }

  /** SIGCONT. */
  resume(id: string): void {
    const node = this.node(id);
    if (node.process === null || node.process.state !== 'paused') return;
    this.scheduler.resume(node.process);
    node.state = node.running === null ? 'starting' : 'running';
    this.trace.record(`t=${this.now} resume ${id}`);
  }

  /** SIGTERM: a graceful shutdown (storage flushed and closed). */
  async stop(id: string): Promise<void> {
    const node = this.node(id);
    if (node.running === null || node.process === null || !node.process.alive) return;
    this.trace.record(`t=${this.now} stop ${id}`);
    await node.running.shutdown('SIGTERM');
  }

  /** Step node `id`'s wall clock by `ms` (bounded by `clocks.maxOffsetMs`). */
  jumpClock(id: string, ms: number): void {
    const node = this.node(id);
    const bound = this.options.clocks?.maxOffsetMs ?? 60_000;
    const after = node.clock.wallOffsetMs + ms;
    if (!Number.isFinite(ms) || Math.abs(after) > bound) {
      throw new RangeError(`jumpClock(${id}, ${ms}): the offset would be ${after} ms, beyond the bound of ±${bound} ms`);
    }
    node.clock.jump(ms);
    this.trace.record(`t=${this.now} clock-jump ${id} ${ms}`);
  }

  /** Change node `id`'s clock rate (1 = true time), within `clocks.maxDriftPpm`. */
  setClockRate(id: string, rate: number): void {
    const bound = (this.options.clocks?.maxDriftPpm ?? 200) / 1e6;
    if (!(Math.abs(rate - 1) <= bound)) throw new RangeError(`setClockRate(${id}, ${rate}): beyond 1 ± ${bound}`);
    this.node(id).clock.setRate(rate);
    this.trace.record(`t=${this.now} clock-rate ${id} ${rate}`);
  }

  /**
   * HTTP for clients on host `host` (links `host -> node` and back, cuttable like any other).
   * `makeError` builds the error a failed request rejects with (the harness passes its
   * HttpTransportError); default SimHttpError.
   */
  client(host = 'client', makeError: (code: ClientFailure, message: string) => Error = (code, message) => new SimHttpError(code, message)): SimHttpClient {
    return {
      request: (req) => this.network.request(host, this.harness, req, makeError),
      stream: (url, durationMs, onText) => this.network.stream(host, this.harness, url, durationMs, onText),
    };
  }

  /**
   * Run `main` (the harness's code: clients, nemeses, checks) in virtual time until it
   * settles, and return what it returned. Node processes run alongside.
   */
  async run<T>(main: () => Promise<T>, limits: RunLimits = {}): Promise<T> {
    let outcome: { ok: true; value: T } | { ok: false; error: unknown } | null = null;
    this.scheduler.after(
      0,
      () => {
        main().then(
          (value) => (outcome = { ok: true, value }),
          (error: unknown) => (outcome = { ok: false, error }),
        );
      },
      this.harness,
    );
    await this.scheduler.run(() => outcome !== null, limits);
    const settled = outcome as { ok: true; value: T } | { ok: false; error: unknown } | null;
    if (settled === null) throw new Error(`the simulation stopped at ${this.now} ms before the run finished`);
    if (!settled.ok) throw settled.error;
    return settled.value;
  }

  /** Let the cluster run for `ms` of virtual time with nothing else happening. */
  runFor(ms: number, limits: Omit<RunLimits, 'untilTime'> = {}): Promise<void> {
    return this.scheduler.runFor(ms, limits);
  }

  private endProcess(node: SimNode, proc: SimProcess, exit: { readonly code: number; readonly error?: unknown }): void {
    if (!proc.alive) return;
    node.exit = exit;
    node.running = null;
    node.state = exit.code === 137 ? 'killed' : 'exited';
    // In-flight traffic first: the resets the dying process's sockets send (below) must not be dropped with it.
    this.network.dropInFlight(node.id);
    this.scheduler.kill(proc);
  }
}

/** The harness's clock in virtual time: sleeps and timers are events of the harness process. */
function virtualClock(scheduler: Scheduler, harness: SimProcess, epochMs: number): HarnessClock {
  const after = (ms: number, fn: () => void): Repeating => {
    const event = scheduler.after(ms, fn, harness, 'harness timer');
    return { cancel: () => scheduler.cancel(event) };
  };
  return {
    now: () => scheduler.now,
    nowNs: () => BigInt(Math.round(scheduler.now * 1e6)),
    wallMs: () => epochMs + scheduler.now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        if (signal?.aborted === true) return resolve();
        const timer = after(ms, () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
        const onAbort = (): void => {
          timer.cancel();
          resolve();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
    after,
    every: (ms, fn) => {
      let current = scheduler.after(ms, tick, harness, 'harness timer');
      function tick(): void {
        current = scheduler.after(ms, tick, harness, 'harness timer');
        fn();
      }
      return { cancel: () => scheduler.cancel(current) };
    },
  };
}
