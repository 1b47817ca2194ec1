/**
 * The abstract operations every workload speaks, and that every system's client performs
 * (Jepsen's Client protocol, in this project's words). A workload never names a URL, a route
 * or a wire format: it calls these methods; a system (harness/systems/<name>/) turns each call
 * into exactly one attempt on the real system and classifies what happened:
 *
 * - `ok`: it happened, and `value` says what the system answered;
 * - `fail`: it definitely did not happen (a refusal the system documents as definite, a
 *   connection that was refused before anything was sent, a failed precondition);
 * - `info`: it may have happened (a timeout, a lost connection, lost leadership): when in
 *   doubt, `info`. Reads change nothing, so a client reports an indefinite read as `fail`.
 *
 * One attempt per call: no hidden retries (a client may follow a leader redirect only when the
 * system says the first node did not act on the request, which keeps the one attempt).
 */

/** How a read is served: `linearizable` (through consensus) or `serializable` (a member's local state, possibly stale). */
export type ReadConsistency = 'linearizable' | 'serializable';
export const READ_CONSISTENCIES: readonly ReadConsistency[] = ['linearizable', 'serializable'];

/** Why an operation failed or may have failed. `code` is a short stable name ("timeout", "version-conflict"). */
export interface OpError {
  readonly code: string;
  /** HTTP status or gRPC code, when the system answered with one. */
  readonly status?: number | string;
  readonly message?: string;
  /** On `version-conflict` / `key-exists`: the key's version as the system reported it (0 = absent). */
  readonly currentVersion?: number;
  /** On `version-conflict`: the key's modification revision, for systems that compare on it. */
  readonly currentModRevision?: number;
}

export type OpResult<T> =
  | { readonly type: 'ok'; readonly value: T; readonly node?: string }
  | { readonly type: 'fail' | 'info'; readonly error: OpError; readonly node?: string };

/** A key's value with its per-key version (1 after creation, +1 per write, absent = 0) and revisions, when the system has them. */
export interface Versioned {
  readonly value: unknown;
  readonly version: number;
  /** The system-wide revision of the key's last modification (etcd's mod_revision). */
  readonly modRevision?: number;
  readonly createRevision?: number;
}

/**
 * A write's precondition. `absent`: the key must not exist. `{version, modRevision?}`: the key
 * must be exactly as last seen; a system compares whichever it documents for optimistic
 * concurrency (the store: version; etcd: mod_revision when known), and the history records
 * `version` (what the checkers' models speak).
 */
export type Precondition = 'absent' | { readonly version: number; readonly modRevision?: number };

export interface WriteResult {
  /** The key's version after the write. */
  readonly version: number;
  readonly modRevision?: number;
}

export interface RangeItem {
  readonly key: string;
  readonly value: unknown;
  readonly version: number;
  readonly modRevision?: number;
}

/** One change delivered by a watch. */
export type WatchEvent = KeyChangeEvent | ProgressEvent;

export interface KeyChangeEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly value?: unknown;
  readonly revision: number;
  readonly version?: number;
}

/** A progress notification, where it came in the stream: every event up to `revision` was sent before it. */
export interface ProgressEvent {
  readonly type: 'progress';
  readonly revision: number;
}

export interface WatchOutcome {
  readonly events: readonly WatchEvent[];
  /** The highest revision the system said the watcher was up to date with (progress notification), if any. */
  readonly progressRevision?: number;
  /**
   * The start revision was compacted: the system refused the watch, the events before this
   * revision are gone, and a watch may start from it (etcd: the compact revision; the store:
   * its compactRevision + 1). Systems say it in their own words; this is the one the
   * workloads resume from and the watch checker excuses below.
   */
  readonly compacted?: number;
  /** Why the stream ended before `durationMs`, if it did. */
  readonly error?: string;
}

/** A delete's result: `revision` is the store revision the delete made, when the system says. */
export interface DeleteResult {
  readonly deleted: true;
  readonly revision?: number;
}

export interface LeaseGrant {
  /** The fencing token: strictly increasing per lease name across grants (the store: grant revision; etcd: the lock key's create_revision). */
  readonly token: number | string;
  readonly ttlMs?: number;
}

/** One micro-operation of a transaction (Jepsen's list-append: `append` to a list, `r` to read it). */
export type MicroOp = readonly ['append', string, number] | readonly ['r', string, readonly number[] | null];

export type OpName =
  | 'read'
  | 'put'
  | 'create'
  | 'delete'
  | 'range'
  | 'set-add'
  | 'set-read'
  | 'lease-acquire'
  | 'lease-renew'
  | 'lease-release'
  | 'watch'
  | 'txn-append';

/**
 * What one logical client process can ask of the system. A system's client implements the
 * methods for the operations its system supports (`System.supports.ops`); the harness refuses
 * a workload whose `requires` the system lacks, at start-up, so the others are never called.
 */
export interface SystemClient {
  /** The node this client talks to first (the history's `node` when the result names none). */
  readonly node: string;
  read(key: string): Promise<OpResult<Versioned | null>>;
  put(key: string, value: unknown, precondition?: Precondition): Promise<OpResult<WriteResult>>;
  /** Create only if absent (`fail` with `key-exists` otherwise). */
  create(key: string, value: unknown): Promise<OpResult<WriteResult>>;
  /** Delete (only if present, `fail` with `not-found` otherwise), optionally only at a version. */
  delete(key: string, precondition?: Precondition): Promise<OpResult<DeleteResult>>;
  /** Every key with `prefix`, in key order. */
  range(prefix: string): Promise<OpResult<readonly RangeItem[]>>;
  /** Add a unique element to the set `name`. */
  setAdd(name: string, element: number): Promise<OpResult<number>>;
  /** Every element of the set `name`, ascending. */
  setRead(name: string): Promise<OpResult<readonly number[]>>;
  leaseAcquire(name: string, holder: string, ttlMs: number): Promise<OpResult<LeaseGrant>>;
  leaseRenew(name: string, holder: string, token: number | string): Promise<OpResult<LeaseGrant>>;
  leaseRelease(name: string, holder: string, token: number | string): Promise<OpResult<{ readonly released: true }>>;
  /**
   * Watch `prefix` for `durationMs` from `fromRevision` (or from now), through this client's
   * node. Always `ok` unless it never connected: what it delivered is what it delivered.
   */
  watch(prefix: string, fromRevision: number | undefined, durationMs: number): Promise<OpResult<WatchOutcome>>;
  /** An atomic transaction of list-append micro-operations; the ok value has every read filled in. */
  txn(ops: readonly MicroOp[]): Promise<OpResult<readonly MicroOp[]>>;
  /** Release connections; the process is done (after an `info`, or at the end). */
  close(): Promise<void>;
}

/** Options every system client honours. */
export interface ClientOptions {
  /** Per-operation timeout, ms: past it the operation is `info` (a read: `fail`). */
  readonly opTimeoutMs: number;
  readonly readConsistency: ReadConsistency;
  /**
   * `single-attempt` (Jepsen's semantics) or `retrying`: the system's own client library with
   * its retries (the store: StoreClient with exactly-once ids), recording what the
   * application saw. Systems without a retrying library refuse `retrying`.
   */
  readonly mode: 'single-attempt' | 'retrying';
}

/** A method a system does not implement: the harness never calls it (it checked `supports.ops`). */
export function unsupported(system: string, op: OpName): never {
  throw new Error(`${system} does not support the ${op} operation`);
}
