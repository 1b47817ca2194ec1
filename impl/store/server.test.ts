import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { request as httpRequest, Agent } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { ConsensusError } from '../node/contracts.ts';
import { startInProcessStore, type InProcessStore } from './in-process-cluster.test-support.ts';

const SECRET = 'test-secret';

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function errorOf(a: Answer): Record<string, unknown> {
  const e = a.body['error'];
  expect(e, `expected an error body, got ${JSON.stringify(a.body)}`).toBeTypeOf('object');
  return e as Record<string, unknown>;
}

let seq = 0;
const id = () => ({ clientId: 'http-test', seq: ++seq });

describe('store HTTP API on one node', () => {
  let store: InProcessStore;
  let base: string;
  beforeAll(async () => {
    store = await startInProcessStore({
      server: { maxBodyBytes: 4096, enableFaultInjection: true, clusterSecret: SECRET, watchProgressIntervalMs: 50 },
      stateMachine: { historyMaxEvents: 50 },
    });
    base = store.nodes[0]!.url;
  });
  afterAll(() => store.close());

  it('serves healthz', async () => {
    expect(await call(base, 'GET', '/healthz')).toEqual({ status: 200, body: { ok: true } });
  });

  it('create, get, put with expectedVersion, delete', async () => {
    const created = await call(base, 'POST', '/v1/kv/create', { key: 'k1', value: { a: 1 }, ...id() });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ key: 'k1', version: 1 });
    const rev = created.body['revision'] as number;
    expect(await call(base, 'GET', '/v1/kv/get?key=k1')).toEqual({
      status: 200,
      body: { key: 'k1', value: { a: 1 }, version: 1, createRevision: rev, modRevision: rev, revision: rev },
    });
    const put = await call(base, 'POST', '/v1/kv/put', { key: 'k1', value: 2, expectedVersion: 1, ...id() });
    expect(put.body).toMatchObject({ key: 'k1', version: 2, createRevision: rev, modRevision: rev + 1, revision: rev + 1 });
    expect(await call(base, 'POST', '/v1/kv/delete', { key: 'k1', expectedVersion: 2, ...id() })).toEqual({
      status: 200,
      body: { key: 'k1', deleted: true, revision: rev + 2 },
    });
    const missing = await call(base, 'GET', '/v1/kv/get?key=k1');
    expect(missing.status).toBe(404);
    expect(errorOf(missing)).toMatchObject({ code: 'not-found', definite: true });
  });

  it('answers 409 version-conflict with the current version, definite', async () => {
    await call(base, 'POST', '/v1/kv/put', { key: 'vc', value: 1, ...id() });
    const conflict = await call(base, 'POST', '/v1/kv/put', { key: 'vc', value: 2, expectedVersion: 7, ...id() });
    expect(conflict.status).toBe(409);
    expect(errorOf(conflict)).toMatchObject({ code: 'version-conflict', currentVersion: 1, definite: true });
    const exists = await call(base, 'POST', '/v1/kv/create', { key: 'vc', value: 2, ...id() });
    expect(exists.status).toBe(409);
    expect(errorOf(exists)).toMatchObject({ code: 'key-exists', currentVersion: 1, definite: true });
    const del = await call(base, 'POST', '/v1/kv/delete', { key: 'vc', expectedVersion: 0, ...id() });
    expect(errorOf(del)).toMatchObject({ code: 'version-conflict', currentVersion: 1 });
  });

  it('range lists keys with the prefix', async () => {
    for (const k of ['r/b', 'r/a', 's/a']) await call(base, 'POST', '/v1/kv/put', { key: k, value: k, ...id() });
    const range = await call(base, 'GET', '/v1/kv/range?prefix=r/');
    expect(range.status).toBe(200);
    expect((range.body['items'] as { key: string }[]).map((i) => i.key)).toEqual(['r/a', 'r/b']);
    expect(range.body['revision']).toBe(store.sm.revision);
  });

  it('txn is atomic and reports the failing op', async () => {
    const ok = await call(base, 'POST', '/v1/kv/txn', {
      ops: [
        { op: 'create', key: 't/a', value: 1 },
        { op: 'put', key: 't/b', value: 2 },
      ],
      ...id(),
    });
    expect(ok.status).toBe(200);
    expect((ok.body['results'] as unknown[]).length).toBe(2);
    const failed = await call(base, 'POST', '/v1/kv/txn', {
      ops: [
        { op: 'delete', key: 't/a' },
        { op: 'create', key: 't/b', value: 3 },
      ],
      ...id(),
    });
    expect(failed.status).toBe(409);
    expect(errorOf(failed)).toMatchObject({ code: 'key-exists', opIndex: 1 });
    expect((await call(base, 'GET', '/v1/kv/get?key=t/a')).status).toBe(200);
  });

  it('txn reads and compares: get answers the keys, compare gates the writes, a read-only txn moves no revision', async () => {
    await call(base, 'POST', '/v1/kv/put', { key: 'tr/a', value: [1], ...id() });
    const revision = store.sm.revision;
    const read = await call(base, 'POST', '/v1/kv/txn', { ops: [{ op: 'get', key: 'tr/a' }, { op: 'get', key: 'tr/none' }, { op: 'compare', key: 'tr/b', expectedVersion: 0 }], ...id() });
    expect(read.status).toBe(200);
    expect(read.body).toEqual({
      results: [
        { key: 'tr/a', found: true, value: [1], version: 1, createRevision: revision, modRevision: revision },
        { key: 'tr/none', found: false, version: 0 },
        { key: 'tr/b', version: 0 },
      ],
      revision,
    });
    expect(store.sm.revision).toBe(revision);
    const stale = await call(base, 'POST', '/v1/kv/txn', { ops: [{ op: 'compare', key: 'tr/a', expectedVersion: 2 }, { op: 'put', key: 'tr/b', value: [2] }], ...id() });
    expect(stale.status).toBe(409);
    expect(errorOf(stale)).toMatchObject({ code: 'version-conflict', currentVersion: 1, opIndex: 0, definite: true });
    const rmw = await call(base, 'POST', '/v1/kv/txn', { ops: [{ op: 'compare', key: 'tr/b', expectedVersion: 0 }, { op: 'put', key: 'tr/a', value: [1, 2], expectedVersion: 1 }], ...id() });
    expect(rmw.status).toBe(200);
    expect(rmw.body).toMatchObject({ results: [{ key: 'tr/b', version: 0 }, { key: 'tr/a', version: 2 }], revision: revision + 1 });
  });

  it('a retried write returns the recorded answer and applies once', async () => {
    const body = { key: 'once', value: 1, ...id() };
    const first = await call(base, 'POST', '/v1/kv/put', body);
    const again = await call(base, 'POST', '/v1/kv/put', body);
    expect(again).toEqual(first);
    expect((await call(base, 'GET', '/v1/kv/get?key=once')).body['version']).toBe(1);
  });

  it('a seq older than the window is a 409 stale-request, indefinite', async () => {
    await call(base, 'POST', '/v1/kv/put', { key: 'st', value: 1, clientId: 'stale-client', seq: 100 });
    const stale = await call(base, 'POST', '/v1/kv/put', { key: 'st', value: 2, clientId: 'stale-client', seq: 1 });
    expect(stale.status).toBe(409);
    expect(errorOf(stale)).toMatchObject({ code: 'stale-request', definite: false });
  });

  it('leases: acquire, held by another, renew, get, release, lost', async () => {
    const acquired = await call(base, 'POST', '/v1/lease/acquire', { name: 'L', holder: 'h1', ttlMs: 5000, ...id() });
    expect(acquired.status).toBe(200);
    const token = acquired.body['token'] as number;
    expect(acquired.body).toMatchObject({ name: 'L', holder: 'h1', ttlMs: 5000 });
    const held = await call(base, 'POST', '/v1/lease/acquire', { name: 'L', holder: 'h2', ttlMs: 5000, ...id() });
    expect(held.status).toBe(409);
    expect(errorOf(held)).toMatchObject({ code: 'lease-held', holder: 'h1', definite: true });
    expect((await call(base, 'POST', '/v1/lease/renew', { name: 'L', holder: 'h1', token, ...id() })).body).toMatchObject({ token, ttlMs: 5000 });
    expect((await call(base, 'GET', '/v1/lease/get?name=L')).body).toMatchObject({ name: 'L', holder: 'h1', token });
    expect((await call(base, 'POST', '/v1/lease/release', { name: 'L', holder: 'h1', token, ...id() })).body).toMatchObject({ name: 'L', released: true });
    expect((await call(base, 'GET', '/v1/lease/get?name=L')).body).toMatchObject({ name: 'L', holder: null, token: null });
    const lost = await call(base, 'POST', '/v1/lease/renew', { name: 'L', holder: 'h1', token, ...id() });
    expect(lost.status).toBe(409);
    expect(errorOf(lost)).toMatchObject({ code: 'lease-lost' });
    const next = await call(base, 'POST', '/v1/lease/acquire', { name: 'L', holder: 'h2', ttlMs: 5000, ...id() });
    expect(next.body['token'] as number).toBeGreaterThan(token);
  });

  it('400s name the field and the problem', async () => {
    const cases: [string, unknown, RegExp][] = [
      ['/v1/kv/put', { value: 1, ...id() }, /key is required/],
      ['/v1/kv/put', { key: 5, value: 1, ...id() }, /key must be a string, got number/],
      ['/v1/kv/put', { key: 'a', ...id() }, /value is required/],
      ['/v1/kv/put', { key: 'a', value: 1, clientId: 'c', seq: 0 }, /seq must be in \[1, /],
      ['/v1/kv/put', { key: 'a', value: 1, clientId: 'c', seq: 1.5 }, /seq must be an integer/],
      ['/v1/kv/put', { key: 'a', value: 1, seq: 1 }, /clientId is required/],
      ['/v1/kv/put', { key: 'a', value: 1, expectedVersion: -1, ...id() }, /expectedVersion must be in \[0, /],
      ['/v1/kv/txn', { ops: [{ op: 'put', key: 'a', value: 1 }, { op: 'frob', key: 'b' }], ...id() }, /ops\[1\]\.op must be/],
      ['/v1/kv/txn', { ops: [{ op: 'put', key: 'a', value: 1 }, { op: 'delete', key: 'a' }], ...id() }, /ops\[1\]\.key duplicates ops\[0\]\.key/],
      ['/v1/kv/txn', { ops: [], ...id() }, /ops must hold 1\.\./],
      ['/v1/kv/txn', { ops: [{ op: 'compare', key: 'a' }], ...id() }, /ops\[0\]\.expectedVersion is required/],
      ['/v1/kv/txn', { ops: [{ op: 'compare', key: 'a', expectedVersion: -1 }], ...id() }, /ops\[0\]\.expectedVersion must be in \[0, /],
      ['/v1/kv/txn', { ops: [{ op: 'get' }], ...id() }, /ops\[0\]\.key is required/],
      ['/v1/kv/txn', { ops: [{ op: 'get', key: 'a' }, { op: 'put', key: 'a', value: 1 }], ...id() }, /ops\[1\]\.key duplicates ops\[0\]\.key/],
      ['/v1/lease/acquire', { name: 'L', holder: 'h', ttlMs: 10, ...id() }, /ttlMs must be in \[200, /],
      ['/v1/kv/put', [1, 2], /body must be a JSON object/],
      ['/v1/kv/put', '{"key":', /not valid JSON/],
      ['/v1/kv/put', '', /body is empty/],
      ['/v1/members/add', { id: 'BAD ID' }, /id must match/],
    ];
    for (const [path, body, message] of cases) {
      const a = await call(base, 'POST', path, body);
      expect(a.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(errorOf(a)).toMatchObject({ code: 'bad-request', definite: true });
      expect(errorOf(a)['message']).toMatch(message);
    }
    for (const path of ['/v1/kv/get', '/v1/kv/get?key=', '/v1/kv/get?key=a&stale=maybe', '/v1/watch?fromRevision=x', '/v1/digest?from=1', '/v1/digest?from=5&to=1', '/v1/lease/get']) {
      const a = await call(base, 'GET', path);
      expect(a.status, path).toBe(400);
      expect(errorOf(a)['message']).toMatch(/query parameter|must be >=/);
    }
  });

  it('413 over the body limit, and the connection stays usable', async () => {
    const big = await call(base, 'POST', '/v1/kv/put', { key: 'big', value: 'x'.repeat(10_000), ...id() });
    expect(big.status).toBe(413);
    expect(errorOf(big)).toMatchObject({ code: 'too-large', definite: true });
    expect(errorOf(big)['message']).toMatch(/exceeds 4096 bytes/);
    expect((await call(base, 'GET', '/healthz')).status).toBe(200);
  });

  it('404 for unknown routes, 405 for wrong methods', async () => {
    const a = await call(base, 'GET', '/v1/nope');
    expect(a.status).toBe(404);
    expect(errorOf(a)['message']).toMatch(/no route GET \/v1\/nope/);
    const b = await call(base, 'GET', '/v1/kv/put');
    expect(b.status).toBe(405);
    expect(errorOf(b)).toMatchObject({ code: 'method-not-allowed', definite: true });
  });

  it('431 JSON for oversized headers', async () => {
    const answer = await rawHttp(store.nodes[0]!.url, `GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431/);
    expect(JSON.parse(answer.split('\r\n\r\n')[1]!)).toMatchObject({ error: { code: 'too-large', definite: true } });
  });

  it('reports a timed-out proposal as 503 timeout, indefinite (and it may have applied)', async () => {
    store.nodes[0]!.handle.injectFault({ kind: 'apply-then-timeout' });
    const body = { key: 'maybe', value: 1, ...id() };
    const a = await call(base, 'POST', '/v1/kv/put', body);
    expect(a.status).toBe(503);
    expect(errorOf(a)).toMatchObject({ code: 'timeout', definite: false });
    // The retry with the same id learns the outcome without applying twice.
    const retry = await call(base, 'POST', '/v1/kv/put', body);
    expect(retry.body).toMatchObject({ key: 'maybe', version: 1 });
  });

  it('maps driver errors: too-large 413, conf-change-pending 409', async () => {
    store.nodes[0]!.handle.injectFault({ kind: 'reject', error: new ConsensusError('too-large', true) });
    expect(errorOf(await call(base, 'POST', '/v1/kv/put', { key: 'a', value: 1, ...id() }))).toMatchObject({ code: 'too-large', definite: true });
    store.nodes[0]!.handle.injectFault({ kind: 'reject', error: new ConsensusError('stopped', false) });
    const stopped = await call(base, 'POST', '/v1/kv/put', { key: 'a', value: 1, ...id() });
    expect(stopped.status).toBe(503);
    expect(errorOf(stopped)).toMatchObject({ code: 'stopped', definite: false });
  });

  it('status, members and digest', async () => {
    const status = await call(base, 'GET', '/v1/status');
    expect(status.body).toMatchObject({ id: 'n1', role: 'leader', leader: 'n1', members: { voters: ['n1'], learners: [] }, unsafe: [], storageFaultMode: false });
    expect((await call(base, 'POST', '/v1/members/add', { id: 'n4', peerAddr: '127.0.0.1:7004' })).body).toEqual({ members: { voters: ['n1'], learners: ['n4'] } });
    expect((await call(base, 'POST', '/v1/members/remove', { id: 'n4' })).body).toEqual({ members: { voters: ['n1'], learners: [] } });
    const digest = await call(base, 'GET', '/v1/digest?from=1&to=2');
    expect(digest.body['entries']).toEqual(store.cluster.digests.slice(0, 2));
  });

  it('test clock: 403 without the secret, sets offset and strobe with it', async () => {
    const denied = await call(base, 'POST', '/v1/test/clock', { offsetMs: 5000 }, { 'x-cluster-secret': 'wrong' });
    expect(denied.status).toBe(403);
    expect(errorOf(denied)).toMatchObject({ code: 'forbidden' });
    expect(store.nodes[0]!.handle.clock.state().offsetMs).toBe(0);
    const set = await call(base, 'POST', '/v1/test/clock', { offsetMs: 5000 }, { 'x-cluster-secret': SECRET });
    expect(set.status).toBe(200);
    expect(store.nodes[0]!.handle.clock.state().offsetMs).toBe(5000);
    await call(base, 'POST', '/v1/test/clock', { strobeMs: 200, periodMs: 10, durationMs: 1000 }, { 'x-cluster-secret': SECRET });
    expect(store.nodes[0]!.handle.clock.state().strobe).toMatchObject({ strobeMs: 200, periodMs: 10 });
    const bad = await call(base, 'POST', '/v1/test/clock', { strobeMs: 1, periodMs: 0, durationMs: 1 }, { 'x-cluster-secret': SECRET });
    expect(errorOf(bad)['message']).toMatch(/periodMs must be > 0/);
    await call(base, 'POST', '/v1/test/clock', { reset: true }, { 'x-cluster-secret': SECRET });
    expect(store.nodes[0]!.handle.clock.state()).toEqual({ offsetMs: 0, strobe: null });
  });

  it('watch replays history then streams live changes in revision order, with progress lines', async () => {
    const first = await call(base, 'POST', '/v1/kv/put', { key: 'w/a', value: 1, ...id() });
    const from = first.body['revision'] as number;
    await call(base, 'POST', '/v1/kv/put', { key: 'other', value: 1, ...id() });
    await call(base, 'POST', '/v1/kv/put', { key: 'w/b', value: 2, ...id() });
    const abort = new AbortController();
    const res = await fetch(`${base}/v1/watch?prefix=w/&fromRevision=${from}`, { signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = readLines(res.body!);
    const got: Record<string, unknown>[] = [];
    got.push(await next(lines), await next(lines));
    expect(got.map((e) => [e['type'], e['key']])).toEqual([
      ['put', 'w/a'],
      ['put', 'w/b'],
    ]);
    expect(await next(lines)).toMatchObject({ type: 'progress', revision: store.sm.revision });
    await call(base, 'POST', '/v1/kv/delete', { key: 'w/a', ...id() });
    let live = await next(lines);
    while (live['type'] === 'progress') live = await next(lines);
    expect(live).toMatchObject({ type: 'delete', key: 'w/a', revision: store.sm.revision });
    abort.abort();
    await lines.return(undefined);
  });

  it('watch from a compacted revision is 410 with the compaction revision', async () => {
    for (let i = 0; i < 60; i++) await call(base, 'POST', '/v1/kv/put', { key: 'churn', value: i, ...id() });
    const a = await call(base, 'GET', '/v1/watch?fromRevision=1');
    expect(a.status).toBe(410);
    expect(errorOf(a)).toMatchObject({ code: 'compacted', compactRevision: store.sm.compactRevision, definite: true });
  });
});

describe('watch streams under concurrent writes and disconnects', () => {
  it('every watcher gets exactly the committed changes for its prefix, in revision order', async () => {
    await using store = await startInProcessStore({ server: { watchProgressIntervalMs: 10 } });
    const base = store.nodes[0]!.url;
    let wseq = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('write' as const), key: fc.constantFrom('a/1', 'a/2', 'b/1', 'ab'), del: fc.boolean() }),
            fc.record({ kind: fc.constant('watch' as const), prefix: fc.constantFrom('', 'a', 'a/', 'b/'), back: fc.nat(5) }),
            fc.record({ kind: fc.constant('cut' as const), which: fc.nat(10) }),
          ),
          { minLength: 1, maxLength: 25 },
        ),
        async (steps) => {
          const watchers: OpenWatch[] = [];
          for (const step of steps) {
            if (step.kind === 'write') {
              const path = step.del ? '/v1/kv/delete' : '/v1/kv/put';
              await call(base, 'POST', path, { key: step.key, value: wseq, clientId: 'watch-fuzz', seq: ++wseq });
            } else if (step.kind === 'watch') {
              watchers.push(await openWatch(base, step.prefix, Math.max(1, store.sm.revision + 1 - step.back)));
            } else if (watchers.length > 0) {
              watchers[step.which % watchers.length]!.abort.abort();
            }
          }
          const final = store.sm.revision;
          for (const w of watchers) {
            if (w.abort.signal.aborted) continue;
            await until(() => w.progress >= final || w.failed !== null);
            expect(w.failed).toBeNull();
            const expected = store.sm.eventsSince(w.from, w.prefix)!.filter((e) => e.revision <= final);
            expect(w.events.filter((e) => (e['revision'] as number) <= final)).toEqual(expected);
            w.abort.abort();
          }
          await Promise.all(watchers.map((w) => w.done));
        },
      ),
      { numRuns: 40 },
    );
    // Disconnected watchers are unregistered (the server notices the closed socket).
    await until(() => store.nodes[0]!.server.watchHub.size === 0);
  });
});

interface OpenWatch {
  readonly prefix: string;
  readonly from: number;
  readonly events: Record<string, unknown>[];
  progress: number;
  failed: unknown;
  readonly abort: AbortController;
  readonly done: Promise<void>;
}

async function openWatch(base: string, prefix: string, from: number): Promise<OpenWatch> {
  const abort = new AbortController();
  const res = await fetch(`${base}/v1/watch?prefix=${encodeURIComponent(prefix)}&fromRevision=${from}`, { signal: abort.signal });
  expect(res.status).toBe(200);
  const w: Omit<OpenWatch, 'done'> & { done?: Promise<void> } = { prefix, from, events: [], progress: 0, failed: null, abort };
  w.done = (async () => {
    try {
      for await (const line of readLines(res.body!)) {
        if (line['type'] === 'progress') w.progress = line['revision'] as number;
        else w.events.push(line);
      }
    } catch (e) {
      if (!abort.signal.aborted) w.failed = e;
    }
  })();
  return w as OpenWatch;
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('store HTTP API with followers', () => {
  let store: InProcessStore;
  beforeAll(async () => {
    store = await startInProcessStore({ ids: ['n1', 'n2'] });
  });
  afterAll(() => store.close());

  it('a follower answers writes and linearizable reads 421 with a leader hint', async () => {
    const follower = store.nodes[1]!.url;
    const w = await call(follower, 'POST', '/v1/kv/put', { key: 'a', value: 1, ...id() });
    expect(w.status).toBe(421);
    expect(errorOf(w)).toMatchObject({ code: 'not-leader', definite: true, leaderHint: { id: 'n1', clientUrl: store.nodes[0]!.url } });
    const r = await call(follower, 'GET', '/v1/kv/get?key=a');
    expect(r.status).toBe(421);
  });

  it('a follower serves stale=true reads from its applied state', async () => {
    await call(store.nodes[0]!.url, 'POST', '/v1/kv/put', { key: 's', value: 7, ...id() });
    const barriersBefore = store.nodes[1]!.handle.readBarriers;
    const r = await call(store.nodes[1]!.url, 'GET', '/v1/kv/get?key=s&stale=true');
    expect(r).toMatchObject({ status: 200, body: { value: 7 } });
    expect(store.nodes[1]!.handle.readBarriers).toBe(barriersBefore);
  });

  it('without a leader: 503 no-leader, definite', async () => {
    store.cluster.setLeader(null);
    try {
      const w = await call(store.nodes[0]!.url, 'POST', '/v1/kv/put', { key: 'a', value: 1, ...id() });
      expect(w.status).toBe(503);
      expect(errorOf(w)).toMatchObject({ code: 'no-leader', definite: true });
    } finally {
      store.cluster.setLeader('n1');
    }
  });

  it('the test clock route does not exist without fault injection', async () => {
    const a = await call(store.nodes[0]!.url, 'POST', '/v1/test/clock', { offsetMs: 1 }, { 'x-cluster-secret': 'x' });
    expect(a.status).toBe(404);
  });
});

describe('unsafe switches', () => {
  it('stale-reads: a follower serves reads without a read barrier', async () => {
    await using store = await startInProcessStore({ ids: ['n1', 'n2'], unsafe: ['stale-reads'] });
    await call(store.nodes[0]!.url, 'POST', '/v1/kv/put', { key: 'a', value: 1, ...id() });
    expect((await call(store.nodes[1]!.url, 'GET', '/v1/kv/get?key=a')).status).toBe(200);
    expect(store.nodes[1]!.handle.readBarriers).toBe(0);
    expect((await call(store.nodes[1]!.url, 'GET', '/v1/status')).body['unsafe']).toEqual(['stale-reads']);
  });

  it('ack-before-commit: an early acknowledgement is answered with the predicted result, though the entry is then lost', async () => {
    await using store = await startInProcessStore({ unsafe: ['ack-before-commit'] });
    const url = store.nodes[0]!.url;
    store.nodes[0]!.handle.injectFault({ kind: 'early-ack-then-lose' });
    const a = await call(url, 'POST', '/v1/kv/put', { key: 'lost', value: 1, ...id() });
    expect(a).toMatchObject({ status: 200, body: { key: 'lost', version: 1 } });
    expect(store.sm.get('lost')).toBeNull(); // acknowledged, never committed: what the harness must catch
  });
});

describe('store HTTP API fuzzing', () => {
  let store: InProcessStore;
  let agent: Agent;
  beforeAll(async () => {
    store = await startInProcessStore({ server: { maxBodyBytes: 2048 } });
    agent = new Agent({ keepAlive: true, maxSockets: 8 });
  });
  afterAll(async () => {
    agent.destroy();
    await store.close();
  });

  const GET_PATHS = ['/v1/kv/get', '/v1/kv/range', '/v1/lease/get', '/v1/watch', '/v1/status', '/v1/digest', '/healthz'];
  const POST_PATHS = ['/v1/kv/create', '/v1/kv/put', '/v1/kv/delete', '/v1/kv/txn', '/v1/lease/acquire', '/v1/lease/renew', '/v1/lease/release', '/v1/members/add', '/v1/members/remove'];
  const id = ['clientId', 'seq'];
  const REQUIRED: Record<string, readonly string[]> = {
    '/v1/kv/create': ['key', 'value', ...id],
    '/v1/kv/put': ['key', 'value', ...id],
    '/v1/kv/delete': ['key', ...id],
    '/v1/kv/txn': ['ops', ...id],
    '/v1/lease/acquire': ['name', 'holder', 'ttlMs', ...id],
    '/v1/lease/renew': ['name', 'holder', 'token', ...id],
    '/v1/lease/release': ['name', 'holder', 'token', ...id],
    '/v1/members/add': ['id'],
    '/v1/members/remove': ['id'],
  };
  const junk = fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 3 }));
  const safeText = fc.stringMatching(/^[A-Za-z0-9._~%/-]{0,40}$/);

  const malformed = fc.oneof(
    // An unknown path, any method.
    fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'FROB'),
      path: safeText.map((p) => `/x${p}`),
      body: fc.option(fc.string({ maxLength: 50 }), { nil: undefined }),
    }),
    // A known path with a method it does not take.
    fc.record({
      method: fc.constantFrom('PUT', 'DELETE', 'PATCH', 'OPTIONS'),
      path: fc.constantFrom(...GET_PATHS, ...POST_PATHS),
      body: fc.option(fc.string({ maxLength: 50 }), { nil: undefined }),
    }),
    fc.record({ method: fc.constant('GET'), path: fc.constantFrom(...POST_PATHS), body: fc.constant(undefined) }),
    fc.record({ method: fc.constant('POST'), path: fc.constantFrom(...GET_PATHS), body: fc.option(fc.json(), { nil: undefined }) }),
    // Write routes with bodies that are not JSON, not objects, or miss/mistype a required field.
    fc.constantFrom(...POST_PATHS).chain((path) =>
      fc.record({
        method: fc.constant('POST'),
        path: fc.constant(path),
        body: fc.oneof(
          fc.string({ maxLength: 200 }).filter((s) => !isJsonObject(s)),
          fc.json().filter((s) => !isJsonObject(s)),
          fc.constant(''),
          fc.nat({ max: 3 }).map((n) => 'x'.repeat(2049 + n * 5000)),
          fc.tuple(fc.constantFrom(...REQUIRED[path]!), junk).map(([field, v]) => {
            // A valid body for the route with one required field replaced by junk of the wrong kind.
            const body: Record<string, unknown> = { key: 'k', value: 1, clientId: 'c', seq: 1, name: 'n', holder: 'h', ttlMs: 1000, token: 1, ops: [{ op: 'put', key: 'k', value: 1 }], id: 'n9' };
            body[field] = wrongKind(field, v);
            return JSON.stringify(body);
          }),
        ),
      }),
    ),
    // Txns with one op of a shape the store does not take (every op kind, a field missing or mistyped).
    fc
      .tuple(
        fc.array(fc.constantFrom({ op: 'get', key: 'g' }, { op: 'compare', key: 'c', expectedVersion: 0 }, { op: 'put', key: 'p', value: 1 }), { maxLength: 3 }),
        fc.oneof(
          fc.record({ op: fc.constantFrom('get', 'compare', 'put', 'create', 'delete'), key: junk.filter((k) => typeof k !== 'string' || k === '') }),
          fc.record({ op: fc.constant('compare'), key: fc.constant('x'), expectedVersion: junk.filter((v) => !(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) }),
          fc.record({ op: junk.filter((o) => !['get', 'compare', 'put', 'create', 'delete'].includes(o as string)), key: fc.constant('x') }),
        ),
      )
      .map(([valid, bad]) => ({ method: 'POST', path: '/v1/kv/txn', body: JSON.stringify({ ops: [...valid, bad], clientId: 'c', seq: 1 }) })),
    // Read routes with bad query parameters.
    fc.record({
      method: fc.constant('GET'),
      path: fc.oneof(
        fc.constantFrom('/v1/kv/get', '/v1/kv/get?key=', '/v1/lease/get', '/v1/digest', '/v1/digest?from=3&to=1'),
        safeText.map((s) => `/v1/kv/get?key=a&stale=${s}x`),
        safeText.map((s) => `/v1/watch?fromRevision=${s}x`),
        fc.integer({ min: -5, max: 0 }).map((n) => `/v1/watch?fromRevision=${n}`),
        safeText.map((s) => `/v1/digest?from=${s}x&to=1`),
      ),
      body: fc.constant(undefined),
    }),
  );

  it('answers thousands of malformed requests with a 4xx JSON error and stays up', async () => {
    await fc.assert(
      fc.asyncProperty(
        malformed,
        fc.dictionary(fc.stringMatching(/^x-[a-z]{1,8}$/), fc.stringMatching(/^[ -~]{0,30}$/), { maxKeys: 3 }),
        async (req, headers) => {
          // A HEAD request with a body is itself malformed framing; Node's client would misparse the reply.
          const body = req.method === 'HEAD' ? undefined : req.body;
          const answer = await rawRequest(store.nodes[0]!.url, agent, req.method, req.path, headers, body);
          expect(answer.status, `${req.method} ${req.path} ${req.body?.slice(0, 80)}`).toBeGreaterThanOrEqual(400);
          expect(answer.status).toBeLessThan(500);
          if (req.method === 'HEAD') return; // no body by definition
          const parsed = JSON.parse(answer.body) as { error: { code: unknown; message: unknown; definite: unknown } };
          expect(typeof parsed.error.code).toBe('string');
          expect(typeof parsed.error.message).toBe('string');
          expect(parsed.error.definite).toBe(true);
        },
      ),
      { numRuns: 2500 },
    );
    expect(store.sm.revision).toBe(0);
    expect((await call(store.nodes[0]!.url, 'GET', '/healthz')).status).toBe(200);
  });

  it('answers garbage on the socket with a 400 JSON error', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (bytes) => {
        const text = `GARBAGE\u0001 ${Buffer.from(bytes).toString('latin1')}\r\n\r\n`;
        const answer = await rawHttp(store.nodes[0]!.url, text);
        if (answer === '') return; // the peer may simply close on some inputs
        expect(answer).toMatch(/^HTTP\/1\.1 4\d\d /);
        expect(JSON.parse(answer.split('\r\n\r\n')[1]!)).toMatchObject({ error: { definite: true } });
      }),
      { numRuns: 200 },
    );
    expect((await call(store.nodes[0]!.url, 'GET', '/healthz')).status).toBe(200);
  });
});

function isJsonObject(s: string): boolean {
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

/** A value of the wrong kind for `field` (so the body is certainly invalid). */
function wrongKind(field: string, v: unknown): unknown {
  const numeric = field === 'seq' || field === 'ttlMs' || field === 'token';
  if (field === 'value') return undefined; // the only way to make a JSON value invalid is to leave it out
  if (field === 'ops') return Array.isArray(v) ? [...(v as unknown[]), 'junk'] : v;
  if (field === 'id') return typeof v === 'string' && /^[a-z0-9-]{1,32}$/.test(v) ? `${v}!` : v;
  if (numeric) return typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 ? -v : v;
  return typeof v === 'string' && v.length > 0 ? 42 : v;
}

function rawRequest(base: string, agent: Agent, method: string, path: string, headers: Record<string, string>, body: string | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    // Node's client frames a body neither by length nor by chunks for GET, DELETE, OPTIONS and
    // friends, so the body would reach the server as the start of the next request on this
    // keep-alive socket. Frame it ourselves: the fuzz is about the server, not the framing.
    const framed = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers: framed, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function rawHttp(base: string, text: string): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(e)));
    socket.write(text, 'latin1');
  });
}

async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<Record<string, unknown>, void, undefined> {
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        yield JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>;
        buffer = buffer.slice(nl + 1);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

async function next(lines: AsyncGenerator<Record<string, unknown>, void, undefined>): Promise<Record<string, unknown>> {
  const r = await lines.next();
  if (r.done === true) throw new Error('watch stream ended');
  return r.value;
}
