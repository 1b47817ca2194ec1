/**
 * Typed client of the config store's HTTP API (impl/API.md).
 *
 * - Leader discovery: requests go to the node believed to lead; a 421 answer's hint moves
 *   the client to that node, otherwise the next node is tried.
 * - Timeouts: every attempt has its own deadline (AbortSignal.timeout).
 * - Retries only where safe. Reads are retried freely. A write gets one (clientId, seq)
 *   and every retry resends the SAME pair, so the store's exactly-once table makes the
 *   retry return the first outcome instead of applying twice. Membership changes carry no
 *   request id and are retried only after definite refusals.
 * - Errors are typed (./errors.ts) and say whether the operation may have happened. A write
 *   whose attempts include one that may have applied ends in IndefiniteError unless a
 *   later attempt learned the outcome.
 * - A client keeps at most `writeWindow` (default 32, the store's remembered window) writes
 *   in flight, so a retry never falls out of the store's exactly-once window.
 */
import { Agent, request as httpRequest } from 'node:http';
import {
  CompactedError,
  IndefiniteError,
  NoLeaderError,
  NotLeaderError,
  StoreError,
  errorFromAnswer,
} from './errors.ts';

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export interface Endpoint {
  readonly id: string;
  readonly url: string;
}

export interface KeyValue {
  readonly key: string;
  readonly value: JsonValue;
  readonly version: number;
  readonly createRevision: number;
  readonly modRevision: number;
}
export interface ReadResult extends KeyValue {
  /** Store revision at the time of the read. */
  readonly revision: number;
}
export interface WriteResult {
  readonly key: string;
  readonly version: number;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly revision: number;
}
export interface DeleteResult {
  readonly key: string;
  readonly deleted: true;
  readonly revision: number;
}
/**
 * One op of a txn (impl/API.md, "Transactions"): writes with their preconditions, `get` (the
 * key as of the txn) and `compare` (a precondition that writes nothing; `expectedVersion` 0 =
 * absent). Each key at most once per txn.
 */
export type TxnOp =
  | { readonly op: 'create'; readonly key: string; readonly value: JsonValue }
  | { readonly op: 'put'; readonly key: string; readonly value: JsonValue; readonly expectedVersion?: number }
  | { readonly op: 'delete'; readonly key: string; readonly expectedVersion?: number }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'compare'; readonly key: string; readonly expectedVersion: number };
/** A txn `get`'s answer: the key, or `found: false` (version 0) when absent. */
export type TxnGetResult = (KeyValue & { readonly found: true }) | { readonly key: string; readonly found: false; readonly version: 0 };
/** A txn `compare` that held: the key's version. */
export interface TxnCompareResult {
  readonly key: string;
  readonly version: number;
}
export type TxnOpResult = Omit<WriteResult, 'revision'> | Omit<DeleteResult, 'revision'> | TxnGetResult | TxnCompareResult;
export interface TxnResult {
  /** One per op, in order (a get's, a compare's or a write's shape as its op says). */
  readonly results: readonly TxnOpResult[];
  /** The txn's new revision, or the revision it read at when it wrote nothing. */
  readonly revision: number;
}

/** One HTTP request for an `exchange` (see StoreClientOptions). */
export interface ExchangeRequest {
  readonly method: 'GET' | 'POST';
  /** Absolute URL. */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly timeoutMs: number;
}
/**
 * What an exchange got: an answer (any status), or no answer. `refused`: nothing listened, so
 * nothing was sent (definite); `timeout` and `connection-lost`: the request may have arrived.
 */
export type ExchangeOutcome =
  | { readonly kind: 'answer'; readonly status: number; readonly text: string }
  | { readonly kind: 'failed'; readonly reason: 'refused' | 'timeout' | 'connection-lost'; readonly message: string };
/** A caller's own HTTP stack for non-streaming requests. */
export type HttpExchange = (request: ExchangeRequest) => Promise<ExchangeOutcome>;
export interface LeaseGrant {
  readonly name: string;
  readonly holder: string;
  readonly token: number;
  readonly ttlMs: number;
  readonly revision: number;
}
export interface LeaseInfo {
  readonly name: string;
  readonly holder: string | null;
  readonly token: number | null;
  readonly ttlMs?: number;
  readonly revision: number;
}
export interface WatchEvent extends KeyValue {
  readonly revision: number;
  readonly type: 'put' | 'delete';
}
export type WatchMessage = WatchEvent | { readonly type: 'progress'; readonly revision: number };
export interface Members {
  readonly voters: readonly string[];
  readonly learners: readonly string[];
}
export interface NodeStatus {
  readonly id: string;
  readonly role: 'follower' | 'pre-candidate' | 'candidate' | 'leader';
  readonly term: number;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly members: Members;
  readonly unsafe: readonly string[];
  readonly storageFaultMode: boolean;
  readonly revision: number;
}

export interface StoreClientOptions {
  readonly endpoints: readonly Endpoint[];
  /** Deadline of one attempt, ms. Default 2000. */
  readonly requestTimeoutMs?: number;
  /** Most attempts per operation (across nodes). Default 8. */
  readonly maxAttempts?: number;
  /** First retry delay, ms; doubles per retry up to 500 ms. Default 25. */
  readonly retryBackoffMs?: number;
  /** Default: random. Must be unique among all clients of a store. */
  readonly clientId?: string;
  /** Writes in flight at once. Default 32 (the store's exactly-once window); more is refused. */
  readonly writeWindow?: number;
  /**
   * HTTP stack for non-streaming requests: 'fetch' (global fetch, the default) or
   * 'node-http' (node:http with a keep-alive agent; about twice the requests per second
   * of fetch on a busy 2-core machine). Watches always use fetch.
   */
  readonly transport?: 'fetch' | 'node-http';
  /** Test hook. Default: global fetch. */
  readonly fetch?: typeof fetch;
  /**
   * Bring your own HTTP stack for non-streaming requests (overrides `transport`): e.g. the
   * harness's transport, whose timeouts run on its run clock, real or simulated. Watches
   * still use `fetch`.
   */
  readonly exchange?: HttpExchange;
  /** Waits between retries. Default: a timer. (The harness passes its run clock's sleep.) */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * Called after every attempt of a routed operation (which node, what came back), e.g. to
   * record the node that served an operation in a history.
   */
  readonly onAttempt?: (attempt: AttemptInfo) => void;
}

export interface AttemptInfo {
  readonly node: string;
  readonly method: string;
  readonly path: string;
  /** HTTP status, or null when no answer arrived. */
  readonly status: number | null;
  readonly error: StoreError | null;
}

export interface ReadOptions {
  /** Served by any node from its applied state, without a read barrier. */
  readonly stale?: boolean;
}

/** The store's exactly-once window (impl/API.md). */
export const STORE_WRITE_WINDOW = 32;

type Attempt = { readonly kind: 'answer'; readonly value: unknown } | { readonly kind: 'error'; readonly error: StoreError; readonly retry: 'leader-hint' | 'other-node' | 'no' };

export class StoreClient {
  readonly clientId: string;
  /** Configured endpoints, plus nodes learned from leader hints. */
  private readonly endpoints: Endpoint[];
  private readonly requestTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly retryBackoffMs: number;
  private readonly writeWindow: number;
  private readonly fetchImpl: typeof fetch;
  private readonly agent: Agent | null;
  private readonly exchange: HttpExchange | null;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly onAttempt: ((attempt: AttemptInfo) => void) | null;
  /** Index of the endpoint believed to lead. */
  private preferred = 0;
  private nextSeq = 1;
  private readonly outstanding = new Set<number>();
  private readonly windowWaiters: (() => void)[] = [];

  constructor(options: StoreClientOptions) {
    if (options.endpoints.length === 0) throw new Error('StoreClient: endpoints must not be empty');
    for (const e of options.endpoints) {
      try {
        new URL(e.url);
      } catch {
        throw new Error(`StoreClient: endpoint ${e.id} has an invalid url ${JSON.stringify(e.url)}`);
      }
    }
    this.endpoints = options.endpoints.map((e) => ({ id: e.id, url: e.url.replace(/\/+$/, '') }));
    this.requestTimeoutMs = options.requestTimeoutMs ?? 2000;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.retryBackoffMs = options.retryBackoffMs ?? 25;
    this.writeWindow = options.writeWindow ?? STORE_WRITE_WINDOW;
    if (this.writeWindow < 1 || this.writeWindow > STORE_WRITE_WINDOW) {
      throw new Error(`StoreClient: writeWindow must be in [1, ${STORE_WRITE_WINDOW}], got ${this.writeWindow}`);
    }
    this.clientId = options.clientId ?? `c-${crypto.randomUUID()}`;
    this.fetchImpl = options.fetch ?? fetch;
    this.onAttempt = options.onAttempt ?? null;
    this.exchange = options.exchange ?? null;
    this.sleep = options.sleep ?? sleep;
    this.agent = options.transport === 'node-http' && this.exchange === null ? new Agent({ keepAlive: true, maxSockets: 256 }) : null;
  }

  /** The node the client currently sends leader-only requests to. */
  get leaderGuess(): Endpoint {
    return this.endpoints[this.preferred]!;
  }

  /** Release pooled connections (node-http transport). The client must not be used afterwards. */
  close(): void {
    this.agent?.destroy();
  }

  // ---- keys -----------------------------------------------------------------------------

  /** The key, or null when absent. */
  async get(key: string, options: ReadOptions = {}): Promise<ReadResult | null> {
    try {
      return (await this.read(`/v1/kv/get?${query({ key, stale: options.stale })}`)) as ReadResult;
    } catch (e) {
      if (e instanceof StoreError && e.code === 'not-found' && e.definite) return null;
      throw e;
    }
  }

  async range(prefix: string, options: ReadOptions = {}): Promise<{ readonly items: readonly KeyValue[]; readonly revision: number }> {
    return (await this.read(`/v1/kv/range?${query({ prefix, stale: options.stale })}`)) as { items: KeyValue[]; revision: number };
  }

  /** Throws KeyExistsError when the key exists. */
  async create(key: string, value: JsonValue): Promise<WriteResult> {
    return (await this.write('/v1/kv/create', { key, value })) as WriteResult;
  }

  /** `expectedVersion` 0 means "must not exist". Throws VersionConflictError on a mismatch. */
  async put(key: string, value: JsonValue, options: { readonly expectedVersion?: number } = {}): Promise<WriteResult> {
    return (await this.write('/v1/kv/put', { key, value, ...defined({ expectedVersion: options.expectedVersion }) })) as WriteResult;
  }

  /** Throws NotFoundError when absent, VersionConflictError on a mismatch. */
  async delete(key: string, options: { readonly expectedVersion?: number } = {}): Promise<DeleteResult> {
    return (await this.write('/v1/kv/delete', { key, ...defined({ expectedVersion: options.expectedVersion }) })) as DeleteResult;
  }

  /** All or nothing. A failed precondition throws its error with `details.opIndex`. */
  async txn(ops: readonly TxnOp[]): Promise<TxnResult> {
    return (await this.write('/v1/kv/txn', { ops })) as TxnResult;
  }

  // ---- leases ---------------------------------------------------------------------------

  /** Throws LeaseHeldError when another holder has it. See impl/API.md "Lease guarantee". */
  async acquireLease(name: string, holder: string, ttlMs: number): Promise<LeaseGrant> {
    return (await this.write('/v1/lease/acquire', { name, holder, ttlMs })) as LeaseGrant;
  }

  /** Throws LeaseLostError when the lease is no longer this grant. */
  async renewLease(name: string, holder: string, token: number): Promise<LeaseGrant> {
    return (await this.write('/v1/lease/renew', { name, holder, token })) as LeaseGrant;
  }

  async releaseLease(name: string, holder: string, token: number): Promise<{ readonly name: string; readonly released: true; readonly revision: number }> {
    return (await this.write('/v1/lease/release', { name, holder, token })) as { name: string; released: true; revision: number };
  }

  async getLease(name: string, options: ReadOptions = {}): Promise<LeaseInfo> {
    return (await this.read(`/v1/lease/get?${query({ name, stale: options.stale })}`)) as LeaseInfo;
  }

  // ---- watch ----------------------------------------------------------------------------

  /**
   * One watch stream: the history from `fromRevision` (default: now), then live events and
   * progress lines, until the stream ends, fails or `signal` aborts. Does not reconnect —
   * ClusterView does, resuming from the last revision + 1. Throws CompactedError when
   * `fromRevision` is compacted.
   */
  async *watch(prefix: string, options: { readonly fromRevision?: number; readonly signal?: AbortSignal } = {}): AsyncGenerator<WatchMessage, void, undefined> {
    const path = `/v1/watch?${query({ prefix, fromRevision: options.fromRevision })}`;
    let response: Response | null = null;
    let lastError: StoreError | null = null;
    let endpoint = this.leaderGuess;
    for (let i = 0; i < this.endpoints.length && response === null; i++) {
      endpoint = this.endpoints[(this.preferred + i) % this.endpoints.length]!;
      // The deadline covers only the wait for the answer's head: aborting later would cut the stream.
      const connect = new AbortController();
      const deadline = setTimeout(() => connect.abort(new DOMException('watch connect timed out', 'TimeoutError')), this.requestTimeoutMs);
      const signal = options.signal === undefined ? connect.signal : AbortSignal.any([connect.signal, options.signal]);
      try {
        const r = await this.fetchImpl(endpoint.url + path, { signal });
        clearTimeout(deadline);
        if (r.ok && r.body !== null) response = r;
        else {
          lastError = errorFromAnswer(r.status, await r.json().catch(() => null), endpoint.id);
          if (lastError instanceof CompactedError || lastError.code === 'bad-request') throw lastError;
        }
      } catch (e) {
        clearTimeout(deadline);
        if (e instanceof StoreError) throw e;
        if (options.signal?.aborted === true) return;
        lastError = transportError(e, endpoint.id);
      }
    }
    if (response === null) throw lastError ?? new StoreError('exhausted', 'no node answered the watch', true);
    const reader = response.body!.getReader();
    const onAbort = (): void => void reader.cancel().catch(() => {});
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        let chunk: { done: true; value?: undefined } | { done: false; value: Uint8Array };
        try {
          chunk = (await reader.read()) as typeof chunk;
        } catch (e) {
          if (options.signal?.aborted === true) return;
          throw transportError(e, endpoint.id);
        }
        if (chunk.done) return;
        buffer += decoder.decode(chunk.value, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          if (line.trim() === '') continue;
          yield JSON.parse(line) as WatchMessage;
        }
      }
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      await reader.cancel().catch(() => {});
    }
  }

  // ---- operations on one node -------------------------------------------------------------

  async status(nodeId: string): Promise<NodeStatus> {
    return (await this.once(this.endpoint(nodeId), 'GET', '/v1/status')) as NodeStatus;
  }

  async digest(nodeId: string, from: number, to: number): Promise<readonly { readonly index: number; readonly term: number; readonly hash: string }[]> {
    const answer = (await this.once(this.endpoint(nodeId), 'GET', `/v1/digest?${query({ from, to })}`)) as { entries: { index: number; term: number; hash: string }[] };
    return answer.entries;
  }

  /** Fault injection (`--enable-fault-injection`): skew one node's clock. */
  async setClock(
    nodeId: string,
    secret: string,
    body: { readonly offsetMs: number } | { readonly strobeMs: number; readonly periodMs: number; readonly durationMs: number } | { readonly reset: true },
  ): Promise<unknown> {
    return this.once(this.endpoint(nodeId), 'POST', '/v1/test/clock', body, { 'x-cluster-secret': secret });
  }

  // ---- membership (leader; no exactly-once id, so only definite refusals are retried) ----

  async addMember(id: string, peerAddr?: string): Promise<Members> {
    return ((await this.leaderRequest('POST', '/v1/members/add', { id, ...defined({ peerAddr }) }, false)) as { members: Members }).members;
  }

  async removeMember(id: string): Promise<Members> {
    return ((await this.leaderRequest('POST', '/v1/members/remove', { id }, false)) as { members: Members }).members;
  }

  // ---- machinery ------------------------------------------------------------------------

  private endpoint(nodeId: string): Endpoint {
    const e = this.endpoints.find((x) => x.id === nodeId);
    if (e === undefined) throw new Error(`StoreClient: unknown node ${JSON.stringify(nodeId)} (known: ${this.endpoints.map((x) => x.id).join(', ')})`);
    return e;
  }

  private async read(path: string): Promise<unknown> {
    return this.leaderRequest('GET', path, undefined, true);
  }

  private async write(path: string, body: Record<string, unknown>): Promise<unknown> {
    const seq = await this.takeSeq();
    try {
      return await this.leaderRequest('POST', path, { ...body, clientId: this.clientId, seq }, true);
    } finally {
      this.releaseSeq(seq);
    }
  }

  /**
   * Send to the presumed leader, following hints and trying other nodes. `idempotent`: the
   * request may be resent after an indefinite failure (reads, and writes with their
   * exactly-once id).
   */
  private async leaderRequest(method: 'GET' | 'POST', path: string, body: unknown, idempotent: boolean): Promise<unknown> {
    let maybeApplied: StoreError | null = null;
    let last: StoreError | null = null;
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      if (attempt > 0) await this.sleep(Math.min(this.retryBackoffMs * 2 ** (attempt - 1), 500) * (0.5 + Math.random() / 2));
      // Remember which node this attempt went to: `preferred` is shared by concurrent
      // requests and may have moved by the time the answer arrives.
      const tried = this.preferred;
      const endpoint = this.endpoints[tried]!;
      const result = await this.attempt(endpoint, method, path, body);
      this.onAttempt?.({
        node: endpoint.id,
        method,
        path,
        status: result.kind === 'answer' ? 200 : result.error.status,
        error: result.kind === 'answer' ? null : result.error,
      });
      if (result.kind === 'answer') return result.value;
      const error = result.error;
      last = error;
      if (!error.definite) {
        if (method === 'POST') maybeApplied = error;
        // Only an exactly-once write or a read may be sent again after it may have happened.
        if (!idempotent || error.code === 'stale-request') throw error;
      }
      // A definite answer from the store to the same (clientId, seq) is the write's recorded
      // outcome, even after an earlier attempt may have applied: it is authoritative.
      if (result.retry === 'no') throw error;
      if (result.retry === 'leader-hint' && error instanceof NotLeaderError) this.followHint(error, tried);
      else if (this.preferred === tried) this.preferred = (tried + 1) % this.endpoints.length;
    }
    const exhausted = last ?? new StoreError('exhausted', 'no attempt made', true);
    throw maybeApplied !== null ? asIndefinite(exhausted, maybeApplied) : exhausted;
  }

  /** `tried`: the endpoint that answered not-leader (a hint naming it again is stale). */
  private followHint(error: NotLeaderError, tried: number): void {
    const hint = error.leaderHint;
    let byId = hint === null ? -1 : this.endpoints.findIndex((e) => e.id === hint.id);
    if (byId < 0 && hint?.clientUrl != null && URL.canParse(hint.clientUrl)) {
      // A member the client was not configured with (added later): learn it from the hint.
      this.endpoints.push({ id: hint.id, url: hint.clientUrl.replace(/\/+$/, '') });
      byId = this.endpoints.length - 1;
    }
    if (byId >= 0 && byId !== tried) this.preferred = byId;
    else if (this.preferred === tried) this.preferred = (tried + 1) % this.endpoints.length;
  }

  private async attempt(endpoint: Endpoint, method: string, path: string, body: unknown): Promise<Attempt> {
    const answer = await this.send(endpoint, method, path, body);
    if (answer.kind === 'failed') return { kind: 'error', error: answer.error, retry: 'other-node' };
    if (answer.parsed === undefined) {
      // The answer was cut off: the request reached the node, so the outcome is unknown.
      return { kind: 'error', error: new IndefiniteError('bad-response', `unreadable answer from ${endpoint.id}: ${answer.parseError}`, answer.status, endpoint.id), retry: 'other-node' };
    }
    if (answer.status >= 200 && answer.status < 300) return { kind: 'answer', value: answer.parsed };
    const error = errorFromAnswer(answer.status, answer.parsed, endpoint.id);
    if (error instanceof NotLeaderError) return { kind: 'error', error, retry: 'leader-hint' };
    if (error instanceof NoLeaderError || error.code === 'stopped' || error.code === 'timeout' || (answer.status >= 500 && !error.definite)) {
      return { kind: 'error', error, retry: 'other-node' };
    }
    return { kind: 'error', error, retry: 'no' };
  }

  /** One request to one node, no retries. */
  private async once(endpoint: Endpoint, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    const answer = await this.send(endpoint, method, path, body, headers);
    if (answer.kind === 'failed') throw answer.error;
    if (answer.status < 200 || answer.status >= 300) throw errorFromAnswer(answer.status, answer.parsed ?? null, endpoint.id);
    return answer.parsed ?? null;
  }

  /** One HTTP exchange with a JSON answer, through fetch or node:http. Transport failures become StoreErrors. */
  private async send(
    endpoint: Endpoint,
    method: string,
    path: string,
    body: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ kind: 'answer'; status: number; parsed: unknown; parseError: string } | { kind: 'failed'; error: StoreError }> {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers = { ...extraHeaders, ...(text === undefined ? {} : { 'content-type': 'application/json' }) };
    if (this.exchange !== null) return exchangeJson(this.exchange, endpoint, method, path, headers, text, this.requestTimeoutMs);
    if (this.agent !== null) return nodeHttpJson(this.agent, endpoint, method, path, headers, text, this.requestTimeoutMs);
    let response: Response;
    try {
      response = await this.fetchImpl(endpoint.url + path, { method, signal: AbortSignal.timeout(this.requestTimeoutMs), headers, ...(text === undefined ? {} : { body: text }) });
    } catch (e) {
      return { kind: 'failed', error: transportError(e, endpoint.id) };
    }
    try {
      return { kind: 'answer', status: response.status, parsed: (await response.json()) as unknown, parseError: '' };
    } catch (e) {
      return { kind: 'answer', status: response.status, parsed: undefined, parseError: String(e) };
    }
  }

  private async takeSeq(): Promise<number> {
    // A new seq may not run ahead of the oldest unfinished one by a whole window, or that
    // one's retries would be answered stale-request.
    while (this.outstanding.size > 0 && this.nextSeq - Math.min(...this.outstanding) >= this.writeWindow) {
      await new Promise<void>((resolve) => this.windowWaiters.push(resolve));
    }
    const seq = this.nextSeq++;
    this.outstanding.add(seq);
    return seq;
  }

  private releaseSeq(seq: number): void {
    this.outstanding.delete(seq);
    for (const wake of this.windowWaiters.splice(0)) wake();
  }
}

/** One JSON exchange through a caller's HttpExchange; failures are classified like fetch's. */
async function exchangeJson(
  exchange: HttpExchange,
  endpoint: Endpoint,
  method: string,
  path: string,
  headers: Record<string, string>,
  text: string | undefined,
  timeoutMs: number,
): Promise<{ kind: 'answer'; status: number; parsed: unknown; parseError: string } | { kind: 'failed'; error: StoreError }> {
  const out = await exchange({ method: method === 'POST' ? 'POST' : 'GET', url: endpoint.url + path, headers, ...(text === undefined ? {} : { body: text }), timeoutMs });
  if (out.kind === 'failed') {
    if (out.reason === 'refused') return { kind: 'failed', error: new StoreError('connection', `cannot connect to ${endpoint.id}: ${out.message}`, true, null, endpoint.id) };
    const code = out.reason === 'timeout' ? 'timeout' : 'connection';
    return { kind: 'failed', error: new IndefiniteError(code, `${out.reason === 'timeout' ? 'no answer' : 'connection lost'} from ${endpoint.id}: ${out.message}`, null, endpoint.id) };
  }
  try {
    return { kind: 'answer', status: out.status, parsed: JSON.parse(out.text) as unknown, parseError: '' };
  } catch (e) {
    return { kind: 'answer', status: out.status, parsed: undefined, parseError: String(e) };
  }
}

/** node:http variant of one JSON exchange; errors are classified like fetch's. */
function nodeHttpJson(
  agent: Agent,
  endpoint: Endpoint,
  method: string,
  path: string,
  headers: Record<string, string>,
  text: string | undefined,
  timeoutMs: number,
): Promise<{ kind: 'answer'; status: number; parsed: unknown; parseError: string } | { kind: 'failed'; error: StoreError }> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (v: { kind: 'answer'; status: number; parsed: unknown; parseError: string } | { kind: 'failed'; error: StoreError }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(v);
    };
    const req = httpRequest(
      endpoint.url + path,
      { method, agent, headers: text === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(text)) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => settle({ kind: 'answer', status: res.statusCode ?? 0, parsed: undefined, parseError: String(e) }));
        res.on('end', () => {
          try {
            settle({ kind: 'answer', status: res.statusCode ?? 0, parsed: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown, parseError: '' });
          } catch (e) {
            settle({ kind: 'answer', status: res.statusCode ?? 0, parsed: undefined, parseError: String(e) });
          }
        });
      },
    );
    const timer = setTimeout(() => {
      settle({ kind: 'failed', error: new IndefiniteError('timeout', `no answer from ${endpoint.id} in time`, null, endpoint.id) });
      req.destroy();
    }, timeoutMs);
    req.on('error', (e) => settle({ kind: 'failed', error: transportError(e, endpoint.id) }));
    req.end(text);
  });
}

/** Classify a fetch failure: refused connections never reached the node (definite); anything else may have. */
function transportError(e: unknown, node: string): StoreError {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') {
    return new IndefiniteError('timeout', `no answer from ${node} in time`, null, node);
  }
  const code = (err as { code?: string }).code ?? err.cause?.code ?? '';
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new StoreError('connection', `cannot connect to ${node}: ${code}`, true, null, node);
  }
  return new IndefiniteError('connection', `connection to ${node} failed: ${code || err.cause?.message || err.message || String(e)}`, null, node);
}

function asIndefinite(error: StoreError, cause: StoreError): IndefiniteError {
  return new IndefiniteError(cause.code, `${error.message} (an earlier attempt may have applied: ${cause.message})`, error.status, error.node, error.details);
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== false) q.set(k, String(v));
  return q.toString();
}

function defined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
