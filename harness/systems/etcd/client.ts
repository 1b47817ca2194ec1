/**
 * etcd's client for the harness: each abstract operation (workloads/client.ts) is one gRPC
 * call (or one txn) on etcd v3 through the maintained npm client `etcd3`, made a single
 * attempt: etcd3's fault-handling policies (cockatiel: a global retry of 3 attempts and a
 * per-host circuit breaker, etcd3 lib/connection-pool.js) are replaced by no-ops, and gRPC's
 * own retries (grpc-js `grpc.enable_retries`, on by default, which includes transparent
 * retries) are turned off. The client talks to one member, the one its process is bound to
 * (Jepsen's etcd suite does the same), through that member's client proxy. client.test.ts
 * counts the connections one failing call makes, against etcd3's defaults as the control.
 *
 * We use etcd3's raw RPC clients (kv, leaseClient, watchClient) rather than its builders: the
 * builders add retries and namespacing we do not want, and the raw clients are exactly etcd's
 * API (etcd-io/etcd api/etcdserverpb/rpc.proto). Nothing here needs the JSON gateway: every
 * operation, the watch progress request included, is in etcd3's protos (only Maintenance.HashKV
 * is not, which hashkv.ts calls over raw gRPC).
 *
 * Classification (Jepsen's rule: `fail` only when the operation certainly did not take effect,
 * `info` otherwise, reads always `fail`):
 *
 * - a failed txn compare is `fail` (the success branch did not run): version-conflict,
 *   key-exists, not-found, lease-held;
 * - the call never reached etcd: grpc-js fails a call with "No connection established" when no
 *   transport could be picked (connection refused, unreachable), and with a deadline "Waiting
 *   for LB pick" when the deadline passed before one was: nothing was sent, so `fail`;
 * - errors etcd returns only for requests it refused before proposing them to raft, or whose
 *   apply changed nothing: `fail` (DEFINITE_ERRORS below, with where etcd raises them);
 * - everything else is `info`: etcd's API guarantees say a client "may be uncertain about the
 *   status of an operation if it times out, or there is a network disruption", and that etcd
 *   "may also abort operations when there is a leader election" without telling the client
 *   (etcd.io/docs/v3.5/learning/api_guarantees, "Operation completed"). So "request timed out"
 *   (all its variants), "leader changed", "no leader", "server stopped", a dropped connection
 *   and a client deadline after the request was sent are `info`. etcd's own robustness tests
 *   treat every failed write as maybe-persisted (tests/robustness/model/history.go,
 *   appendFailed), the most conservative reading; Jepsen's etcd client also takes compaction,
 *   too-many-requests, duplicate keys, lease-not-found and connect failures as definite
 *   (jepsen-io/etcd src/jepsen/etcd/client.clj, remap-errors).
 *
 * Two-step operations (a lock acquire: lease grant then txn; a list-append transaction: read
 * txn then commit txn) report an error of the first step as `fail`: the step that would have
 * taken effect was never sent.
 */
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import type { IKeyValue, IRequestOp, IResponseOp, ITxnResponse, IWatchResponse } from 'etcd3';
import type { ClientOptions, DeleteResult, LeaseGrant, MicroOp, OpError, OpResult, Precondition, RangeItem, SystemClient, Versioned, WatchEvent, WatchOutcome, WriteResult } from '../../../workloads/client.ts';
import { keysOf, NotAListError, planAppend } from '../raftstore/append-txn.ts';
import type { ReadList } from '../raftstore/append-txn.ts';

/** Where lock keys live (leases built as etcd users build locks). */
const LOCK_PREFIX = 'lock/';

export interface EtcdClientOptions extends ClientOptions {
  readonly node: string;
  /** The member's client URL, through its proxy. */
  readonly url: string;
}

/** An etcd key's value as the harness stores it: JSON text. */
function encode(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function decode(b: Buffer | undefined): unknown {
  if (b === undefined || b.length === 0) return null;
  const text = b.toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

const num = (s: string | number | undefined): number => (s === undefined ? 0 : Number(s));

function versioned(kv: IKeyValue): Versioned {
  return { value: decode(kv.value), version: num(kv.version), modRevision: num(kv.mod_revision), createRevision: num(kv.create_revision) };
}

/** The end of the range of keys starting with `prefix` (etcd's prefix convention: the prefix with its last byte incremented). */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if ((b[i] as number) < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i] = (end[i] as number) + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

/**
 * etcd's errors (api/v3rpc/rpctypes/error.go) for requests that certainly did not take effect,
 * with a short code for the history. Each is raised before the request is proposed to raft,
 * or by an apply that changes nothing:
 */
const DEFINITE_ERRORS: readonly (readonly [message: string, code: string])[] = [
  // etcdserver/v3_server.go processInternalRaftRequestOnce: both checked before s.r.Propose.
  ['etcdserver: request is too large', 'request-too-large'],
  ['etcdserver: too many requests', 'too-many-requests'],
  // v3rpc/key.go checkPutRequest / checkTxnRequest: request validation, before the server.
  ['etcdserver: key is not provided', 'empty-key'],
  ['etcdserver: duplicate key given in txn request', 'duplicate-key'],
  ['etcdserver: too many operations in txn request', 'too-many-ops'],
  // v3rpc/quota.go before proposing, and apply/capped.go (the NOSPACE alarm) when applying: no write.
  ['etcdserver: mvcc: database space exceeded', 'no-space'],
  // A put or keep-alive naming a lease that does not exist: rejected when applied (txn/put.go), nothing written.
  ['etcdserver: requested lease not found', 'lease-not-found'],
  // Reads, watches and compactions of a compacted or future revision.
  ['mvcc: required revision has been compacted', 'compacted'],
  ['mvcc: required revision is a future revision', 'future-revision'],
  // raft/raft.go ErrProposalDropped: the member dropped the proposal itself (no leader known,
  // a leader transfer in progress), so it never entered the log.
  ['raft proposal dropped', 'proposal-dropped'],
  // server/etcdserver: membership changes refused by the pre-check (not used by the workloads' ops).
  ['etcdserver: unhealthy cluster', 'unhealthy-cluster'],
];

/**
 * Errors that may or may not have taken effect (etcd's API guarantees, "Operation completed"):
 * the proposal may have been committed before the member gave up waiting for it.
 */
const INDEFINITE_ERRORS: readonly (readonly [pattern: RegExp, code: string])[] = [
  [/request timed out/, 'timeout'],
  [/leader changed/, 'leader-changed'],
  [/no leader/, 'no-leader'],
  [/server stopped/, 'server-stopped'],
];

/**
 * Jepsen's classification of one error of one attempt (see the file's comment). `readOnly`:
 * the operation changes nothing (a read, or the first step of a two-step operation), so any
 * error is `fail`.
 */
export function classifyError(e: unknown, readOnly: boolean): { type: 'fail' | 'info'; error: OpError } {
  const message = e instanceof Error ? e.message : String(e);
  const name = e instanceof Error ? e.constructor.name : 'Error';
  const error = (code: string): OpError => ({ code, message: message.slice(0, 300) });
  const definite = DEFINITE_ERRORS.find(([m]) => message.includes(m));
  if (definite !== undefined) return { type: 'fail', error: error(definite[1]) };
  const indefinite = INDEFINITE_ERRORS.find(([p]) => p.test(message));
  let code: string;
  let sent = true;
  if (indefinite !== undefined) code = indefinite[1];
  // grpc-js: the call was failed before a transport was picked for it (nothing was written).
  else if (/No connection established/.test(message)) {
    code = /ECONNREFUSED/.test(message) ? 'connection-refused' : 'not-connected';
    sent = false;
  } else if (/deadline exceeded/i.test(message) || name === 'GRPCDeadlineExceededError') {
    // grpc-js names the stage a deadline expired in: "Waiting for LB pick" = before any transport.
    sent = !/Waiting for LB pick/.test(message);
    code = sent ? 'timeout' : 'not-connected';
  } else if (/ECONNREFUSED/.test(message)) {
    code = 'connection-refused';
    sent = false;
  } else if (/Connection dropped|ECONNRESET|UNAVAILABLE/i.test(message) || name === 'GRPCUnavailableError') code = 'unavailable';
  else code = name.replace(/Error$/, '').replace(/^GRPC/, 'grpc-').toLowerCase() || 'error';
  return { type: readOnly || !sent ? 'fail' : 'info', error: error(code) };
}

/** An error of a step that changes nothing (the first of two): the operation did not take effect. */
class BeforeWrite extends Error {
  constructor(readonly original: unknown) {
    super(original instanceof Error ? original.message : String(original));
  }
}

/** Run the first, write-free step of a two-step operation: its error means the operation did not happen. */
async function beforeWrite<T>(step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (e) {
    throw new BeforeWrite(e);
  }
}

/** How often a watch session asks etcd for a progress notification while it runs. */
const PROGRESS_EVERY_MS = 100;

export class EtcdClient implements SystemClient {
  readonly node: string;
  private readonly etcd: Etcd3;
  private readonly serializable: boolean;
  /** Lease ids by lock token, for renew and release (a process remembers what it was granted). */
  private readonly leases = new Map<string, string>();

  constructor(private readonly o: EtcdClientOptions) {
    this.node = o.node;
    this.serializable = o.readConsistency === 'serializable';
    this.etcd = new Etcd3({
      hosts: [o.url],
      // One attempt per call: no retries, no host rotation, no circuit breaker (etcd3), and no
      // gRPC-level retries, transparent ones included (grpc-js). A connection of its own per
      // logical process (grpc-js otherwise shares one per address across clients), so one
      // process's broken connection is not another's, as with Jepsen's one client per process.
      faultHandling: { host: () => noop, global: noop },
      grpcOptions: { 'grpc.enable_retries': 0, 'grpc.use_local_subchannel_pool': 1 },
    });
  }

  private opts(): { deadline: number } {
    return { deadline: Date.now() + this.o.opTimeoutMs };
  }

  private async attempt<T>(readOnly: boolean, f: () => Promise<OpResult<T>>): Promise<OpResult<T>> {
    try {
      return await f();
    } catch (e) {
      if (e instanceof BeforeWrite) return { ...classifyError(e.original, true), node: this.node };
      return { ...classifyError(e, readOnly), node: this.node };
    }
  }

  private ok<T>(value: T): OpResult<T> {
    return { type: 'ok', value, node: this.node };
  }

  read(key: string): Promise<OpResult<Versioned | null>> {
    return this.attempt(true, async () => {
      const r = await this.etcd.kv.range({ key: Buffer.from(key), serializable: this.serializable }, this.opts());
      const kv = r.kvs[0];
      return this.ok(kv === undefined ? null : versioned(kv));
    });
  }

  /** A txn that writes `success` if `compare` holds, and reads `key` back atomically either way. */
  private async guardedWrite(key: string, compare: Parameters<Etcd3['kv']['txn']>[0]['compare'], success: IRequestOp[]): Promise<{ txn: ITxnResponse; after: IKeyValue | undefined }> {
    const read: IRequestOp = { request_range: { key: Buffer.from(key) } };
    const txn = await this.etcd.kv.txn({ compare: compare ?? [], success: [...success, read], failure: [read] }, this.opts());
    const last = txn.responses.at(-1) as IResponseOp | undefined;
    return { txn, after: last?.response_range.kvs[0] };
  }

  private preconditionCompares(key: string, p: Precondition | undefined): Parameters<Etcd3['kv']['txn']>[0]['compare'] {
    if (p === undefined) return [];
    const k = Buffer.from(key);
    if (p === 'absent') return [{ key: k, target: 'Create', result: 'Equal', create_revision: 0 }];
    // Optimistic concurrency the way etcd users do it: the key's mod_revision as last seen.
    if (p.modRevision !== undefined) return [{ key: k, target: 'Mod', result: 'Equal', mod_revision: p.modRevision }];
    return [{ key: k, target: 'Version', result: 'Equal', version: p.version }];
  }

  private conflict<T>(after: IKeyValue | undefined): OpResult<T> {
    return {
      type: 'fail',
      error: { code: 'version-conflict', currentVersion: after === undefined ? 0 : num(after.version), ...(after !== undefined ? { currentModRevision: num(after.mod_revision) } : {}) },
      node: this.node,
    };
  }

  put(key: string, value: unknown, precondition?: Precondition): Promise<OpResult<WriteResult>> {
    return this.attempt(false, async () => {
      const { txn, after } = await this.guardedWrite(key, this.preconditionCompares(key, precondition), [{ request_put: { key: Buffer.from(key), value: encode(value) } }]);
      if (!txn.succeeded) return this.conflict(after);
      return this.ok({ version: num(after?.version), modRevision: num(after?.mod_revision) });
    });
  }

  create(key: string, value: unknown): Promise<OpResult<WriteResult>> {
    return this.attempt(false, async () => {
      const { txn, after } = await this.guardedWrite(key, this.preconditionCompares(key, 'absent'), [{ request_put: { key: Buffer.from(key), value: encode(value) } }]);
      if (!txn.succeeded) return { type: 'fail', error: { code: 'key-exists', currentVersion: num(after?.version) }, node: this.node };
      return this.ok({ version: num(after?.version), modRevision: num(after?.mod_revision) });
    });
  }

  delete(key: string, precondition?: Precondition): Promise<OpResult<DeleteResult>> {
    return this.attempt(false, async () => {
      const k = Buffer.from(key);
      // Only if present (the store's semantics), and at the version given.
      const compare = [{ key: k, target: 'Version' as const, result: 'Greater' as const, version: 0 }, ...(this.preconditionCompares(key, precondition) ?? [])];
      const { txn, after } = await this.guardedWrite(key, compare, [{ request_delete_range: { key: k } }]);
      if (!txn.succeeded) return after === undefined ? { type: 'fail', error: { code: 'not-found', currentVersion: 0 }, node: this.node } : this.conflict(after);
      // A txn that wrote answers with the revision its write made.
      return this.ok({ deleted: true as const, revision: num(txn.header.revision) });
    });
  }

  range(prefix: string): Promise<OpResult<readonly RangeItem[]>> {
    return this.attempt(true, async () => {
      const r = await this.etcd.kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix), serializable: this.serializable }, this.opts());
      return this.ok(r.kvs.map((kv) => ({ key: kv.key.toString('utf8'), value: decode(kv.value), version: num(kv.version), modRevision: num(kv.mod_revision) })));
    });
  }

  async setAdd(name: string, element: number): Promise<OpResult<number>> {
    const r = await this.create(`set/${name}/${element}`, element);
    return r.type === 'ok' ? this.ok(element) : r;
  }

  async setRead(name: string): Promise<OpResult<readonly number[]>> {
    const r = await this.range(`set/${name}/`);
    return r.type === 'ok' ? this.ok(r.value.map((it) => Number(it.value)).sort((a, b) => a - b)) : r;
  }

  /**
   * A lock as etcd users build one: grant a lease, then create the lock key with it only if
   * the key is absent. The fencing token is the key's create revision (the txn's revision),
   * which grows with every grant. Someone else's key: `fail` lease-held (our lease revoked).
   */
  leaseAcquire(name: string, holder: string, ttlMs: number): Promise<OpResult<LeaseGrant>> {
    return this.attempt(false, async () => {
      // A grant that fails leaves the lock key untouched: `fail` (a granted but unused lease expires by itself).
      const grant = await beforeWrite(this.etcd.leaseClient.leaseGrant({ TTL: Math.max(1, Math.ceil(ttlMs / 1000)) }, this.opts()));
      const key = Buffer.from(`${LOCK_PREFIX}${name}`);
      const txn = await this.etcd.kv.txn(
        {
          compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
          success: [{ request_put: { key, value: encode(holder), lease: grant.ID } }],
          failure: [{ request_range: { key } }],
        },
        this.opts(),
      );
      if (!txn.succeeded) {
        void this.etcd.leaseClient.leaseRevoke({ ID: grant.ID }, this.opts()).catch(() => {});
        const kv = txn.responses[0]?.response_range.kvs[0];
        return { type: 'fail', error: { code: 'lease-held', message: `held by ${String(decode(kv?.value))}` }, node: this.node };
      }
      const token = txn.header.revision;
      this.leases.set(token, grant.ID);
      return this.ok({ token: Number(token), ttlMs: num(grant.TTL) * 1000 });
    });
  }

  /** A keep-alive of the lock's lease (one request on the keep-alive stream). TTL 0 = it expired: `fail` lease-lost. */
  leaseRenew(name: string, _holder: string, token: number | string): Promise<OpResult<LeaseGrant>> {
    return this.attempt(false, async () => {
      const id = this.leases.get(String(token));
      if (id === undefined) return { type: 'fail', error: { code: 'lease-lost', message: `no lease known for ${name} token ${String(token)}` }, node: this.node };
      const stream = await this.etcd.leaseClient.leaseKeepAlive(this.opts());
      try {
        const ttl = await new Promise<number>((resolve, reject) => {
          stream.on('data', (r) => resolve(num(r.TTL)));
          stream.on('error', reject);
          stream.on('end', () => reject(new Error('keep-alive stream ended')));
          stream.write({ ID: id });
        });
        if (ttl <= 0) {
          this.leases.delete(String(token));
          return { type: 'fail', error: { code: 'lease-lost', message: 'lease expired' }, node: this.node };
        }
        return this.ok({ token: Number(token), ttlMs: ttl * 1000 });
      } finally {
        stream.cancel();
      }
    });
  }

  /** Delete the lock key if it is still ours (its create revision is our token), then revoke the lease. */
  leaseRelease(name: string, _holder: string, token: number | string): Promise<OpResult<{ readonly released: true }>> {
    return this.attempt(false, async () => {
      const key = Buffer.from(`${LOCK_PREFIX}${name}`);
      const txn = await this.etcd.kv.txn({ compare: [{ key, target: 'Create', result: 'Equal', create_revision: token }], success: [{ request_delete_range: { key } }], failure: [] }, this.opts());
      const id = this.leases.get(String(token));
      this.leases.delete(String(token));
      if (id !== undefined) void this.etcd.leaseClient.leaseRevoke({ ID: id }, this.opts()).catch(() => {});
      if (!txn.succeeded) return { type: 'fail', error: { code: 'lease-lost', message: 'the lock key is not ours any more' }, node: this.node };
      return this.ok({ released: true as const });
    });
  }

  /**
   * One watch stream on this member for `durationMs` from `fromRevision` (or from now), with
   * a progress request every PROGRESS_EVERY_MS and one at the end: etcd (3.4+) answers each
   * with the revision up to which every event was sent (only when every watcher on the stream
   * has caught up, so a lagging member may not answer: the session then ends a second later
   * without one). Each answer goes into `events` where it came (`{type: 'progress'}`), so the
   * checker can hold etcd to that promise, as etcd's robustness tests do (etcd#15220: an event
   * sent after a notification that covered it); the last is the session's `progressRevision`.
   * A start revision etcd has compacted ends the session with `compacted` N (etcd keeps revision
   * N: a watch may start there), `error` "compacted: compact revision N" and no key changes (a
   * release with etcd#15220 may still answer a progress request first). `fail` only when etcd
   * never confirmed the watch (an error or silence before its `created` answer).
   */
  async watch(prefix: string, fromRevision: number | undefined, durationMs: number): Promise<OpResult<WatchOutcome>> {
    const events: WatchEvent[] = [];
    let progressRevision: number | undefined;
    let compacted: number | undefined;
    let error: string | undefined;
    let stream: Awaited<ReturnType<Etcd3['watchClient']['watch']>>;
    try {
      stream = await this.etcd.watchClient.watch();
    } catch (e) {
      return { type: 'fail', error: classifyError(e, true).error, node: this.node };
    }
    // An error before etcd confirmed the watch, or no confirmation at all: it never connected (`fail`).
    let failedBeforeCreated: unknown;
    let created = false;
    await new Promise<void>((resolve) => {
      let done = false;
      let progressAsked = false;
      const finish = (why?: string): void => {
        if (done) return;
        done = true;
        if (why !== undefined) error = why;
        clearTimeout(timer);
        clearTimeout(progressTimer);
        clearInterval(progressTicker);
        stream.cancel();
        resolve();
      };
      const askProgress = (): void => {
        if (!created) return finish(`etcd did not confirm the watch within ${durationMs} ms`);
        if (progressAsked) return finish();
        progressAsked = true;
        stream.write({ progress_request: {} });
      };
      const timer = setTimeout(askProgress, durationMs);
      // Progress requests while the session runs (answers recorded in order, below).
      const progressTicker = setInterval(() => {
        if (created && !progressAsked) stream.write({ progress_request: {} });
      }, PROGRESS_EVERY_MS);
      // A progress answer that never comes (a cut link) ends the session anyway.
      const progressTimer = setTimeout(() => finish(), durationMs + 1000);
      stream.on('data', (r: IWatchResponse) => {
        if (r.created) created = true;
        if (r.canceled && r.compact_revision !== '0') compacted = num(r.compact_revision);
        if (r.canceled) return finish(r.compact_revision !== '0' ? `compacted: compact revision ${r.compact_revision}` : `canceled: ${r.cancel_reason}`);
        for (const e of r.events) {
          events.push({
            type: e.type === 'Delete' ? 'delete' : 'put',
            key: e.kv.key.toString('utf8'),
            revision: num(e.kv.mod_revision),
            ...(e.type === 'Delete' ? {} : { value: decode(e.kv.value), version: num(e.kv.version) }),
          });
        }
        // A progress notification: no events, not a creation, a header revision.
        if (!r.created && r.events.length === 0 && !r.canceled) {
          progressRevision = num(r.header.revision);
          events.push({ type: 'progress', revision: progressRevision });
          if (progressAsked) finish();
        }
      });
      stream.on('error', (e: Error) => {
        if (!created) failedBeforeCreated = e;
        finish(e.message);
      });
      stream.on('end', () => finish('stream ended'));
      stream.write({ create_request: { key: Buffer.from(prefix), range_end: prefixEnd(prefix), ...(fromRevision !== undefined ? { start_revision: fromRevision } : {}) } });
    });
    if (failedBeforeCreated !== undefined) return { type: 'fail', error: classifyError(failedBeforeCreated, true).error, node: this.node };
    if (!created) return { type: 'fail', error: { code: 'not-created', message: error ?? 'no watch created' }, node: this.node };
    return this.ok({ events, ...(progressRevision !== undefined ? { progressRevision } : {}), ...(compacted !== undefined ? { compacted } : {}), ...(error !== undefined ? { error } : {}) });
  }

  /**
   * A list-append transaction as a read-modify-write, planned like the store's
   * (raftstore/append-txn.ts): one txn reads every key (a read-only txn is linearizable), the
   * micro-ops run locally, and one txn commits the new lists only if every key's mod_revision
   * is still the one read (0 for an absent key, which etcd compares as 0). mod_revision rather
   * than version: it is unique across the key's whole life, so a key deleted and re-created
   * since the read cannot pass the compare. The whole transaction then takes effect at the
   * commit's revision; a failed compare is `fail` version-conflict. Lists are JSON arrays of
   * integers; anything else in a key is `fail` not-a-list (nothing was written).
   */
  txn(ops: readonly MicroOp[]): Promise<OpResult<readonly MicroOp[]>> {
    return this.attempt(false, async () => {
      const keys = keysOf(ops);
      const readTxn = await beforeWrite(this.etcd.kv.txn({ success: keys.map((k) => ({ request_range: { key: Buffer.from(k) } })) }, this.opts()));
      const read = new Map<string, ReadList>();
      for (const [i, k] of keys.entries()) {
        const kv = readTxn.responses[i]?.response_range.kvs[0];
        const value = kv === undefined ? [] : decode(kv.value);
        if (!Array.isArray(value) || !value.every((x) => Number.isSafeInteger(x))) {
          return { type: 'fail', error: { code: 'not-a-list', message: new NotAListError(k, value).message }, node: this.node };
        }
        // planAppend's "version" is whatever the commit compares: here, the mod_revision.
        read.set(k, { list: value as number[], version: num(kv?.mod_revision) });
      }
      const plan = planAppend(ops, read);
      if (plan.commit === null) return this.ok(plan.completed);
      const compare = plan.commit.map((c) => ({ key: Buffer.from(c.key), target: 'Mod' as const, result: 'Equal' as const, mod_revision: 'expectedVersion' in c ? c.expectedVersion : 0 }));
      const success = plan.commit.flatMap((c) => (c.op === 'put' ? [{ request_put: { key: Buffer.from(c.key), value: encode(c.value) } }] : []));
      const commit = await this.etcd.kv.txn({ compare, success, failure: [] }, this.opts());
      if (!commit.succeeded) return { type: 'fail', error: { code: 'version-conflict' }, node: this.node };
      return this.ok(plan.completed);
    });
  }

  close(): Promise<void> {
    this.etcd.close();
    return Promise.resolve();
  }
}
