/**
 * The store's replicated state machine: versioned JSON keys, leases with fencing tokens,
 * the exactly-once table and the watch history.
 *
 * Determinism (hashicorp/raft's FSM contract): `apply` reads nothing but the entry and the
 * current state — no clock, no randomness, no iteration over unordered data — so every
 * replica that applies the same entries ends in the same state and returns the same results.
 * Bad commands yield error results; `apply` never throws for them.
 *
 * Revisions: one global counter, +1 for every applied write (create, put, delete, a whole
 * txn, and lease acquire/renew/release/expire). Failed writes, reads (a txn of only `get` and
 * `compare` ops included: it is logged for its place in the order, but changes nothing), no-ops
 * and membership entries do not move it. A key's version is 1 on create and +1 on every update; a deleted
 * and re-created key starts again at 1.
 *
 * Exactly-once (LogCabin's client sessions, thesis §6.3): for each client the table keeps
 * the highest seq seen and the results of the last `sessionWindow` seqs. A retry of a
 * remembered seq returns the recorded result without applying again; a seq at or below
 * `maxSeq - sessionWindow` that is not remembered is answered `stale-request` (it may or may
 * not have applied, so that answer is indefinite). Seqs inside the window that were never
 * applied are applied, so a client may have up to `sessionWindow` writes in flight.
 * The table is bounded deterministically: sessions are kept in least-recently-used order
 * (by log index of their last request) and the oldest is evicted when there are more than
 * `sessionMaxClients`, or when it has been idle for more than `sessionMaxIdleEntries` log
 * entries. A client whose session was evicted loses exactly-once protection for retries of
 * old requests, so clients must not retry for that long.
 *
 * All options must be equal on every replica.
 */
import type { Entry } from '../raft/types.ts';
import type { StateMachine } from '../node/contracts.ts';
import { decodeCommand, type ClientCommand, type Command, type JsonValue, type RequestId, type TxnOp, type TxnWriteOp } from './commands.ts';
import {
  failure,
  type ApplyResult,
  type KeyCompareResult,
  type KeyDeleteResult,
  type KeyEvent,
  type KeyGetResult,
  type KeyWriteResult,
  type StoreFailure,
  type TxnOpResult,
} from './results.ts';

export interface KeyRecord {
  readonly value: JsonValue;
  readonly version: number;
  readonly createRevision: number;
  readonly modRevision: number;
}

export interface KeyValue extends KeyRecord {
  readonly key: string;
}

export interface LeaseRecord {
  readonly name: string;
  readonly holder: string;
  /** Fencing token: the revision of the grant. Globally increasing, hence strictly increasing per name and never reused. */
  readonly token: number;
  readonly ttlMs: number;
  readonly grantRevision: number;
  /** Revision of the grant or the latest renew; an expiry must name it (see LeaseExpireCommand). */
  readonly renewRevision: number;
}

/** A committed change to a lease, for the leader's lessor. */
export type LeaseChange =
  | { readonly type: 'granted' | 'renewed'; readonly lease: LeaseRecord }
  | { readonly type: 'released' | 'expired'; readonly lease: LeaseRecord };

export interface KvStateMachineOptions {
  /** Watch history ring: most events kept. Default 10,000. */
  readonly historyMaxEvents?: number;
  /** Watch history ring: most bytes (JSON length of events) kept. Default 16 MiB. */
  readonly historyMaxBytes?: number;
  /** Results remembered per client (its write window). Default 32. */
  readonly sessionWindow?: number;
  /** Most client sessions kept. Default 10,000. */
  readonly sessionMaxClients?: number;
  /** Sessions idle for more log entries than this are evicted. Default 1,000,000. */
  readonly sessionMaxIdleEntries?: number;
}

interface Session {
  maxSeq: number;
  lastIndex: number;
  /** seq → recorded result, for seqs in (maxSeq - window, maxSeq]. */
  readonly results: Map<number, ApplyResult>;
}

interface StoredEvent {
  readonly event: KeyEvent;
  readonly bytes: number;
}

export const SNAPSHOT_FORMAT = 'kv-state-machine';
export const SNAPSHOT_VERSION = 1;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export class KvStateMachine implements StateMachine {
  private keys = new Map<string, KeyRecord>();
  private leaseTable = new Map<string, LeaseRecord>();
  private sessions = new Map<string, Session>();
  /** Watch history; entries before historyHead are dropped. */
  private history: StoredEvent[] = [];
  private historyHead = 0;
  private historyBytes = 0;
  private revisionCounter = 0;
  private compactRevisionValue = 0;
  private appliedIndexValue = 0;
  private appliedTermValue = 0;

  private readonly historyMaxEvents: number;
  private readonly historyMaxBytes: number;
  private readonly sessionWindow: number;
  private readonly sessionMaxClients: number;
  private readonly sessionMaxIdleEntries: number;

  private readonly eventListeners = new Set<(events: readonly KeyEvent[]) => void>();
  private readonly leaseListeners = new Set<(change: LeaseChange) => void>();
  private readonly restoreListeners = new Set<() => void>();

  constructor(options: KvStateMachineOptions = {}) {
    this.historyMaxEvents = positive(options.historyMaxEvents ?? 10_000, 'historyMaxEvents');
    this.historyMaxBytes = positive(options.historyMaxBytes ?? 16 * 1024 * 1024, 'historyMaxBytes');
    this.sessionWindow = positive(options.sessionWindow ?? 32, 'sessionWindow');
    this.sessionMaxClients = positive(options.sessionMaxClients ?? 10_000, 'sessionMaxClients');
    this.sessionMaxIdleEntries = positive(options.sessionMaxIdleEntries ?? 1_000_000, 'sessionMaxIdleEntries');
  }

  // ---- StateMachine -------------------------------------------------------------------

  apply(entry: Entry): ApplyResult {
    this.appliedIndexValue = entry.index;
    this.appliedTermValue = entry.term;
    const command = decodeCommand(entry.data);
    if (command instanceof Error) return failure('bad-request', command.message);
    const result = this.execute(command, false);
    this.evictSessions();
    return result;
  }

  applyIndexOnly(entry: Entry): void {
    this.appliedIndexValue = entry.index;
    this.appliedTermValue = entry.term;
  }

  snapshot(): Uint8Array {
    const byKey = <V>(m: Map<string, V>): [string, V][] => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const data = {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      appliedIndex: this.appliedIndexValue,
      appliedTerm: this.appliedTermValue,
      revision: this.revisionCounter,
      compactRevision: this.compactRevisionValue,
      keys: byKey(this.keys),
      leases: byKey(this.leaseTable),
      // Least-recently-used order is part of the state (it decides evictions), so keep it.
      sessions: [...this.sessions.entries()].map(([clientId, s]) => [clientId, s.maxSeq, s.lastIndex, [...s.results.entries()]]),
      history: this.history.slice(this.historyHead).map((e) => e.event),
    };
    return encoder.encode(JSON.stringify(data));
  }

  restore(data: Uint8Array): void {
    const parsed = JSON.parse(decoder.decode(data)) as {
      format?: unknown;
      version?: unknown;
      appliedIndex: number;
      appliedTerm: number;
      revision: number;
      compactRevision: number;
      keys: [string, KeyRecord][];
      leases: [string, LeaseRecord][];
      sessions: [string, number, number, [number, ApplyResult][]][];
      history: KeyEvent[];
    };
    if (parsed.format !== SNAPSHOT_FORMAT || parsed.version !== SNAPSHOT_VERSION) {
      throw new Error(`snapshot is not a ${SNAPSHOT_FORMAT} v${SNAPSHOT_VERSION} snapshot (format ${String(parsed.format)}, version ${String(parsed.version)})`);
    }
    this.appliedIndexValue = parsed.appliedIndex;
    this.appliedTermValue = parsed.appliedTerm;
    this.revisionCounter = parsed.revision;
    this.compactRevisionValue = parsed.compactRevision;
    this.keys = new Map(parsed.keys);
    this.leaseTable = new Map(parsed.leases);
    this.sessions = new Map(
      parsed.sessions.map(([clientId, maxSeq, lastIndex, results]) => [clientId, { maxSeq, lastIndex, results: new Map(results) }]),
    );
    this.history = parsed.history.map((event) => ({ event, bytes: eventBytes(event) }));
    this.historyHead = 0;
    this.historyBytes = this.history.reduce((sum, e) => sum + e.bytes, 0);
    for (const listener of this.restoreListeners) safeCall(() => listener());
  }

  // ---- reads (local applied state; linearizability is the caller's job) ----------------

  get revision(): number {
    return this.revisionCounter;
  }
  get appliedIndex(): number {
    return this.appliedIndexValue;
  }
  get appliedTerm(): number {
    return this.appliedTermValue;
  }
  /** Highest revision no longer in the watch history; watches must start above it. */
  get compactRevision(): number {
    return this.compactRevisionValue;
  }

  get(key: string): KeyValue | null {
    const record = this.keys.get(key);
    return record === undefined ? null : { key, ...record };
  }

  /** Keys starting with `prefix`, sorted by key. */
  range(prefix: string): KeyValue[] {
    const items: KeyValue[] = [];
    for (const [key, record] of this.keys) if (key.startsWith(prefix)) items.push({ key, ...record });
    return items.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  getLease(name: string): LeaseRecord | null {
    return this.leaseTable.get(name) ?? null;
  }

  leases(): LeaseRecord[] {
    return [...this.leaseTable.values()];
  }

  /**
   * Key events with revision >= fromRevision whose key starts with prefix, oldest first.
   * Returns null when fromRevision <= compactRevision (those events are gone).
   */
  eventsSince(fromRevision: number, prefix: string): KeyEvent[] | null {
    if (fromRevision <= this.compactRevisionValue) return null;
    let lo = this.historyHead;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.history[mid]!.event.revision < fromRevision) lo = mid + 1;
      else hi = mid;
    }
    const out: KeyEvent[] = [];
    for (let i = lo; i < this.history.length; i++) {
      const event = this.history[i]!.event;
      if (event.key.startsWith(prefix)) out.push(event);
    }
    return out;
  }

  /**
   * The result applying `command` now would give, without changing anything. Used only by
   * the unsafe `ack-before-commit` switch to answer before the write commits.
   */
  predict(command: Command): ApplyResult {
    return this.execute(command, true);
  }

  // ---- listeners ----------------------------------------------------------------------

  /** Called synchronously after each applied write that changed keys, with its events. */
  onEvents(listener: (events: readonly KeyEvent[]) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Called synchronously after each applied lease change. */
  onLeaseChange(listener: (change: LeaseChange) => void): () => void {
    this.leaseListeners.add(listener);
    return () => this.leaseListeners.delete(listener);
  }

  /** Called after `restore` replaced the whole state. */
  onRestore(listener: () => void): () => void {
    this.restoreListeners.add(listener);
    return () => this.restoreListeners.delete(listener);
  }

  // ---- execution ----------------------------------------------------------------------

  private execute(command: Command, dryRun: boolean): ApplyResult {
    if (command.op === 'lease-expire') return this.leaseExpire(command, dryRun);
    const session = this.sessions.get(command.clientId);
    if (session !== undefined) {
      const recorded = session.results.get(command.seq);
      if (recorded !== undefined) {
        if (!dryRun) this.touch(command.clientId, session);
        return recorded;
      }
      if (command.seq <= session.maxSeq - this.sessionWindow) {
        return failure(
          'stale-request',
          `seq ${command.seq} of client ${JSON.stringify(command.clientId)} is older than the ${this.sessionWindow} remembered (highest ${session.maxSeq}); it may or may not have applied`,
        );
      }
    }
    const result = this.executeClientCommand(command, dryRun);
    if (!dryRun) this.record(command, session, result);
    return result;
  }

  private record(id: RequestId, existing: Session | undefined, result: ApplyResult): void {
    const session = existing ?? { maxSeq: 0, lastIndex: 0, results: new Map<number, ApplyResult>() };
    session.results.set(id.seq, result);
    if (id.seq > session.maxSeq) {
      session.maxSeq = id.seq;
      const floor = session.maxSeq - this.sessionWindow;
      for (const seq of session.results.keys()) if (seq <= floor) session.results.delete(seq);
    }
    this.touch(id.clientId, session);
  }

  private touch(clientId: string, session: Session): void {
    session.lastIndex = this.appliedIndexValue;
    this.sessions.delete(clientId);
    this.sessions.set(clientId, session);
  }

  private evictSessions(): void {
    const idleFloor = this.appliedIndexValue - this.sessionMaxIdleEntries;
    for (const [clientId, session] of this.sessions) {
      if (this.sessions.size <= this.sessionMaxClients && session.lastIndex >= idleFloor) break;
      this.sessions.delete(clientId);
    }
  }

  private executeClientCommand(command: ClientCommand, dryRun: boolean): ApplyResult {
    switch (command.op) {
      case 'create':
      case 'put':
      case 'delete':
      case 'txn': {
        const ops: readonly TxnOp[] = command.op === 'txn' ? command.ops : [command];
        for (let i = 0; i < ops.length; i++) {
          const problem = this.checkPrecondition(ops[i]!);
          if (problem !== null) return command.op === 'txn' ? { ...problem, message: `ops[${i}]: ${problem.message}`, opIndex: i } : problem;
        }
        // A txn of only reads and compares writes nothing: the revision stays where it is
        // and no watch event is emitted. Keys are distinct, so the order of reads and writes
        // within the txn does not matter.
        const writes = ops.some(isWrite);
        const revision = writes ? this.revisionCounter + 1 : this.revisionCounter;
        const events: KeyEvent[] = [];
        const results = ops.map((op): TxnOpResult => {
          if (!isWrite(op)) return this.readKey(op);
          const written = this.writeKey(op, revision, dryRun);
          events.push(written.event);
          return written.result;
        });
        if (!dryRun && writes) {
          this.revisionCounter = revision;
          this.appendHistory(events);
          for (const listener of this.eventListeners) safeCall(() => listener(events));
        }
        if (command.op === 'txn') return { ok: true, value: { results, revision } };
        return { ok: true, value: { ...(results[0] as KeyWriteResult | KeyDeleteResult), revision } };
      }
      case 'lease-acquire':
        return this.leaseAcquire(command, dryRun);
      case 'lease-renew':
      case 'lease-release':
        return this.leaseRenewOrRelease(command, dryRun);
    }
  }

  private checkPrecondition(op: TxnOp): StoreFailure | null {
    const current = this.keys.get(op.key);
    const currentVersion = current?.version ?? 0;
    switch (op.op) {
      case 'get':
        return null;
      case 'create':
        return current === undefined ? null : failure('key-exists', `key ${JSON.stringify(op.key)} already exists at version ${currentVersion}`, { currentVersion });
      case 'compare':
      case 'put':
      case 'delete':
        if (op.expectedVersion !== undefined && op.expectedVersion !== currentVersion) {
          return failure('version-conflict', `key ${JSON.stringify(op.key)} is at version ${currentVersion}, expected ${op.expectedVersion}`, { currentVersion });
        }
        if (op.op === 'delete' && current === undefined) return failure('not-found', `key ${JSON.stringify(op.key)} does not exist`);
        return null;
    }
  }

  private readKey(op: Extract<TxnOp, { op: 'get' | 'compare' }>): KeyGetResult | KeyCompareResult {
    const current = this.keys.get(op.key);
    if (op.op === 'compare') return { key: op.key, version: current?.version ?? 0 };
    if (current === undefined) return { key: op.key, found: false, version: 0 };
    return { key: op.key, found: true, value: current.value, version: current.version, createRevision: current.createRevision, modRevision: current.modRevision };
  }

  private writeKey(op: TxnWriteOp, revision: number, dryRun: boolean): { result: TxnOpResult; event: KeyEvent } {
    const current = this.keys.get(op.key);
    if (op.op === 'delete') {
      if (!dryRun) this.keys.delete(op.key);
      return {
        result: { key: op.key, deleted: true },
        event: { revision, type: 'delete', key: op.key, value: null, version: 0, createRevision: current?.createRevision ?? 0, modRevision: revision },
      };
    }
    const record: KeyRecord = {
      value: op.value,
      version: (current?.version ?? 0) + 1,
      createRevision: current?.createRevision ?? revision,
      modRevision: revision,
    };
    if (!dryRun) this.keys.set(op.key, record);
    return {
      result: { key: op.key, version: record.version, createRevision: record.createRevision, modRevision: record.modRevision },
      event: { revision, type: 'put', key: op.key, ...record },
    };
  }

  private appendHistory(events: readonly KeyEvent[]): void {
    for (const event of events) {
      const bytes = eventBytes(event);
      this.history.push({ event, bytes });
      this.historyBytes += bytes;
    }
    let drop = this.historyHead;
    let bytes = this.historyBytes;
    while (this.history.length - drop > this.historyMaxEvents || (bytes > this.historyMaxBytes && this.history.length - drop > 1)) {
      bytes -= this.history[drop]!.bytes;
      drop++;
    }
    if (drop === this.historyHead) return;
    // Events of one revision leave together, so compactRevision splits no revision in half.
    const lastDropped = this.history[drop - 1]!.event.revision;
    while (drop < this.history.length && this.history[drop]!.event.revision === lastDropped) {
      bytes -= this.history[drop]!.bytes;
      drop++;
    }
    // Dropped entries stay in the array until they are half of it, so a write costs O(1) amortized.
    this.historyHead = drop;
    if (this.historyHead > 1024 && this.historyHead * 2 > this.history.length) {
      this.history.splice(0, this.historyHead);
      this.historyHead = 0;
    }
    this.historyBytes = bytes;
    this.compactRevisionValue = lastDropped;
  }

  private leaseAcquire(command: Extract<ClientCommand, { op: 'lease-acquire' }>, dryRun: boolean): ApplyResult {
    const current = this.leaseTable.get(command.name);
    if (current !== undefined && current.holder !== command.holder) {
      return failure('lease-held', `lease ${JSON.stringify(command.name)} is held by ${JSON.stringify(current.holder)}`, { holder: current.holder });
    }
    const revision = this.revisionCounter + 1;
    // Re-acquiring one's own lease keeps the token (same tenure) and refreshes the TTL.
    const lease: LeaseRecord =
      current === undefined
        ? { name: command.name, holder: command.holder, token: revision, ttlMs: command.ttlMs, grantRevision: revision, renewRevision: revision }
        : { ...current, ttlMs: command.ttlMs, renewRevision: revision };
    if (!dryRun) {
      this.revisionCounter = revision;
      this.leaseTable.set(command.name, lease);
      this.emitLease({ type: current === undefined ? 'granted' : 'renewed', lease });
    }
    return { ok: true, value: { name: lease.name, holder: lease.holder, token: lease.token, ttlMs: lease.ttlMs, revision } };
  }

  private leaseRenewOrRelease(command: Extract<ClientCommand, { op: 'lease-renew' | 'lease-release' }>, dryRun: boolean): ApplyResult {
    const current = this.leaseTable.get(command.name);
    if (current === undefined || current.holder !== command.holder || current.token !== command.token) {
      return failure(
        'lease-lost',
        `lease ${JSON.stringify(command.name)} is not held by ${JSON.stringify(command.holder)} with token ${command.token}` +
          (current === undefined ? ' (it is free)' : ` (holder ${JSON.stringify(current.holder)}, token ${current.token})`),
      );
    }
    const revision = this.revisionCounter + 1;
    if (command.op === 'lease-renew') {
      const lease: LeaseRecord = { ...current, renewRevision: revision };
      if (!dryRun) {
        this.revisionCounter = revision;
        this.leaseTable.set(command.name, lease);
        this.emitLease({ type: 'renewed', lease });
      }
      return { ok: true, value: { name: lease.name, holder: lease.holder, token: lease.token, ttlMs: lease.ttlMs, revision } };
    }
    if (!dryRun) {
      this.revisionCounter = revision;
      this.leaseTable.delete(command.name);
      this.emitLease({ type: 'released', lease: current });
    }
    return { ok: true, value: { name: command.name, released: true, revision } };
  }

  private leaseExpire(command: Extract<Command, { op: 'lease-expire' }>, dryRun: boolean): ApplyResult {
    const current = this.leaseTable.get(command.name);
    if (current === undefined || current.token !== command.token || current.renewRevision !== command.renewRevision) {
      return failure('lease-lost', `lease ${JSON.stringify(command.name)} token ${command.token} renewed at ${command.renewRevision} is no longer current`);
    }
    const revision = this.revisionCounter + 1;
    if (!dryRun) {
      this.revisionCounter = revision;
      this.leaseTable.delete(command.name);
      this.emitLease({ type: 'expired', lease: current });
    }
    return { ok: true, value: { name: command.name, expired: true, revision } };
  }

  private emitLease(change: LeaseChange): void {
    for (const listener of this.leaseListeners) safeCall(() => listener(change));
  }
}

function isWrite(op: TxnOp): op is TxnWriteOp {
  return op.op !== 'get' && op.op !== 'compare';
}

function eventBytes(event: KeyEvent): number {
  return JSON.stringify(event).length;
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`KvStateMachine option ${name} must be a positive integer, got ${n}`);
  return n;
}

/** A listener's failure must not break apply (every replica must keep applying). */
function safeCall(f: () => void): void {
  try {
    f();
  } catch (e) {
    console.error('kv-state-machine listener failed:', e);
  }
}
