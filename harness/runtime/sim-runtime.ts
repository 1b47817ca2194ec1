/**
 * `--runtime sim`: the harness's Runtime (harness/runtime/runtime.ts) on the simulation
 * kernel. The system plugin's own command lines (`nodeProgram`) start real store nodes
 * (impl/node/start-node.ts on a SimPlatform) in this process, in virtual time, under one
 * seeded scheduler; the run's clients, nemesis schedule and history clock use the
 * simulation's clock and client links, so the whole run is a function of its seed.
 *
 * What the runtimes' seams map to here:
 *
 * - addressing: a node's host name is its id; it listens on 8000 (clients) and 7000 (peers)
 *   and reaches peer b at `b:7000` (`peerAddress(to) = { host: to, port }`); its data
 *   directory is `/data` on its machine's own SimDisk;
 * - NodeHandle: `kill` is SIGKILL, plus a power loss of the machine when the run has
 *   `--storage-fault-mode` (unsynced writes are gone, the last one maybe torn); without it
 *   only the process dies and written bytes survive, as a container's page cache does;
 *   `start` boots a new process from the disk; `pause`/`resume` hold and release its events;
 *   data files are read and written on its SimDisk;
 * - NetworkControl: a cut is one cut link (nothing `from` sends reaches `to`); the Toxiproxy
 *   toxics become link settings: `latency` → latency ± jitter, `bandwidth` → a bandwidth
 *   limit, `slicer` → the bandwidth its packet size and delay allow, `reset_peer` → the
 *   link's connection reset every `timeout` ms with probability `toxicity`, `timeout` → the
 *   link stalled (cut) for `timeout` ms and then reset, with probability `toxicity` per
 *   period; `healAll` removes every cut, setting and periodic toxic;
 * - `clock`: the simulation's virtual clock, `http`: the simulation's client links.
 *
 * The run must execute inside `runWithin` (Simulation.run): outside it nothing advances.
 */
import { HttpTransportError } from './http-transport.ts';
import type { HttpRequest, HttpResponse, HttpTransport, StreamOutcome } from './http-transport.ts';
import type { ClusterSpec, Link, LinkToxic, NetworkControl, NodeHandle, NodeId, NodeState, Runtime, StartedCluster } from './runtime.ts';
import type { NodeAddressing } from '../systems/system.ts';
import type { HarnessClock, Repeating } from '../time.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GuardOptions } from '../sim/guard.ts';
import { SimRandom } from '../sim/random.ts';
import { Simulation } from '../sim/simulation.ts';
import type { WireMode } from '../sim/sim-network.ts';

export const SIM_NODE_CLIENT_PORT = 8000;
export const SIM_NODE_PEER_PORT = 7000;
export const SIM_NODE_DATA_DIR = '/data';
/** The host the harness's clients run on (a network host like any node). */
export const SIM_CLIENT_HOST = 'client';

export interface SimRuntimeOptions {
  /** The run's seed: everything the simulation draws comes from it. */
  readonly seed: number;
  /** `--storage-fault-mode`: a kill is also a power loss of the node's machine. */
  readonly storageFaultMode?: boolean;
  /** How peer messages travel (harness/sim/README.md); default 'bytes' (the real codec). */
  readonly wire?: WireMode;
  /**
   * The real-I/O guard during the run. Default: everything guarded except file writes
   * and reads (the run writes its history, events and node logs into the results directory
   * as it goes, as on the other runtimes; node code has no path to node:fs, ESLint keeps it
   * on its Platform, so this cannot leak into what the nodes see).
   */
  readonly guard?: GuardOptions | false;
  /** Node log lines kept per node for `nodes/<id>.log` (newest). Default 20,000. */
  readonly logLines?: number;
}

export class SimRuntime implements Runtime {
  readonly name = 'sim' as const;
  readonly sim: Simulation;
  readonly clock: HarnessClock;
  private readonly storageFaultMode: boolean;
  private cluster: SimCluster | null = null;

  constructor(private readonly options: SimRuntimeOptions) {
    this.sim = new Simulation({
      seed: options.seed,
      guard: options.guard ?? { files: false },
      network: { wire: options.wire ?? 'bytes' },
      logLines: options.logLines ?? 20_000,
    });
    this.clock = this.sim.clock;
    this.storageFaultMode = options.storageFaultMode === true;
  }

  checkPrerequisites(): Promise<void> {
    return Promise.resolve();
  }

  versions(): Promise<Record<string, string>> {
    return Promise.resolve({ sim: `seeded kernel, wire ${this.options.wire ?? 'bytes'}` });
  }

  /** Nothing outlives a simulated run: there are no containers or processes to remove. */
  cleanupLeftovers(): Promise<string[]> {
    return Promise.resolve([]);
  }

  /** Run `fn` (the part of the run that talks to the cluster) in virtual time. */
  runWithin<T>(fn: () => Promise<T>): Promise<T> {
    return this.sim.run(fn);
  }

  async start(spec: ClusterSpec, log: (line: string) => void): Promise<StartedCluster> {
    if (this.cluster !== null) throw new Error('SimRuntime: one cluster per runtime (a Simulation is one run)');
    const ids = spec.nodeIds;
    const clientUrls = new Map(ids.map((id) => [id, `http://${id}:${SIM_NODE_CLIENT_PORT}`]));
    for (const id of ids) {
      const addr: NodeAddressing = {
        id,
        members: ids,
        dataDir: SIM_NODE_DATA_DIR,
        clientListen: { host: '0.0.0.0', port: SIM_NODE_CLIENT_PORT },
        peerListen: { host: '0.0.0.0', port: SIM_NODE_PEER_PORT },
        advertisedClientUrl: clientUrls.get(id) as string,
        clientUrls,
        peerAddress: (to) => ({ host: to, port: SIM_NODE_PEER_PORT }),
        advertisedPeer: (of) => ({ host: of, port: SIM_NODE_PEER_PORT }),
      };
      const program = spec.system.nodeProgram(addr);
      this.sim.addNode({ id, args: program.args, ...(program.env !== undefined ? { env: program.env } : {}) });
    }
    const cluster = new SimCluster(this.sim, spec.runId, ids, this.storageFaultMode, this.options.seed);
    this.cluster = cluster;
    log(`starting ${ids.length} ${spec.system.system.name} nodes in simulation (seed ${this.options.seed})`);
    await Promise.all(ids.map((id) => this.sim.start(id)));
    return cluster;
  }
}

class SimNodeHandle implements NodeHandle {
  readonly clientUrl: string;

  constructor(
    private readonly sim: Simulation,
    readonly id: NodeId,
    private readonly powerLossOnKill: boolean,
  ) {
    this.clientUrl = `http://${id}:${SIM_NODE_CLIENT_PORT}`;
  }

  get state(): NodeState {
    switch (this.sim.node(this.id).state) {
      case 'running':
      case 'starting':
        return 'running';
      case 'paused':
        return 'paused';
      case 'exited':
      case 'killed':
      case 'stopped':
        // Killed, exited on its own (a node that refused damaged files) or never started:
        // down, and the heal phase starts it again.
        return 'killed';
    }
  }

  kill(): Promise<void> {
    this.sim.kill(this.id, { powerLoss: this.powerLossOnKill });
    return Promise.resolve();
  }

  /**
   * Boot a new process from the disk. Resolves once it is launched, as a container start
   * does: a node that then fails to start (damaged files) shows as down, and says why in its log.
   */
  start(): Promise<void> {
    if (this.sim.node(this.id).process?.alive === true) return Promise.resolve();
    this.sim.start(this.id).catch(() => undefined);
    return Promise.resolve();
  }

  pause(): Promise<void> {
    const node = this.sim.node(this.id);
    if (node.process === null || !node.process.alive) return Promise.reject(new Error(`cannot pause ${this.id}: it is not running (${node.state})`));
    this.sim.pause(this.id);
    return Promise.resolve();
  }

  resume(): Promise<void> {
    this.sim.resume(this.id);
    return Promise.resolve();
  }

  listDataFiles(): Promise<readonly { readonly path: string; readonly size: number }[]> {
    return Promise.resolve(this.sim.node(this.id).disk.listFiles(SIM_NODE_DATA_DIR));
  }

  readDataFile(path: string): Promise<Buffer> {
    return Promise.resolve(this.sim.node(this.id).disk.readFile(dataPath(path)));
  }

  writeDataFile(path: string, data: Buffer): Promise<void> {
    this.sim.node(this.id).disk.writeFile(dataPath(path), data);
    return Promise.resolve();
  }
}

function dataPath(path: string): string {
  if (path.startsWith('/') || path.split('/').includes('..')) throw new Error(`data file path must stay inside the data directory: ${JSON.stringify(path)}`);
  return `${SIM_NODE_DATA_DIR}/${path}`;
}

/** The Toxiproxy nemeses' link controls on the simulated network. */
class SimLinks implements NetworkControl {
  private readonly periodic: Repeating[] = [];
  private readonly rng: SimRandom;

  constructor(
    private readonly sim: Simulation,
    seed: number,
  ) {
    this.rng = SimRandom.fromSeed(seed).fork('runtime/toxics');
  }

  cut(link: Link): Promise<void> {
    this.sim.network.cut(link.from, link.to);
    return Promise.resolve();
  }

  heal(link: Link): Promise<void> {
    this.sim.network.heal(link.from, link.to);
    return Promise.resolve();
  }

  addToxic(link: Link, name: string, toxic: LinkToxic): Promise<void> {
    const net = this.sim.network;
    const { from, to } = link;
    switch (toxic.type) {
      case 'latency':
        net.configure(from, to, { latencyMs: toxic.latencyMs, jitterMs: toxic.jitterMs });
        break;
      case 'bandwidth':
        net.configure(from, to, { bandwidthBytesPerSec: limit(net.linkState(from, to).settings.bandwidthBytesPerSec, toxic.rateKBps * 1024) });
        break;
      case 'slicer': {
        // Packets of about averageSize bytes, delayUs apart: at most that many bytes per second.
        const rate = (toxic.averageSize * 1e6) / Math.max(1, toxic.delayUs);
        net.configure(from, to, { bandwidthBytesPerSec: limit(net.linkState(from, to).settings.bandwidthBytesPerSec, rate) });
        break;
      }
      case 'reset_peer': {
        // Each connection is reset `timeoutMs` after it opens with probability `toxicity`;
        // the transport reconnects at once, so the link sees a reset draw every period.
        const rng = this.rng.fork(`${name}/${from}>${to}`);
        this.periodic.push(
          this.sim.clock.every(Math.max(1, toxic.timeoutMs), () => {
            if (rng.chance(toxic.toxicity)) net.reset(from, to);
          }),
        );
        break;
      }
      case 'timeout': {
        // A stalled connection: nothing gets through for `timeoutMs`, then it is closed and
        // the transport reconnects. Drawn per period with probability `toxicity`.
        const rng = this.rng.fork(`${name}/${from}>${to}`);
        let stalled = false;
        this.periodic.push(
          this.sim.clock.every(Math.max(1, toxic.timeoutMs), () => {
            if (stalled) {
              stalled = false;
              net.heal(from, to);
              net.reset(from, to);
            } else if (rng.chance(toxic.toxicity)) {
              stalled = true;
              net.cut(from, to);
            }
          }),
        );
        break;
      }
    }
    return Promise.resolve();
  }

  healAll(): Promise<void> {
    for (const p of this.periodic.splice(0)) p.cancel();
    this.sim.network.healAll();
    return Promise.resolve();
  }
}

function limit(current: number, rate: number): number {
  return current > 0 ? Math.min(current, rate) : rate;
}

/** The simulation's client links as the harness's HttpTransport (its errors are HttpTransportErrors). */
function simTransport(sim: Simulation): HttpTransport {
  const client = sim.client(SIM_CLIENT_HOST, (code, message) => new HttpTransportError(code, message));
  return {
    async request(req: HttpRequest): Promise<HttpResponse> {
      const res = await client.request(req);
      return { status: res.status, body: res.body };
    },
    stream(url: string, durationMs: number, onText: (text: string) => void): Promise<StreamOutcome> {
      return client.stream(url, durationMs, onText);
    },
  };
}

class SimCluster implements StartedCluster {
  readonly runtime = 'sim' as const;
  readonly nodes: readonly SimNodeHandle[];
  readonly network: SimLinks;
  readonly clock: HarnessClock;
  readonly http: HttpTransport;
  private tornDown = false;

  constructor(
    private readonly sim: Simulation,
    readonly runId: string,
    ids: readonly NodeId[],
    powerLossOnKill: boolean,
    seed: number,
  ) {
    this.nodes = ids.map((id) => new SimNodeHandle(sim, id, powerLossOnKill));
    this.network = new SimLinks(sim, seed);
    this.clock = sim.clock;
    this.http = simTransport(sim);
  }

  node(id: NodeId): SimNodeHandle {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`unknown node ${id}`);
    return n;
  }

  /** `<id>.log` (the node's JSON log lines, virtual timestamps) and `<id>.events.jsonl` (its role log, from its disk). */
  collectLogs(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    for (const n of this.nodes) {
      const node = this.sim.node(n.id);
      const lines = node.logLines();
      writeFileSync(join(dir, `${n.id}.log`), lines.length === 0 ? '' : `${lines.join('\n')}\n`);
      const events = node.disk.listFiles(SIM_NODE_DATA_DIR).find((f) => f.path === 'events.jsonl');
      if (events !== undefined) writeFileSync(join(dir, `${n.id}.events.jsonl`), node.disk.readFile(`${SIM_NODE_DATA_DIR}/events.jsonl`));
    }
    return Promise.resolve();
  }

  /** Every node's process ends (no power loss): nothing else exists outside this process. */
  teardown(): Promise<void> {
    if (this.tornDown) return Promise.resolve();
    this.tornDown = true;
    for (const n of this.nodes) {
      const node = this.sim.node(n.id);
      if (node.process !== null && node.process.alive) this.sim.kill(n.id, { powerLoss: false });
    }
    return Promise.resolve();
  }
}
