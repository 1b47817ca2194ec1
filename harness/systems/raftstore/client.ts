/**
 * The store's client for the harness: each abstract operation (workloads/client.ts) is one
 * HTTP request to a node (impl/API.md), classified as Jepsen does. A `not-leader` answer is
 * definite (the node did not act), so following its hint keeps the one attempt; the client
 * remembers the leader it learned, so a process pays the redirect once, not on every
 * operation. Serializable reads (`stale=true`) stay on the process's own node: reading one
 * member's local state is their point.
 */
import type { ClientOptions, DeleteResult, LeaseGrant, MicroOp, OpError, OpResult, Precondition, RangeItem, SystemClient, Versioned, WatchEvent, WatchOutcome, WriteResult } from '../../../workloads/client.ts';
import type { AppendPlan } from './append-txn.ts';
import { listsFromReads, NotAListError, planAppend, readOps } from './append-txn.ts';
import type { CallOptions, CallOutcome, HttpEnv } from './http.ts';
import { call } from './http.ts';

/** At most this many redirects per operation (a hint can be stale during an election). */
const MAX_HOPS = 2;

export interface RaftstoreClientOptions extends ClientOptions {
  /** The history's process number: part of the exactly-once client id. */
  readonly process: number;
  /** Client URL of every node, by id (leader hints name ids). */
  readonly urls: ReadonlyMap<string, string>;
  /** The node this process is bound to. */
  readonly node: string;
  /** Unique per run, so client ids never collide with another run's on a reused cluster. */
  readonly runTag: string;
}

export class RaftstoreClient implements SystemClient {
  readonly node: string;
  private target: string;
  private seq = 0;
  private readonly clientId: string;

  constructor(
    private readonly o: RaftstoreClientOptions,
    private readonly env: HttpEnv,
  ) {
    this.node = o.node;
    this.target = o.node;
    this.clientId = `p${o.process}-${o.runTag}`;
  }

  private get stale(): boolean {
    return this.o.readConsistency === 'serializable';
  }

  /** One request; follows definite `not-leader` hints (at most MAX_HOPS) and remembers the leader. */
  private async request(path: string, opts: Omit<CallOptions, 'timeoutMs'>, local = false): Promise<{ outcome: CallOutcome; node: string }> {
    const deadline = this.env.clock.now() + this.o.opTimeoutMs;
    let target = local ? this.node : this.target;
    for (let hop = 0; ; hop++) {
      const url = this.o.urls.get(target);
      if (url === undefined) throw new Error(`no client URL for node ${target}`);
      const outcome = await call(url, path, { ...opts, timeoutMs: Math.max(1, deadline - this.env.clock.now()) }, this.env);
      if (!local && outcome.kind === 'error' && outcome.code === 'not-leader' && outcome.leaderHint !== null && this.o.urls.has(outcome.leaderHint) && hop < MAX_HOPS && this.env.clock.now() < deadline) {
        target = outcome.leaderHint;
        this.target = target;
        continue;
      }
      if (!local && outcome.kind === 'error' && (!outcome.definite || outcome.status === null)) {
        // The node we remembered may be gone or deposed: the next operation starts at home
        // again. That includes a refused connection (definite, but the node is down): a
        // process that kept its dead leader would fail every operation until it came back.
        this.target = this.node;
      }
      return { outcome, node: target };
    }
  }

  private write(path: string, body: Record<string, unknown>): Promise<{ outcome: CallOutcome; node: string }> {
    return this.request(path, { method: 'POST', body: { ...body, clientId: this.clientId, seq: ++this.seq } });
  }

  async read(key: string): Promise<OpResult<Versioned | null>> {
    const { outcome, node } = await this.request(`/v1/kv/get?key=${encodeURIComponent(key)}${this.stale ? '&stale=true' : ''}`, { method: 'GET' }, this.stale);
    if (outcome.kind === 'error' && outcome.code === 'not-found') return { type: 'ok', value: null, node };
    return classify(outcome, node, true, (b) => ({ value: b.value, version: num(b.version), modRevision: num(b.modRevision), createRevision: num(b.createRevision) }));
  }

  async put(key: string, value: unknown, precondition?: Precondition): Promise<OpResult<WriteResult>> {
    const expectedVersion = precondition === undefined ? undefined : precondition === 'absent' ? 0 : precondition.version;
    const { outcome, node } = await this.write('/v1/kv/put', { key, value, ...(expectedVersion !== undefined ? { expectedVersion } : {}) });
    return classify(outcome, node, false, (b) => ({ version: num(b.version), modRevision: num(b.modRevision) }));
  }

  async create(key: string, value: unknown): Promise<OpResult<WriteResult>> {
    const { outcome, node } = await this.write('/v1/kv/create', { key, value });
    return classify(outcome, node, false, (b) => ({ version: num(b.version), modRevision: num(b.modRevision) }));
  }

  async delete(key: string, precondition?: Precondition): Promise<OpResult<DeleteResult>> {
    const expectedVersion = precondition === undefined || precondition === 'absent' ? undefined : precondition.version;
    const { outcome, node } = await this.write('/v1/kv/delete', { key, ...(expectedVersion !== undefined ? { expectedVersion } : {}) });
    return classify(outcome, node, false, (b) => ({ deleted: true as const, ...(typeof b.revision === 'number' ? { revision: b.revision } : {}) }));
  }

  async range(prefix: string): Promise<OpResult<readonly RangeItem[]>> {
    const { outcome, node } = await this.request(`/v1/kv/range?prefix=${encodeURIComponent(prefix)}${this.stale ? '&stale=true' : ''}`, { method: 'GET' }, this.stale);
    return classify(outcome, node, true, (b) =>
      (Array.isArray(b.items) ? (b.items as Record<string, unknown>[]) : []).map((it) => ({ key: String(it.key), value: it.value, version: num(it.version), modRevision: num(it.modRevision) })),
    );
  }

  async setAdd(name: string, element: number): Promise<OpResult<number>> {
    const r = await this.create(`set/${name}/${element}`, element);
    return r.type === 'ok' ? { type: 'ok', value: element, ...(r.node !== undefined ? { node: r.node } : {}) } : r;
  }

  async setRead(name: string): Promise<OpResult<readonly number[]>> {
    const r = await this.range(`set/${name}/`);
    if (r.type !== 'ok') return r;
    return { type: 'ok', value: r.value.map((it) => Number(it.value)).sort((a, b) => a - b), ...(r.node !== undefined ? { node: r.node } : {}) };
  }

  async leaseAcquire(name: string, holder: string, ttlMs: number): Promise<OpResult<LeaseGrant>> {
    const { outcome, node } = await this.write('/v1/lease/acquire', { name, holder, ttlMs });
    return classify(outcome, node, false, (b) => grant(b));
  }

  async leaseRenew(name: string, holder: string, token: number | string): Promise<OpResult<LeaseGrant>> {
    const { outcome, node } = await this.write('/v1/lease/renew', { name, holder, token });
    return classify(outcome, node, false, (b) => grant(b));
  }

  async leaseRelease(name: string, holder: string, token: number | string): Promise<OpResult<{ readonly released: true }>> {
    const { outcome, node } = await this.write('/v1/lease/release', { name, holder, token });
    return classify(outcome, node, false, () => ({ released: true as const }));
  }

  /** One watch connection to this process's own node for `durationMs` (or until the stream breaks). */
  async watch(prefix: string, fromRevision: number | undefined, durationMs: number): Promise<OpResult<WatchOutcome>> {
    const node = this.node;
    const url = this.o.urls.get(node);
    if (url === undefined) throw new Error(`no client URL for node ${node}`);
    const events: WatchEvent[] = [];
    let progressRevision: number | undefined;
    let buf = '';
    let parseError: string | undefined;
    const q = `prefix=${encodeURIComponent(prefix)}${fromRevision !== undefined ? `&fromRevision=${fromRevision}` : ''}`;
    let head = ''; // the answer's first bytes: a refusal's JSON body, whatever the line parsing did with it
    const out = await this.env.http.stream(`${url}/v1/watch?${q}`, durationMs, (text) => {
      if (head.length < 4096) head += text.slice(0, 4096 - head.length);
      buf += text;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === '') continue;
        let e: { type?: string; revision?: number; key?: string; value?: unknown; version?: number };
        try {
          e = JSON.parse(line) as typeof e;
        } catch {
          parseError = `unparseable watch line: ${line.slice(0, 80)}`;
          continue;
        }
        if (e.type === 'progress') progressRevision = e.revision;
        else if ((e.type === 'put' || e.type === 'delete') && typeof e.revision === 'number' && typeof e.key === 'string') {
          events.push({ type: e.type, key: e.key, revision: e.revision, ...(e.value !== undefined ? { value: e.value } : {}), ...(typeof e.version === 'number' ? { version: e.version } : {}) });
        }
      }
    });
    // Refused because the start revision is compacted (410, impl/API.md): the body names the
    // compactRevision, and the store's history begins after it.
    const compacted = out.status === 410 ? compactRevisionOf(head) : null;
    const error = compacted !== null ? `compacted: compact revision ${compacted}` : (parseError ?? out.error);
    return { type: 'ok', value: { events, ...(progressRevision !== undefined ? { progressRevision } : {}), ...(compacted !== null ? { compacted: compacted + 1 } : {}), ...(error !== undefined ? { error } : {}) }, node };
  }

  /**
   * A list-append transaction as two store txns (append-txn.ts): a read-only txn of gets
   * (any error: `fail`, it changed nothing), then, if it appends, the commit with its
   * compares (a version conflict: `fail`, it did not commit). Each request has the whole
   * `--op-timeout`. Txns always go through the log, so `--read-consistency` does not apply.
   */
  async txn(ops: readonly MicroOp[]): Promise<OpResult<readonly MicroOp[]>> {
    const read = await this.write('/v1/kv/txn', { ops: readOps(ops) });
    if (read.outcome.kind !== 'ok') return classify(read.outcome, read.node, true, () => []);
    let plan: AppendPlan;
    try {
      plan = planAppend(ops, listsFromReads(ops, arrayOf(read.outcome.body.results)));
    } catch (e) {
      return { type: 'fail', error: { code: e instanceof NotAListError ? 'not-a-list' : 'bad-response', message: (e as Error).message }, node: read.node };
    }
    if (plan.commit === null) return { type: 'ok', value: plan.completed, node: read.node };
    const commit = await this.write('/v1/kv/txn', { ops: plan.commit });
    return classify(commit.outcome, commit.node, false, () => plan.completed);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function arrayOf(x: unknown): unknown[] {
  return Array.isArray(x) ? x : [];
}

function num(x: unknown): number {
  return typeof x === 'number' ? x : 0;
}

function grant(b: Record<string, unknown>): LeaseGrant {
  const token = b.token;
  return { token: typeof token === 'number' || typeof token === 'string' ? token : 0, ...(typeof b.ttlMs === 'number' ? { ttlMs: b.ttlMs } : {}) };
}

/**
 * A call's outcome as a history completion: ok; fail when the store said the error is
 * definite (or the connection was refused); info otherwise. A read changed nothing whatever
 * happened, so any error on a read is `fail` (as Jepsen records crashed reads).
 */
export function classify<T>(outcome: CallOutcome, node: string, readOnly: boolean, okValue: (body: Record<string, unknown>) => T): OpResult<T> {
  if (outcome.kind === 'ok') return { type: 'ok', value: okValue(outcome.body), node };
  const err = (outcome.body?.error ?? {}) as { currentVersion?: unknown; message?: unknown };
  const error: OpError = {
    code: outcome.code,
    ...(outcome.status !== null ? { status: outcome.status } : {}),
    ...(typeof err.currentVersion === 'number' ? { currentVersion: err.currentVersion } : {}),
  };
  return { type: outcome.definite || readOnly ? 'fail' : 'info', error, node };
}

/** The compactRevision of a 410 answer's body (`{"error": {"code": "compacted", "compactRevision"}}`), or null. */
function compactRevisionOf(body: string): number | null {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; compactRevision?: unknown } };
    const r = parsed.error?.compactRevision;
    return parsed.error?.code === 'compacted' && typeof r === 'number' ? r : null;
  } catch {
    return null;
  }
}
