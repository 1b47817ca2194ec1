/**
 * The seam between the harness and whatever runs the cluster. `docker` and `local` implement
 * it today; an in-process simulated runtime can implement it later, because nothing here
 * names a container, a process or a port: only nodes, links between them, and what a nemesis
 * may do to each.
 */

export type NodeId = string;

/** Everything a runtime needs to bring a cluster up. */
export interface ClusterSpec {
  /** Unique per run; every container, network, volume and process carries it as a label. */
  readonly runId: string;
  readonly nodeIds: readonly NodeId[];
  readonly clusterSecret: string;
  /** `--unsafe` names passed through to every node (impl/API.md). */
  readonly unsafe: readonly string[];
  /** Start nodes with `--enable-fault-injection` (needed by the clock nemesis). */
  readonly enableFaultInjection: boolean;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Extra `--flag value` pairs for every node (tick, election ticks...). */
  readonly extraNodeArgs: readonly string[];
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
  /** Drop everything on a→b: open connections are closed and new ones refused. */
  cut(link: Link): Promise<void>;
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
  readonly state: NodeState;
  /** SIGKILL: the process dies without flushing anything. */
  kill(): Promise<void>;
  /** Start a killed node again on the same data directory. */
  start(): Promise<void>;
  /** SIGSTOP (or container pause). */
  pause(): Promise<void>;
  /** SIGCONT (or container unpause). */
  resume(): Promise<void>;
}

export interface StartedCluster {
  readonly runId: string;
  readonly runtime: RuntimeName;
  readonly nodes: readonly NodeHandle[];
  readonly network: NetworkControl;
  node(id: NodeId): NodeHandle;
  /** Copy node logs (`<id>.log`) and event logs (`<id>.events.jsonl`) into `dir`. */
  collectLogs(dir: string): Promise<void>;
  /** Remove every container, network, volume and process of this run. Idempotent. */
  teardown(): Promise<void>;
}

export type RuntimeName = 'docker' | 'local';

export interface Runtime {
  readonly name: RuntimeName;
  /** Throws PrerequisiteError naming what is missing and how to get it. */
  checkPrerequisites(): Promise<void>;
  start(spec: ClusterSpec, log: (line: string) => void): Promise<StartedCluster>;
  /** Versions of what runs the cluster (engine, Toxiproxy), for run.json. */
  versions(): Promise<Record<string, string>>;
  /** Remove whatever runs of this runtime left behind (by label); returns what was removed. */
  cleanupLeftovers(runId?: string): Promise<string[]>;
}

/** A missing prerequisite: the CLI exits 69 with this message. */
export class PrerequisiteError extends Error {
  override readonly name = 'PrerequisiteError';
}

export const LABEL = 'jepsen-ts';
export const RUN_LABEL = 'jepsen-ts.run';
