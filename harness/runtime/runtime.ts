/**
 * The seam between the harness and whatever runs the cluster. `docker` and `local` run real
 * processes behind Toxiproxy; `sim` runs the store in one process in virtual time. Nothing
 * here names a container, a process or a port: only nodes, links between them, what a
 * nemesis may do to each, and the clock and client network the run must use. What a node
 * runs comes from the system under test (harness/systems/system.ts).
 */
import type { PreparedSystem } from '../systems/system.ts';
import type { HarnessClock } from '../time.ts';
import type { HttpTransport } from './http-transport.ts';
import { PrerequisiteError } from '../errors.ts';

export { PrerequisiteError };

export type NodeId = string;

/** Everything a runtime needs to bring a cluster up. */
export interface ClusterSpec {
  /** Unique per run; every container, network, volume and process carries it as a label. */
  readonly runId: string;
  readonly nodeIds: readonly NodeId[];
  /** The system under test, prepared: its image or program and each node's command line. */
  readonly system: PreparedSystem;
}

/** A directed link a→b: what node `from` uses to reach node `to`. */
export interface Link {
  readonly from: NodeId;
  readonly to: NodeId;
}

/** A Toxiproxy toxic, as the nemeses ask for it. */
export type LinkToxic =
  | { readonly type: 'latency'; readonly latencyMs: number; readonly jitterMs: number }
  | { readonly type: 'bandwidth'; readonly rateKBps: number }
  | { readonly type: 'slicer'; readonly averageSize: number; readonly sizeVariation: number; readonly delayUs: number }
  | { readonly type: 'reset_peer'; readonly timeoutMs: number; readonly toxicity: number }
  | { readonly type: 'timeout'; readonly timeoutMs: number; readonly toxicity: number };

/** Control over the links between nodes (peer links only; client links are never cut). */
export interface NetworkControl {
  /**
   * Nothing `from` sends reaches `to` (one way, at the byte level, on connections either side
   * opened), until healed; the other direction still flows. Cut both for a full partition.
   */
  cut(link: Link): Promise<void>;
  /** Undo `cut(link)` alone: the other direction, other links and every toxic stay as they are. */
  heal(link: Link): Promise<void>;
  /** Add a toxic to a→b, in both stream directions of that link's connections. */
  addToxic(link: Link, name: string, toxic: LinkToxic): Promise<void>;
  /** Restore every link: re-enable, remove every toxic. */
  healAll(): Promise<void>;
}

export type NodeState = 'running' | 'killed' | 'paused';

export interface NodeHandle {
  readonly id: NodeId;
  /** Base URL clients use for this node, through its client proxy (e.g. http://127.0.0.1:32768). */
  readonly clientUrl: string;
  /** Base URL of the system's control port on this node (PreparedSystem.containerPorts.control), when it has one. */
  readonly controlUrl?: string | undefined;
  readonly state: NodeState;
  /** SIGKILL: the process dies without flushing anything. */
  kill(): Promise<void>;
  /** Start a killed node again on the same data directory. */
  start(): Promise<void>;
  /**
   * Wait up to `timeoutMs` for the node's process to end by itself (a failpoint's panic);
   * true if it did (the node is then `killed`, and `start` brings it back).
   */
  waitForExit?(timeoutMs: number): Promise<boolean>;
  /** SIGSTOP (or container pause). */
  pause(): Promise<void>;
  /** SIGCONT (or container unpause). */
  resume(): Promise<void>;
  /** Regular files under the node's data directory (paths relative to it), for the file-corruption nemeses. */
  listDataFiles(): Promise<readonly { readonly path: string; readonly size: number }[]>;
  readDataFile(path: string): Promise<Buffer>;
  /** Replace a data file's contents (the node must be killed first). */
  writeDataFile(path: string, data: Buffer): Promise<void>;
}

export interface StartedCluster {
  readonly runId: string;
  readonly runtime: RuntimeName;
  readonly nodes: readonly NodeHandle[];
  readonly network: NetworkControl;
  node(id: NodeId): NodeHandle;
  /** The clock the run must use with this cluster (virtual in simulation). */
  readonly clock: HarnessClock;
  /** How HTTP clients reach the nodes' client URLs (real sockets, or in-process links in simulation). */
  readonly http: HttpTransport;
  /** Copy node logs (`<id>.log`) and event logs (`<id>.events.jsonl`) into `dir`. */
  collectLogs(dir: string): Promise<void>;
  /** Remove every container, network, volume and process of this run. Idempotent. */
  teardown(): Promise<void>;
}

export type RuntimeName = 'docker' | 'local' | 'sim';

export interface Runtime {
  readonly name: RuntimeName;
  /** The clock runs on this runtime use (virtual in simulation). */
  readonly clock: HarnessClock;
  /** Throws PrerequisiteError naming what is missing and how to get it. */
  checkPrerequisites(): Promise<void>;
  start(spec: ClusterSpec, log: (line: string) => void): Promise<StartedCluster>;
  /** Versions of what runs the cluster (engine, Toxiproxy), for run.json. */
  versions(): Promise<Record<string, string>>;
  /** Remove whatever runs of this runtime left behind (by label); returns what was removed. */
  cleanupLeftovers(runId?: string): Promise<string[]>;
  /**
   * Run `fn` (everything of a run that talks to the cluster: start, clients, faults,
   * collection, teardown) where the cluster lives. Absent: call it directly (real processes
   * run on their own). The simulation runs it inside its scheduler, in virtual time.
   */
  runWithin?<T>(fn: () => Promise<T>): Promise<T>;
}


export const LABEL = 'jepsen-ts';
export const RUN_LABEL = 'jepsen-ts.run';
