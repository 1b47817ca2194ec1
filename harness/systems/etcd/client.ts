/**
 * etcd's client for the harness: each abstract operation (workloads/client.ts) is one gRPC
 * call (or one txn) on etcd v3 through the maintained npm client `etcd3`, with its
 * fault-handling policies replaced by no-ops, so a call is one attempt: no retry, no host
 * rotation, no circuit breaker. The client talks to one member, the one its process is
 * bound to (Jepsen's etcd suite does the same), through that member's client proxy.
 *
 * We use etcd3's raw RPC clients (kv, leaseClient, watchClient, maintenance) rather than its
 * builders: the builders add retries and namespacing we do not want, and the raw clients are
 * exactly etcd's API (etcd-io/etcd api/etcdserverpb/rpc.proto).
 *
 * Classification (Jepsen's; etcd's errors from api/v3rpc/rpctypes/error.go): a failed txn
 * compare is `fail` (the txn's success branch did not run); errors etcd raises before a
 * request is proposed or that abort it as a whole are `fail` (request too large, too many
 * requests, lease not found, compacted, future revision, database space exceeded); timeouts,
 * "leader changed", "server stopped", dropped connections and deadlines are `info` (the
 * proposal may still commit). A read that errs is `fail`.
 */
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import type { IKeyValue, IRequestOp, IResponseOp, ITxnResponse, IWatchResponse } from 'etcd3';
import type { ClientOptions, LeaseGrant, MicroOp, OpError, OpResult, Precondition, RangeItem, SystemClient, Versioned, WatchEvent, WatchOutcome, WriteResult } from '../../../workloads/client.ts';
import { keysOf, planAppend } from '../raftstore/append-txn.ts';
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

/** Errors etcd returns only when the request did not take effect. */
const DEFINITE = [
  'etcdserver: request is too large',
  'etcdserver: too many requests',
  'etcdserver: requested lease not found',
  'mvcc: required revision has been compacted',
  'mvcc: required revision is a future revision',
  'etcdserver: mvcc: database space exceeded',
  'etcdserver: key is not provided',
  'etcdserver: duplicate key given in txn request',
  'etcdserver: too many operations in txn request',
];

export function classifyError(e: unknown, readOnly: boolean): { type: 'fail' | 'info'; error: OpError } {
  const message = e instanceof Error ? e.message : String(e);
  const name = e instanceof Error ? e.constructor.name : 'Error';
  const details = (e as { details?: unknown }).details;
  const text = `${message} ${typeof details === 'string' ? details : ''}`;
  let code: string;
  if (/request timed out|DeadlineExceeded|deadline exceeded/i.test(text) || name === 'GRPCDeadlineExceededError') code = 'timeout';
  else if (/leader changed/.test(text)) code = 'leader-changed';
  else if (/no leader/.test(text)) code = 'no-leader';
  else if (/ECONNREFUSED/.test(text)) code = 'connection-refused';
  else if (name === 'GRPCUnavailableError' || /UNAVAILABLE|Connection dropped|No connection established|ECONNRESET/i.test(text)) code = 'unavailable';
  else if (/compacted/.test(text)) code = 'compacted';
  else code = name.replace(/Error$/, '').replace(/^GRPC/, 'grpc-').toLowerCase() || 'error';
  const definite = DEFINITE.some((m) => text.includes(m)) || code === 'connection-refused';
  return { type: readOnly || definite ? 'fail' : 'info', error: { code, message: message.slice(0, 300) } };
}

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
      dialTimeout: o.opTimeoutMs,
      // One attempt per call: no retries, no host rotation, no circuit breaker.
      faultHandling: { host: () => noop, global: noop },
    });
  }

  private opts(): { deadline: number } {
    return { deadline: Date.now() + this.o.opTimeoutMs };
  }

  private async attempt<T>(readOnly: boolean, f: () => Promise<OpResult<T>>): Promise<OpResult<T>> {
    try {
      return await f();
    } catch (e) {
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

  delete(key: string, precondition?: Precondition): Promise<OpResult<{ readonly deleted: true }>> {
    return this.attempt(false, async () => {
      const k = Buffer.from(key);
      // Only if present (the store's semantics), and at the version given.
      const compare = [{ key: k, target: 'Version' as const, result: 'Greater' as const, version: 0 }, ...(this.preconditionCompares(key, precondition) ?? [])];
      const { txn, after } = await this.guardedWrite(key, compare, [{ request_delete_range: { key: k } }]);
      if (!txn.succeeded) return after === undefined ? { type: 'fail', error: { code: 'not-found', currentVersion: 0 }, node: this.node } : this.conflict(after);
      return this.ok({ deleted: true as const });
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
      const grant = await this.etcd.leaseClient.leaseGrant({ TTL: Math.max(1, Math.ceil(ttlMs / 1000)) }, this.opts());
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
   * a progress request at the end: etcd answers it with the revision up to which every event
   * was sent, which is the session's `progressRevision`.
   */
  async watch(prefix: string, fromRevision: number | undefined, durationMs: number): Promise<OpResult<WatchOutcome>> {
    const events: WatchEvent[] = [];
    let progressRevision: number | undefined;
    let error: string | undefined;
    let stream: Awaited<ReturnType<Etcd3['watchClient']['watch']>>;
    try {
      stream = await this.etcd.watchClient.watch();
    } catch (e) {
      return { type: 'fail', error: classifyError(e, true).error, node: this.node };
    }
    await new Promise<void>((resolve) => {
      let done = false;
      let created = false;
      let progressAsked = false;
      const finish = (why?: string): void => {
        if (done) return;
        done = true;
        if (why !== undefined) error = why;
        clearTimeout(timer);
        clearTimeout(progressTimer);
        stream.cancel();
        resolve();
      };
      const askProgress = (): void => {
        if (!created || progressAsked) return finish();
        progressAsked = true;
        stream.write({ progress_request: {} });
      };
      const timer = setTimeout(askProgress, durationMs);
      // A progress answer that never comes (a cut link) ends the session anyway.
      const progressTimer = setTimeout(() => finish(), durationMs + 1000);
      stream.on('data', (r: IWatchResponse) => {
        if (r.created) created = true;
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
          if (progressAsked) finish();
        }
      });
      stream.on('error', (e: Error) => finish(e.message));
      stream.on('end', () => finish('stream ended'));
      stream.write({ create_request: { key: Buffer.from(prefix), range_end: prefixEnd(prefix), ...(fromRevision !== undefined ? { start_revision: fromRevision } : {}) } });
    });
    return this.ok({ events, ...(progressRevision !== undefined ? { progressRevision } : {}), ...(error !== undefined ? { error } : {}) });
  }

  /**
   * A list-append transaction as a read-modify-write, like the store's
   * (raftstore/append-txn.ts plans it): one txn reads every key, the micro-ops run locally,
   * and one txn commits the appends only if every key is still at the version read.
   */
  txn(ops: readonly MicroOp[]): Promise<OpResult<readonly MicroOp[]>> {
    return this.attempt(false, async () => {
      const keys = keysOf(ops);
      const readTxn = await this.etcd.kv.txn({ success: keys.map((k) => ({ request_range: { key: Buffer.from(k) } })) }, this.opts());
      const read = new Map<string, ReadList>();
      keys.forEach((k, i) => {
        const kv = readTxn.responses[i]?.response_range.kvs[0];
        const value = decode(kv?.value);
        read.set(k, { list: Array.isArray(value) ? (value as number[]) : [], version: num(kv?.version) });
      });
      const plan = planAppend(ops, read);
      if (plan.commit === null) return this.ok(plan.completed);
      const compare = plan.commit.map((c) => ({ key: Buffer.from(c.key), target: 'Version' as const, result: 'Equal' as const, version: 'expectedVersion' in c ? c.expectedVersion : 0 }));
      const success = plan.commit.filter((c) => c.op === 'put').map((c) => ({ request_put: { key: Buffer.from(c.key), value: encode((c as { value: readonly number[] }).value) } }));
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
