/**
 * The store's HTTP/JSON client API (impl/API.md) as a transport-independent request handler
 * (http-handler.ts): `server.ts` serves it on node:http, the simulation through in-process
 * client links. Same routes, validation and errors on both.
 *
 * Writes are validated here (400 naming the field) before anything is proposed, then go
 * through `ConsensusHandle.propose`; the state machine's result becomes the answer.
 * Reads are linearizable through `readBarrier` (ReadIndex, thesis §6.4) unless the request
 * says `stale=true` or the node runs with the unsafe `stale-reads` switch.
 *
 * Every error is `{"error":{"code","message","definite",...}}`; `definite: false` means the
 * operation may still take effect (a proposal that timed out can commit later).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ConsensusError, type ConsensusHandle } from '../node/contracts.ts';
import type { PlatformTimers, TimerHandle } from '../node/platform.ts';
import { realTimers } from '../node/real-time.ts';
import { index as toIndex, nodeId, type NodeId } from '../raft/types.ts';
import { SkewableClock } from './clock.ts';
import { encodeCommand, LIMITS, validateCommandBody, type ClientOp, type Command } from './commands.ts';
import type { HandlerRequest, HandlerResponse, HttpBody, JsonResponse, LineSink, RequestHandler } from './http-handler.ts';
import type { KvStateMachine } from './kv-state-machine.ts';
import { isApplyResult, type ApplyResult, type KeyEvent, type StoreErrorCode } from './results.ts';
import { WatchHub } from './watch-hub.ts';

export interface StoreHandlerOptions {
  readonly handle: ConsensusHandle;
  readonly stateMachine: KvStateMachine;
  /** Default: a new hub on `stateMachine`. */
  readonly watchHub?: WatchHub;
  /** Clock that `/v1/test/clock` skews. Default: `handle.clock` when it is a SkewableClock. */
  readonly testClock?: SkewableClock;
  /** Enables `/v1/test/*` (needs `clusterSecret`). Default false. */
  readonly enableFaultInjection?: boolean;
  readonly clusterSecret?: string;
  /** Largest request body accepted, bytes; larger gets 413. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Timeout for a proposal or read barrier, ms. Default 5000. */
  readonly requestTimeoutMs?: number;
  /** Watch streams send a progress line this often, ms. Default 1000. */
  readonly watchProgressIntervalMs?: number;
  /** A watch whose unsent output exceeds this many bytes is closed (the client resumes). Default 8 MiB. */
  readonly watchMaxBufferedBytes?: number;
  /** Largest digest range, entries. Default 10,000. */
  readonly maxDigestEntries?: number;
  /** Reported by `/v1/status`. */
  readonly storageFaultMode?: boolean;
  /** Watch progress timers (platform seam). Default: Node's. */
  readonly timers?: PlatformTimers;
  readonly log?: (message: string, fields: Record<string, unknown>) => void;
}

export interface StoreHandler extends RequestHandler {
  readonly watchHub: WatchHub;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** An error answer. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly definite = true,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The error answer of impl/API.md for `error`. */
export function errorResponse(error: HttpError): JsonResponse {
  return {
    kind: 'json',
    status: error.status,
    headers: error.headers,
    body: { error: { code: error.code, message: error.message, definite: error.definite, ...error.extra } },
  };
}

const STATUS_OF_STORE_ERROR: Record<StoreErrorCode, number> = {
  'bad-request': 400,
  'not-found': 404,
  'version-conflict': 409,
  'key-exists': 409,
  'lease-held': 409,
  'lease-lost': 409,
  'stale-request': 409,
};

const STATUS_OF_CONSENSUS_ERROR: Record<ConsensusError['code'], number> = {
  'not-leader': 421,
  'no-leader': 503,
  timeout: 503,
  'too-large': 413,
  stopped: 503,
  'conf-change-pending': 409,
};

const WRITE_ROUTES: Record<string, ClientOp> = {
  '/v1/kv/create': 'create',
  '/v1/kv/put': 'put',
  '/v1/kv/delete': 'delete',
  '/v1/kv/txn': 'txn',
  '/v1/lease/acquire': 'lease-acquire',
  '/v1/lease/renew': 'lease-renew',
  '/v1/lease/release': 'lease-release',
};

interface Request {
  readonly request: HandlerRequest;
  /** The parsed target (built on first use: writes never need it). */
  readonly url: URL;
  readonly method: string;
}

/** Request targets that need no URL parsing to find their path: no query, escapes or dot segments. */
const PLAIN_PATH = /^\/[A-Za-z0-9/_-]*$/;

function parseTarget(target: string): URL {
  try {
    return new URL(target, 'http://store.invalid');
  } catch {
    throw new HttpError(400, 'bad-request', `malformed request target ${JSON.stringify(target)}`);
  }
}

type Handler = (r: Request) => Promise<HandlerResponse>;

const json = (status: number, body: unknown): JsonResponse => ({ kind: 'json', status, body });

export function createStoreHandler(options: StoreHandlerOptions): StoreHandler {
  const { handle, stateMachine: sm } = options;
  const hub = options.watchHub ?? new WatchHub(sm);
  const testClock = options.testClock ?? (handle.clock instanceof SkewableClock ? handle.clock : undefined);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const timeoutMs = options.requestTimeoutMs ?? 5000;
  const progressMs = options.watchProgressIntervalMs ?? 1000;
  const watchMaxBuffered = options.watchMaxBufferedBytes ?? 8 * 1024 * 1024;
  const maxDigestEntries = options.maxDigestEntries ?? 10_000;
  const timers = options.timers ?? realTimers;
  const log = options.log ?? (() => {});
  const enableFaults = options.enableFaultInjection === true;
  if (enableFaults && (options.clusterSecret === undefined || options.clusterSecret === '')) {
    throw new Error('createStoreHandler: enableFaultInjection needs a clusterSecret');
  }
  const secretDigest = sha256(options.clusterSecret ?? '');
  const staleReadsAlways = handle.unsafe.has('stale-reads');
  const ackBeforeCommit = handle.unsafe.has('ack-before-commit');
  const streams = new Set<() => void>();

  async function readBarrier(r: Request): Promise<void> {
    const stale = booleanParam(r.url, 'stale');
    if (stale || staleReadsAlways) return;
    try {
      await handle.readBarrier({ timeoutMs });
    } catch (e) {
      throw consensusFailure(e);
    }
  }

  async function write(r: Request, op: ClientOp): Promise<HandlerResponse> {
    const body = await readJsonBody(r.request.body, maxBodyBytes);
    const command = validateCommandBody(op, body);
    if (command instanceof Error) throw new HttpError(400, 'bad-request', command.message);
    return applyResultReply(await propose(command));
  }

  async function propose(command: Command): Promise<ApplyResult> {
    const data = encodeCommand(command);
    // Unsafe `ack-before-commit`: the driver resolves once the entry is appended locally,
    // before it commits, with a marker instead of the state machine's result; the answer is
    // then what applying the command to the state as of the proposal predicts.
    const predicted = ackBeforeCommit ? sm.predict(command) : null;
    let result: unknown;
    try {
      result = await handle.propose(data, { timeoutMs });
    } catch (e) {
      throw consensusFailure(e);
    }
    if (isApplyResult(result)) return result;
    if (predicted !== null) return predicted;
    throw new HttpError(500, 'internal', `state machine returned ${JSON.stringify(result) ?? 'nothing'}`, false);
  }

  function consensusFailure(e: unknown): HttpError {
    if (e instanceof HttpError) return e;
    if (e instanceof ConsensusError) {
      const extra = e.code === 'not-leader' ? { leaderHint: e.leaderHint } : {};
      return new HttpError(STATUS_OF_CONSENSUS_ERROR[e.code], e.code, e.message, e.definite, extra);
    }
    log('unexpected consensus failure', { error: String(e) });
    return new HttpError(500, 'internal', `internal error: ${String(e)}`, false);
  }

  const routes = new Map<string, Map<string, Handler>>();
  const route = (method: string, path: string, handler: Handler): void => {
    let byMethod = routes.get(path);
    if (byMethod === undefined) routes.set(path, (byMethod = new Map<string, Handler>()));
    byMethod.set(method, handler);
  };

  route('GET', '/healthz', () => Promise.resolve(json(200, { ok: true })));

  route('GET', '/v1/kv/get', async (r) => {
    const key = stringParam(r.url, 'key', LIMITS.keyMaxLength);
    await readBarrier(r);
    const kv = sm.get(key);
    if (kv === null) throw new HttpError(404, 'not-found', `key ${JSON.stringify(key)} does not exist`, true, { revision: sm.revision });
    return json(200, { ...kv, revision: sm.revision });
  });

  route('GET', '/v1/kv/range', async (r) => {
    const prefix = r.url.searchParams.get('prefix') ?? '';
    if (prefix.length > LIMITS.keyMaxLength) throw new HttpError(400, 'bad-request', `prefix must be at most ${LIMITS.keyMaxLength} characters`);
    await readBarrier(r);
    return json(200, { items: sm.range(prefix), revision: sm.revision });
  });

  for (const [path, op] of Object.entries(WRITE_ROUTES)) route('POST', path, (r) => write(r, op));

  route('GET', '/v1/lease/get', async (r) => {
    const name = stringParam(r.url, 'name', LIMITS.leaseNameMaxLength);
    await readBarrier(r);
    const lease = sm.getLease(name);
    return json(
      200,
      lease === null ? { name, holder: null, token: null, revision: sm.revision } : { name, holder: lease.holder, token: lease.token, ttlMs: lease.ttlMs, revision: sm.revision },
    );
  });

  route('GET', '/v1/watch', (r) => {
    const prefix = r.url.searchParams.get('prefix') ?? '';
    if (prefix.length > LIMITS.keyMaxLength) throw new HttpError(400, 'bad-request', `prefix must be at most ${LIMITS.keyMaxLength} characters`);
    const fromRevision = r.url.searchParams.has('fromRevision') ? integerParam(r.url, 'fromRevision', 1) : undefined;
    // Lines produced before the transport hands over its sink (the history replay, events
    // applied meanwhile) wait here, in order.
    let early: string[] | null = [];
    let sink: LineSink | null = null;
    let ended = false;
    let progress: TimerHandle | null = null;
    let watcher: { cancel(): void } | null = null;
    const end = (): void => {
      if (ended) return;
      ended = true;
      if (progress !== null) timers.clear(progress);
      watcher?.cancel();
      streams.delete(end);
      sink?.end();
    };
    const writeText = (text: string): void => {
      if (ended) return;
      if (sink === null) {
        early?.push(text);
        return;
      }
      sink.write(text);
      // A slow reader is cut off rather than buffered without bound; it resumes from its last revision.
      if (sink.bufferedBytes > watchMaxBuffered) {
        log('watch closed: client too slow', { buffered: sink.bufferedBytes });
        end();
      }
    };
    const send = (line: unknown): void => writeText(`${JSON.stringify(line)}\n`);
    const started = hub.watch(prefix, fromRevision, {
      event: (event: KeyEvent) => send(event),
      closed: () => end(),
    });
    if (!started.ok) {
      throw new HttpError(410, 'compacted', `revision ${fromRevision} is compacted (compactRevision ${started.compactRevision}); reload with a range read`, true, {
        compactRevision: started.compactRevision,
      });
    }
    watcher = started.watcher;
    streams.add(end);
    send({ type: 'progress', revision: hub.revision });
    return Promise.resolve({
      kind: 'stream' as const,
      status: 200,
      headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' },
      start: (s: LineSink): void => {
        s.onClose(end);
        if (ended) {
          s.end();
          return;
        }
        sink = s;
        const pending = early ?? [];
        early = null;
        for (const text of pending) writeText(text);
        progress = timers.setInterval(() => send({ type: 'progress', revision: hub.revision }), progressMs);
      },
    });
  });

  route('GET', '/v1/status', () => {
    const s = handle.status();
    return Promise.resolve(
      json(200, {
        id: s.id,
        role: s.role,
        term: s.term,
        leader: s.leader,
        commit: s.commit,
        applied: s.applied,
        lastIndex: s.lastIndex,
        members: { voters: s.members.voters, learners: s.members.learners },
        unsafe: [...handle.unsafe].sort(),
        storageFaultMode: options.storageFaultMode === true,
        revision: sm.revision,
      }),
    );
  });

  route('POST', '/v1/members/add', async (r) => {
    const body = objectBody(await readJsonBody(r.request.body, maxBodyBytes));
    const id = memberId(body);
    const peerAddr = body['peerAddr'];
    if (peerAddr !== undefined && (typeof peerAddr !== 'string' || !/^[^\s:]+:\d{1,5}$/.test(peerAddr))) {
      throw new HttpError(400, 'bad-request', `peerAddr must be "host:port", got ${JSON.stringify(peerAddr)}`);
    }
    try {
      const members = await (peerAddr === undefined ? handle.addMember(id) : handle.addMember(id, peerAddr));
      return json(200, { members });
    } catch (e) {
      throw consensusFailure(e);
    }
  });

  route('POST', '/v1/members/remove', async (r) => {
    const id = memberId(objectBody(await readJsonBody(r.request.body, maxBodyBytes)));
    try {
      return json(200, { members: await handle.removeMember(id) });
    } catch (e) {
      throw consensusFailure(e);
    }
  });

  route('GET', '/v1/digest', (r) => {
    const from = integerParam(r.url, 'from', 0);
    const to = integerParam(r.url, 'to', 0);
    if (to < from) throw new HttpError(400, 'bad-request', `to (${to}) must be >= from (${from})`);
    if (to - from + 1 > maxDigestEntries) throw new HttpError(400, 'bad-request', `at most ${maxDigestEntries} entries per digest request, asked for ${to - from + 1}`);
    return Promise.resolve(json(200, { entries: handle.digest(toIndex(from), toIndex(to)) }));
  });

  if (enableFaults) {
    route('POST', '/v1/test/clock', async (r) => {
      const given = r.request.headers['x-cluster-secret'];
      if (typeof given !== 'string' || !timingSafeEqual(sha256(given), secretDigest)) {
        // Drain the body so the connection stays usable, then refuse.
        await readJsonBody(r.request.body, maxBodyBytes).catch(() => undefined);
        throw new HttpError(403, 'forbidden', 'x-cluster-secret header missing or wrong');
      }
      const body = objectBody(await readJsonBody(r.request.body, maxBodyBytes));
      if (testClock === undefined) throw new HttpError(404, 'not-found', 'this node has no skewable clock');
      if (body['reset'] === true) testClock.reset();
      else if ('offsetMs' in body) testClock.setOffset(finiteNumber(body, 'offsetMs'));
      else if ('strobeMs' in body) {
        const periodMs = finiteNumber(body, 'periodMs');
        const durationMs = finiteNumber(body, 'durationMs');
        if (!(periodMs > 0)) throw new HttpError(400, 'bad-request', `periodMs must be > 0, got ${periodMs}`);
        if (!(durationMs > 0)) throw new HttpError(400, 'bad-request', `durationMs must be > 0, got ${durationMs}`);
        testClock.startStrobe({ strobeMs: finiteNumber(body, 'strobeMs'), periodMs, durationMs });
      } else throw new HttpError(400, 'bad-request', 'body must hold offsetMs, {strobeMs, periodMs, durationMs} or reset: true');
      log('clock skewed by test', { ...testClock.state() });
      return json(200, { ...testClock.state(), now: testClock.now() });
    });
  }

  async function dispatch(request: HandlerRequest): Promise<HandlerResponse> {
    const target = request.target;
    // The hot routes (writes) have plain paths: skip WHATWG URL parsing for them (it was a
    // visible share of the leader's CPU per request); anything else is parsed as before.
    let url: URL | null = PLAIN_PATH.test(target) ? null : parseTarget(target);
    const pathname = url === null ? target : url.pathname;
    const method = request.method;
    const byMethod = routes.get(pathname);
    if (byMethod === undefined) {
      throw new HttpError(404, 'not-found', `no route ${method} ${pathname}`);
    }
    const handler = byMethod.get(method);
    if (handler === undefined) {
      const allowed = [...byMethod.keys()].join(', ');
      throw new HttpError(405, 'method-not-allowed', `${pathname} does not accept ${method} (allowed: ${allowed})`, true, {}, { allow: allowed });
    }
    return handler({
      request,
      get url(): URL {
        return (url ??= parseTarget(target));
      },
      method,
    });
  }

  return {
    watchHub: hub,
    handle: (request) =>
      dispatch(request).catch((e: unknown) => {
        if (e instanceof HttpError) return errorResponse(e);
        log('request failed', { error: String(e), stack: (e as Error).stack });
        return errorResponse(new HttpError(500, 'internal', `internal error: ${String(e)}`, false));
      }),
    closeStreams: () => {
      for (const end of [...streams]) end();
    },
  };
}

function applyResultReply(result: ApplyResult): HandlerResponse {
  if (result.ok) return json(200, result.value);
  const { ok: _ok, code, message, ...extra } = result;
  return json(STATUS_OF_STORE_ERROR[code], { error: { code, message, definite: code !== 'stale-request', ...extra } });
}

/** Read the whole body (at most maxBytes) and parse it as JSON. */
async function readJsonBody(body: HttpBody, maxBytes: number): Promise<unknown> {
  const { tooLarge, size, text } = await body.read(maxBytes);
  if (tooLarge) throw new HttpError(413, 'too-large', `request body exceeds ${maxBytes} bytes`);
  if (size === 0) throw new HttpError(400, 'bad-request', 'request body is empty; expected a JSON object');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new HttpError(400, 'bad-request', `request body is not valid JSON: ${(e as Error).message}`);
  }
}

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'bad-request', 'body must be a JSON object');
  return body as Record<string, unknown>;
}

function memberId(body: Record<string, unknown>): NodeId {
  const id = body['id'];
  if (typeof id !== 'string' || !/^[a-z0-9-]{1,32}$/.test(id)) {
    throw new HttpError(400, 'bad-request', `id must match [a-z0-9-]{1,32}, got ${JSON.stringify(id) ?? 'nothing'}`);
  }
  return nodeId(id);
}

function finiteNumber(body: Record<string, unknown>, field: string): number {
  const v = body[field];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new HttpError(400, 'bad-request', `${field} must be a finite number, got ${JSON.stringify(v) ?? 'nothing'}`);
  return v;
}

function stringParam(url: URL, name: string, maxLength: number): string {
  const v = url.searchParams.get(name);
  if (v === null) throw new HttpError(400, 'bad-request', `query parameter ${name} is required`);
  if (v.length === 0 || v.length > maxLength) throw new HttpError(400, 'bad-request', `query parameter ${name} must be 1..${maxLength} characters, got ${v.length}`);
  return v;
}

function integerParam(url: URL, name: string, min: number): number {
  const v = url.searchParams.get(name);
  if (v === null) throw new HttpError(400, 'bad-request', `query parameter ${name} is required`);
  if (!/^\d{1,15}$/.test(v)) throw new HttpError(400, 'bad-request', `query parameter ${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  const n = Number(v);
  if (n < min) throw new HttpError(400, 'bad-request', `query parameter ${name} must be >= ${min}, got ${n}`);
  return n;
}

function booleanParam(url: URL, name: string): boolean {
  const v = url.searchParams.get(name);
  if (v === null || v === 'false') return false;
  if (v === 'true') return true;
  throw new HttpError(400, 'bad-request', `query parameter ${name} must be "true" or "false", got ${JSON.stringify(v)}`);
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
