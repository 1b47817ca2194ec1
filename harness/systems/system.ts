/**
 * The system-under-test seam (Jepsen's DB and Client protocols, in this project's words).
 * A system is a plugin with two halves:
 *
 * - how to run a node of it: the program and its flags per node (given the addresses the
 *   runtime assigns), its data directory and data files, how to ask a node for its role,
 *   term and leader, and what to collect at the end (consistency digests, role logs);
 * - a client (`workloads/client.ts`) that performs the harness's abstract operations on it,
 *   one attempt each, classifying every outcome as ok, fail or info.
 *
 * Optional hooks give the nemeses what only the system knows how to do (skew its clock,
 * change its membership, run its maintenance operations). What a system lacks it says in
 * `supports`, and the harness refuses, at start-up with exit 64, a workload, nemesis, runtime
 * or flag that needs more, naming what is missing: never a silent no-op.
 *
 * A third system is one new folder under harness/systems/ and one line in
 * harness/systems/index.ts; see harness/systems/README.md ("testing your own system").
 */
import type { NodeEvent } from '../../checkers/history/types.ts';
import type { ClientOptions, OpName, ReadConsistency, SystemClient } from '../../workloads/client.ts';
import type { NodeHandle, NodeId, RuntimeName, StartedCluster } from '../runtime/runtime.ts';

/** Capabilities a nemesis or flag may need from a system. */
export type SystemFeature =
  /** A clock the harness can skew per node (the `clock` nemesis). */
  | 'clock'
  /** Members removed and added back while running (the `membership` nemesis). */
  | 'membership'
  /** Maintenance operations on demand (the `admin` nemesis). */
  | 'admin'
  /** Named data files to corrupt on a stopped node (the `bitflip` and `truncate` nemeses). */
  | 'data-files'
  /** Losing unsynced writes on a kill (`--storage-fault-mode`). */
  | 'storage-fault-mode'
  /** Deliberately broken modes (`--unsafe`). */
  | 'unsafe'
  /** A retrying client library (`--client retrying`). */
  | 'retrying-client'
  /** Failpoints compiled into the nodes, armed over HTTP (the `failpoint` nemesis; etcd's gofail). */
  | 'failpoints';

export interface SystemSupport {
  readonly ops: ReadonlySet<OpName>;
  readonly runtimes: ReadonlySet<RuntimeName>;
  readonly features: ReadonlySet<SystemFeature>;
  readonly readConsistency: ReadonlySet<ReadConsistency>;
  /** `--unsafe` switch names the system accepts. */
  readonly unsafe: readonly string[];
}

/** Where the runtime put a node: what it listens on, how it reaches each peer, what it advertises. */
export interface NodeAddressing {
  readonly id: NodeId;
  /** Every initial member, this node included, in order. */
  readonly members: readonly NodeId[];
  /** The node's data directory (inside its container, or on the host for `local`). */
  readonly dataDir: string;
  /** Client API: listen here. */
  readonly clientListen: { readonly host: string; readonly port: number };
  /** Peer traffic: listen here. */
  readonly peerListen: { readonly host: string; readonly port: number };
  /** The client URL the harness uses for this node (through its client proxy). */
  readonly advertisedClientUrl: string;
  /** The client URL the harness uses for each member (leader hints name these). */
  readonly clientUrls: ReadonlyMap<NodeId, string>;
  /**
   * How this node reaches peer `to`: through the link's proxy. For systems whose members
   * advertise one peer address each (`peerAddressing: 'advertised'`) this is the same for
   * every source (the runtime intercepts per source node), and equals `advertisedPeer(to)`.
   */
  peerAddress(to: NodeId): { readonly host: string; readonly port: number };
  /** The peer address node `id` advertises to the others (systems with `peerAddressing: 'advertised'`). */
  advertisedPeer(id: NodeId): { readonly host: string; readonly port: number };
}

/** One node's command line: arguments after the program, and extra environment. */
export interface NodeProgram {
  readonly args: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

/** What a node says of itself, for the election checker, progress line and nemeses. */
export interface NodeStatusSample {
  readonly role: string;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  /** True when `term` is the node's last applied entry's term rather than its current term (etcd's Status). */
  readonly termIsApplied?: boolean;
}

/** Options common to every system's run (from the CLI), beyond the client's. */
export interface SystemRunOptions {
  readonly nodeIds: readonly NodeId[];
  readonly clusterSecret: string;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly unsafe: readonly string[];
  readonly storageFaultMode: boolean;
  /** The nodes' snapshot interval in entries, when the system has one (the store: --snapshot-entries; etcd: --snapshot-count). */
  readonly snapshotEntries?: number;
  /** Start nodes with their fault-injection hooks on (needed by the clock nemesis). */
  readonly enableFaultInjection: boolean;
  /** System-specific options by name (e.g. etcd's `etcdBin`), validated by the system. */
  readonly systemOptions: Readonly<Record<string, string>>;
}

/** What a finished run collected from the nodes (before teardown), for the checkers. */
export interface Collected {
  readonly events: readonly NodeEvent[];
  /** What could not be collected and why (the replicas checker's verdict says so). */
  readonly problems: readonly string[];
}

/** A system ready to run: images or programs built, options validated. */
export interface PreparedSystem {
  readonly system: System;
  /** How nodes learn peer addresses: one address per (source, peer) pair, or one advertised address per member. */
  readonly peerAddressing: 'per-peer' | 'advertised';
  /** Docker: the image whose entrypoint is the node program. */
  readonly image?: string;
  /** Local runtime: the program and its leading arguments (e.g. `node dist/store-node.mjs`). */
  readonly localCommand?: readonly string[];
  /**
   * Ports inside a container (docker). Local runtimes assign their own. `control`: a port the
   * harness reaches on every node beside the client API, never through a faulted link (etcd's
   * gofail endpoint); the node's `controlUrl` points at it.
   */
  readonly containerPorts: { readonly client: number; readonly peer: number; readonly control?: number };
  /** Data directory inside a container (docker). */
  readonly containerDataDir: string;
  /** Versions for run.json and the report (e.g. `{ etcd: "3.4.23" }`). */
  readonly versions: Readonly<Record<string, string>>;
  /** The command line of one node. */
  nodeProgram(addr: NodeAddressing): NodeProgram;
  /** Failpoints in the nodes (the `failpoint` nemesis), when the nodes were built and started with them. */
  readonly failpoints?: FailpointControl;
  /** Ask one node for its role, term and leader (null when it does not answer in time). */
  status(node: NodeHandle, timeoutMs: number, cluster: StartedCluster): Promise<NodeStatusSample | null>;
  /** A client for one logical process, bound first to `node`. */
  openClient(process: number, node: NodeHandle, options: ClientOptions, cluster: StartedCluster): SystemClient;
  /**
   * After the run, with every node healed and running: consistency digests (the store's
   * applied-log digests; etcd's hash of the key space at one revision) and the nodes' own
   * role logs (read from `logsDir`, where the runtime put the collected logs).
   */
  collect(cluster: StartedCluster, logsDir: string, history: HistoryClock): Promise<Collected>;
  /** The `clock` nemesis (feature `clock`): skew one node's clock, or reset it to 0. */
  readonly clock?: ClockHook;
  /** The `membership` nemesis (feature `membership`). */
  readonly membership?: MembershipHook;
  /** The `admin` nemesis (feature `admin`): the system's own maintenance operation(s) on one node; resolves with what was done. */
  readonly admin?: (node: NodeHandle, cluster: StartedCluster, choose: (n: number) => number) => Promise<unknown>;
  /** Data files to corrupt (feature `data-files`), as regular expressions on paths relative to the data directory. */
  readonly dataFiles?: { readonly log: readonly RegExp[]; readonly snapshot: readonly RegExp[] };
}

/** The history's clock, for timestamping collected events: wall-clock start, and nanoseconds since it. */
export interface HistoryClock {
  readonly startedAtMs: number;
  now(): number;
}

export type ClockChange = { readonly offsetMs: number } | { readonly strobeMs: number; readonly periodMs: number; readonly durationMs: number };

export interface ClockHook {
  set(node: NodeHandle, change: ClockChange, cluster: StartedCluster): Promise<unknown>;
}

export interface MembershipHook {
  /** Remove `target` through the leader; resolves with what the system answered. */
  remove(cluster: StartedCluster, leader: NodeHandle, target: NodeId): Promise<{ readonly ok: boolean; readonly detail: unknown }>;
  /** Add `target` back (its data may have to be wiped first, as the system requires). */
  add(cluster: StartedCluster, leader: NodeHandle, target: NodeId): Promise<{ readonly ok: boolean; readonly detail: unknown }>;
}

/**
 * A node's failpoints (etcd: gofail, as its robustness tests use them): named points in the
 * server's code that do something when armed: `panic` (the process crashes at exactly that
 * point, e.g. after acknowledging a write and before saving it) or `sleep(ms)` (that step
 * becomes slow: a slow disk on one member).
 */
export interface FailpointControl {
  /** The failpoints the node's binary has, and that the nemesis may arm (in a fixed order). */
  available(node: NodeHandle, timeoutMs: number): Promise<readonly string[]>;
  /** True when the user named the failpoints to arm: the nemesis then draws even those ordinary traffic never reaches. */
  readonly named: boolean;
  /** `action`: gofail's term: `panic`, or `sleep(ms)` each time the failpoint is reached. */
  arm(node: NodeHandle, name: string, action: string, timeoutMs: number): Promise<void>;
  disarm(node: NodeHandle, name: string, timeoutMs: number): Promise<void>;
  /**
   * How to make a node reach `name` when ordinary traffic does not (etcd: a defragmentation
   * for `defrag*`), as etcd's robustness tests' triggers do; null when the system has none.
   * The trigger resolves with what it did once the call returned or failed (a panic at the
   * failpoint cuts the call off, which is the point).
   */
  triggerFor?(name: string): ((node: NodeHandle, timeoutMs: number) => Promise<string>) | null;
}

export interface System {
  readonly name: string;
  readonly description: string;
  readonly supports: SystemSupport;
  /**
   * Check system-specific options before anything starts (throw UsageError naming what is
   * wrong: exit 64), e.g. that `--etcd-bin` is an etcd server.
   */
  readonly checkOptions?: (systemOptions: Readonly<Record<string, string>>, run: { readonly faultInjection: boolean }) => void;
  /** Names of the system-specific CLI options it reads from `systemOptions` (for --help). */
  readonly optionHelp?: Readonly<Record<string, string>>;
  /**
   * Fetch or build, once, what runs with these options will need and may take minutes to get
   * (etcd: the release `--etcd-version` names), with progress on `log`; a batch of runs (the
   * nightly) calls it before the first run, so a missing toolchain stops it at once (exit 69)
   * and no run sits silent while it builds. `prepare` must still work without it.
   */
  readonly preflight?: (systemOptions: Readonly<Record<string, string>>, log: (line: string) => void, run: { readonly faultInjection: boolean }) => Promise<void>;
  /**
   * Validate options and build what the runtime needs (images, bundles). Throws UsageError
   * (exit 64) for bad options, PrerequisiteError (exit 69) for something missing.
   */
  prepare(runtime: RuntimeName, options: SystemRunOptions, log: (line: string) => void): Promise<PreparedSystem>;
}
