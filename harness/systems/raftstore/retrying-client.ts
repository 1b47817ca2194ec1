/**
 * `--client retrying`: every operation through the store's own client library, StoreClient
 * (impl/client), as an application uses it: leader discovery, a deadline per attempt,
 * retries with the same exactly-once id `(clientId, seq)` after a timeout or a lost
 * connection, so a request that may have applied is sent again and must still apply at most
 * once. The history records what the application saw (Jepsen's approach to a client
 * library): `ok` with what StoreClient returned; `fail` when StoreClient's error is definite;
 * `info` when its retries gave up on an indefinite one (a read: `fail`, it changed nothing).
 *
 * List-append transactions (append-txn.ts) are what an application does with optimistic
 * concurrency: read, commit with compares, and on a version conflict (definite: nothing was
 * written) read again and retry, at most MAX_ROUNDS times. A retried request that applied
 * twice would show: its retry answers a conflict instead of the recorded ok, the
 * application appends again, and the element is in the list twice.
 *
 * StoreClient runs over the run's HTTP transport and clock (its `exchange` and `sleep`
 * options), so its timeouts are the run's. Watches use StoreClient's fetch stream.
 */
import type { ExchangeOutcome, HttpExchange, JsonValue, StoreClientOptions, TxnOp } from '../../../impl/client/index.ts';
import { CompactedError, StoreClient, StoreError, VersionConflictError } from '../../../impl/client/index.ts';
import type { ClientOptions, DeleteResult, LeaseGrant, MicroOp, OpError, OpResult, Precondition, RangeItem, SystemClient, Versioned, WatchEvent, WatchOutcome, WriteResult } from '../../../workloads/client.ts';
import { HttpTransportError } from '../../runtime/http-transport.ts';
import { listsFromReads, NotAListError, planAppend, readOps } from './append-txn.ts';
import type { HttpEnv } from './http.ts';

/** Read-then-commit rounds of one list-append transaction before the application gives up on conflicts. */
export const MAX_ROUNDS = 5;

export interface RetryingClientOptions extends ClientOptions {
  readonly process: number;
  /** Client URL of every node, by id. */
  readonly urls: ReadonlyMap<string, string>;
  /** This process's node: StoreClient tries it first, then the others in order. */
  readonly node: string;
  readonly runTag: string;
  /** StoreClient's attempts per request (its default when absent). */
  readonly maxAttempts?: number;
}

/** The run's transport as a StoreClient exchange. */
export function exchangeOver(env: HttpEnv): HttpExchange {
  return async (req): Promise<ExchangeOutcome> => {
    try {
      const res = await env.http.request({ method: req.method, url: req.url, headers: req.headers, ...(req.body !== undefined ? { body: req.body } : {}), timeoutMs: req.timeoutMs });
      return { kind: 'answer', status: res.status, text: res.body };
    } catch (e) {
      if (e instanceof HttpTransportError) return { kind: 'failed', reason: e.code, message: e.message };
      throw e;
    }
  };
}

export class RetryingRaftstoreClient implements SystemClient {
  readonly node: string;
  readonly store: StoreClient;
  /** The node of the latest attempt: the history's `node`. */
  private lastNode: string;

  constructor(
    private readonly o: RetryingClientOptions,
    private readonly env: HttpEnv,
    /** Test hook: replaces the StoreClient options derived from `o` and `env`. */
    override: Partial<StoreClientOptions> = {},
  ) {
    this.node = o.node;
    this.lastNode = o.node;
    const ids = [o.node, ...[...o.urls.keys()].filter((id) => id !== o.node)];
    this.store = new StoreClient({
      endpoints: ids.map((id) => ({ id, url: o.urls.get(id) ?? '' })),
      clientId: `p${o.process}-${o.runTag}`,
      requestTimeoutMs: o.opTimeoutMs,
      ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
      exchange: exchangeOver(env),
      sleep: (ms) => env.clock.sleep(ms),
      onAttempt: (a) => {
        this.lastNode = a.node;
      },
      ...override,
    });
  }

  private get stale(): boolean {
    return this.o.readConsistency === 'serializable';
  }

  /** Run one StoreClient call and classify its outcome. */
  private async run<A, T>(readOnly: boolean, call: () => Promise<A>, okValue: (a: A) => T): Promise<OpResult<T>> {
    try {
      const a = await call();
      return { type: 'ok', value: okValue(a), node: this.lastNode };
    } catch (e) {
      return failure(e, readOnly, this.lastNode);
    }
  }

  read(key: string): Promise<OpResult<Versioned | null>> {
    return this.run(
      true,
      () => this.store.get(key, { stale: this.stale }),
      (r) => (r === null ? null : { value: r.value, version: r.version, modRevision: r.modRevision, createRevision: r.createRevision }),
    );
  }

  put(key: string, value: unknown, precondition?: Precondition): Promise<OpResult<WriteResult>> {
    const expectedVersion = precondition === undefined ? undefined : precondition === 'absent' ? 0 : precondition.version;
    return this.run(
      false,
      () => this.store.put(key, value as JsonValue, expectedVersion !== undefined ? { expectedVersion } : {}),
      (w) => ({ version: w.version, modRevision: w.modRevision }),
    );
  }

  create(key: string, value: unknown): Promise<OpResult<WriteResult>> {
    return this.run(
      false,
      () => this.store.create(key, value as JsonValue),
      (w) => ({ version: w.version, modRevision: w.modRevision }),
    );
  }

  delete(key: string, precondition?: Precondition): Promise<OpResult<DeleteResult>> {
    const expectedVersion = precondition === undefined || precondition === 'absent' ? undefined : precondition.version;
    return this.run(
      false,
      () => this.store.delete(key, expectedVersion !== undefined ? { expectedVersion } : {}),
      (d) => ({ deleted: true as const, revision: d.revision }),
    );
  }

  range(prefix: string): Promise<OpResult<readonly RangeItem[]>> {
    return this.run(
      true,
      () => this.store.range(prefix, { stale: this.stale }),
      (r) => r.items.map((it) => ({ key: it.key, value: it.value, version: it.version, modRevision: it.modRevision })),
    );
  }

  async setAdd(name: string, element: number): Promise<OpResult<number>> {
    const r = await this.create(`set/${name}/${element}`, element);
    return r.type === 'ok' ? { ...r, value: element } : r;
  }

  async setRead(name: string): Promise<OpResult<readonly number[]>> {
    const r = await this.range(`set/${name}/`);
    return r.type === 'ok' ? { ...r, value: r.value.map((it) => Number(it.value)).sort((a, b) => a - b) } : r;
  }

  leaseAcquire(name: string, holder: string, ttlMs: number): Promise<OpResult<LeaseGrant>> {
    return this.run(
      false,
      () => this.store.acquireLease(name, holder, ttlMs),
      (g) => ({ token: g.token, ttlMs: g.ttlMs }),
    );
  }

  leaseRenew(name: string, holder: string, token: number | string): Promise<OpResult<LeaseGrant>> {
    return this.run(
      false,
      () => this.store.renewLease(name, holder, Number(token)),
      (g) => ({ token: g.token, ttlMs: g.ttlMs }),
    );
  }

  leaseRelease(name: string, holder: string, token: number | string): Promise<OpResult<{ readonly released: true }>> {
    return this.run(
      false,
      () => this.store.releaseLease(name, holder, Number(token)),
      () => ({ released: true as const }),
    );
  }

  /** StoreClient's watch stream for `durationMs`: what it delivered, and why it ended early if it did; `fail` if it never connected. */
  async watch(prefix: string, fromRevision: number | undefined, durationMs: number): Promise<OpResult<WatchOutcome>> {
    const events: WatchEvent[] = [];
    let progressRevision: number | undefined;
    const stop = new AbortController();
    let connected = false;
    const timer = this.env.clock.after(durationMs, () => stop.abort());
    try {
      for await (const m of this.store.watch(prefix, { ...(fromRevision !== undefined ? { fromRevision } : {}), signal: stop.signal })) {
        connected = true;
        if (m.type === 'progress') progressRevision = m.revision;
        else events.push({ type: m.type, key: m.key, revision: m.revision, value: m.value, version: m.version });
      }
      return { type: 'ok', value: { events, ...(progressRevision !== undefined ? { progressRevision } : {}) }, node: this.lastNode };
    } catch (e) {
      // Refused because the start revision is compacted: the store's history begins after compactRevision.
      if (e instanceof CompactedError) return { type: 'ok', value: { events, compacted: e.compactRevision + 1, error: e.message }, node: this.lastNode };
      if (!connected) return failure(e, true, this.lastNode);
      return { type: 'ok', value: { events, ...(progressRevision !== undefined ? { progressRevision } : {}), error: e instanceof Error ? e.message : String(e) }, node: this.lastNode };
    } finally {
      timer.cancel();
    }
  }

  /**
   * A list-append transaction (append-txn.ts) with optimistic retries: read, commit; on a
   * version conflict read again, at most MAX_ROUNDS rounds. Each request is StoreClient's,
   * with its own retries.
   */
  async txn(ops: readonly MicroOp[]): Promise<OpResult<readonly MicroOp[]>> {
    let conflict: unknown = null;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let plan;
      try {
        const read = await this.store.txn(readOps(ops) as TxnOp[]);
        plan = planAppend(ops, listsFromReads(ops, read.results));
      } catch (e) {
        if (e instanceof NotAListError) return { type: 'fail', error: { code: 'not-a-list', message: e.message }, node: this.lastNode };
        return failure(e, true, this.lastNode);
      }
      if (plan.commit === null) return { type: 'ok', value: plan.completed, node: this.lastNode };
      try {
        await this.store.txn(plan.commit as TxnOp[]);
        return { type: 'ok', value: plan.completed, node: this.lastNode };
      } catch (e) {
        if (!(e instanceof VersionConflictError)) return failure(e, false, this.lastNode);
        conflict = e;
      }
    }
    return failure(conflict, false, this.lastNode);
  }

  close(): Promise<void> {
    this.store.close();
    return Promise.resolve();
  }
}

/**
 * A StoreClient error as a completion: `fail` when definite (or on a read), `info` otherwise.
 * Anything that is not a StoreError is a bug in the client: `info` for a write (it may have
 * been sent), `fail` for a read.
 */
export function failure(e: unknown, readOnly: boolean, node: string): OpResult<never> {
  if (!(e instanceof StoreError)) return { type: readOnly ? 'fail' : 'info', error: { code: 'client-error', message: e instanceof Error ? e.message : String(e) }, node };
  const error: OpError = {
    code: e.code,
    ...(e.status !== null ? { status: e.status } : {}),
    message: e.message,
    ...(e instanceof VersionConflictError ? { currentVersion: e.currentVersion } : {}),
  };
  return { type: e.definite || readOnly ? 'fail' : 'info', error, node: e.node ?? node };
}
