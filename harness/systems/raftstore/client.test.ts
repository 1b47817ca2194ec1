import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessStore, type InProcessStore } from '../../../impl/store/in-process-cluster.test-support.ts';
import type { HttpRequest } from '../../runtime/http-transport.ts';
import { HttpTransportError } from '../../runtime/http-transport.ts';
import { classify, RaftstoreClient } from './client.ts';
import { call, realHttp, type HttpEnv } from './http.ts';
import { exchangeOver, RetryingRaftstoreClient } from './retrying-client.ts';

describe('raftstore client: classifying outcomes', () => {
  it('definite errors fail, indefinite ones are info, and any error on a read fails', () => {
    const timeout = { kind: 'error', definite: false, code: 'timeout', status: null, body: null, leaderHint: null } as const;
    const conflict = { kind: 'error', definite: true, code: 'version-conflict', status: 409, body: { error: { code: 'version-conflict', currentVersion: 4 } }, leaderHint: null } as const;
    expect(classify(timeout, 'n1', false, () => null).type).toBe('info');
    expect(classify(timeout, 'n1', true, () => null).type).toBe('fail');
    expect(classify(conflict, 'n1', false, () => null)).toEqual({ type: 'fail', error: { code: 'version-conflict', status: 409, currentVersion: 4 }, node: 'n1' });
    expect(classify({ kind: 'ok', status: 200, body: { version: 2 } }, 'n1', false, (b) => b.version)).toEqual({ type: 'ok', value: 2, node: 'n1' });
  });
});

describe('raftstore client: which node it asks', () => {
  it('follows a not-leader hint and remembers the leader; once that leader refuses connections (it died), the next operation starts at home again', async () => {
    const asked: string[] = [];
    let leaderUp = true;
    const env: HttpEnv = {
      clock: realHttp().clock,
      http: {
        request: (req) => {
          const node = new URL(req.url).hostname;
          asked.push(node);
          if (node === 'n2') {
            if (!leaderUp) return Promise.reject(new HttpTransportError('refused', 'connect ECONNREFUSED'));
            return Promise.resolve({ status: 200, body: JSON.stringify({ value: 1, version: 1 }) });
          }
          return Promise.resolve({ status: 503, body: JSON.stringify({ error: { code: 'not-leader', definite: true, leaderHint: { id: 'n2' } } }) });
        },
        stream: () => Promise.reject(new Error('unused')),
      },
    };
    const urls = new Map([['n1', 'http://n1:8000'], ['n2', 'http://n2:8000']]);
    const client = new RaftstoreClient({ opTimeoutMs: 1000, readConsistency: 'linearizable', mode: 'single-attempt', process: 1, urls, node: 'n1', runTag: 't' }, env);
    expect(await client.read('k')).toMatchObject({ type: 'ok', node: 'n2' });
    expect(await client.read('k')).toMatchObject({ type: 'ok', node: 'n2' });
    expect(asked).toEqual(['n1', 'n2', 'n2']);
    leaderUp = false;
    expect(await client.read('k')).toMatchObject({ type: 'fail', error: { code: 'econnrefused' } });
    asked.length = 0;
    await client.read('k');
    expect(asked[0]).toBe('n1');
  });
});

describe('raftstore clients: list-append transactions against an in-process store', () => {
  let store: InProcessStore;
  beforeAll(async () => {
    store = await startInProcessStore({ ids: ['n1', 'n2', 'n3'] });
  });
  afterAll(() => store.close());

  const urls = (): Map<string, string> => new Map(store.nodes.map((n) => [n.id, n.url]));
  const options = (mode: 'single-attempt' | 'retrying', process: number) =>
    ({ opTimeoutMs: 1000, readConsistency: 'linearizable', mode, process, urls: urls(), node: 'n2', runTag: 'test' }) as const;
  /** The real transport, with a hook that runs before each request is sent. */
  function hooked(before: (req: HttpRequest) => Promise<void> | void): HttpEnv {
    const real = realHttp();
    return { clock: real.clock, http: { request: async (req) => (await before(req), real.http.request(req)), stream: (u, d, f) => real.http.stream(u, d, f) } };
  }
  const isCommit = (req: HttpRequest): boolean => req.url.endsWith('/v1/kv/txn') && (req.body ?? '').includes('"expectedVersion"');
  const competingPut = async (key: string): Promise<void> => {
    const cur = store.sm.get(key);
    await call(store.nodes[0]!.url, '/v1/kv/put', { method: 'POST', body: { key, value: [...((cur?.value as number[] | undefined) ?? []), 999], clientId: 'rival', seq: store.sm.appliedIndex + 1 }, timeoutMs: 1000 });
  };

  it.each(['single-attempt', 'retrying'] as const)('%s: appends commit, reads see the lists (and the transaction’s own appends), a read-only transaction writes nothing', async (mode) => {
    const client = mode === 'retrying' ? new RetryingRaftstoreClient(options(mode, 11), realHttp()) : new RaftstoreClient(options(mode, 1), realHttp());
    const a = `${mode}/a`;
    const b = `${mode}/b`;
    expect(await client.txn([['append', a, 1], ['r', a, null], ['r', b, null]])).toEqual({ type: 'ok', value: [['append', a, 1], ['r', a, [1]], ['r', b, []]], node: 'n1' });
    expect(await client.txn([['append', a, 2], ['append', b, 3]])).toMatchObject({ type: 'ok' });
    const revision = store.sm.revision;
    expect(await client.txn([['r', a, null], ['r', b, null]])).toMatchObject({ type: 'ok', value: [['r', a, [1, 2]], ['r', b, [3]]] });
    expect(store.sm.revision).toBe(revision);
    expect(store.sm.get(a)?.value).toEqual([1, 2]);
    await client.close();
  });

  it('single-attempt: a key that changed between the read and the commit fails the transaction (nothing written)', async () => {
    let commits = 0;
    const env = hooked(async (req) => {
      if (isCommit(req) && commits++ === 0) await competingPut('sa/c');
    });
    const client = new RaftstoreClient(options('single-attempt', 2), env);
    const r = await client.txn([['r', 'sa/c', null], ['append', 'sa/d', 1]]);
    expect(r).toMatchObject({ type: 'fail', error: { code: 'version-conflict', currentVersion: 1 } });
    expect(store.sm.get('sa/d')).toBeNull();
  });

  it('retrying: on a conflict the application reads again and commits; the reads recorded are the ones that committed', async () => {
    let commits = 0;
    const client = new RetryingRaftstoreClient(options('retrying', 3), hooked(async (req) => {
      if (isCommit(req) && commits++ === 0) await competingPut('rt/c');
    }));
    const r = await client.txn([['r', 'rt/c', null], ['append', 'rt/d', 1]]);
    expect(r).toEqual({ type: 'ok', value: [['r', 'rt/c', [999]], ['append', 'rt/d', 1]], node: 'n1' });
    expect(store.sm.get('rt/d')?.value).toEqual([1]);
  });

  it('a commit whose answer was lost: single-attempt says info; retrying resends the same (clientId, seq) and the append applies once', async () => {
    const loseCommitAnswer = (req: HttpRequest): void => {
      if (isCommit(req)) store.nodes[0]!.handle.injectFault({ kind: 'apply-then-timeout' });
    };
    const single = new RaftstoreClient(options('single-attempt', 4), hooked(loseCommitAnswer));
    expect(await single.txn([['append', 'lost/a', 1]])).toMatchObject({ type: 'info', error: { code: 'timeout' } });
    expect(store.sm.get('lost/a')).toMatchObject({ value: [1], version: 1 });

    const sent: string[] = [];
    const real = exchangeOver(hooked(loseCommitAnswer));
    let injected = false;
    const retrying = new RetryingRaftstoreClient(options('retrying', 5), realHttp(), {
      retryBackoffMs: 1,
      exchange: (req) => {
        sent.push(req.body ?? '');
        // Only the first commit loses its answer; its retry is answered from the exactly-once table.
        if (injected && isCommit({ ...req, timeoutMs: 0 })) return exchangeOver(realHttp())(req);
        if (isCommit({ ...req, timeoutMs: 0 })) injected = true;
        return real(req);
      },
    });
    expect(await retrying.txn([['append', 'lost/b', 1]])).toEqual({ type: 'ok', value: [['append', 'lost/b', 1]], node: 'n1' });
    expect(store.sm.get('lost/b')).toMatchObject({ value: [1], version: 1 });
    const commits = sent.filter((b) => b.includes('"expectedVersion"')).map((b) => JSON.parse(b) as { clientId: string; seq: number });
    expect(commits.length).toBeGreaterThanOrEqual(2);
    expect(new Set(commits.map((c) => `${c.clientId}/${c.seq}`)).size).toBe(1);
  });

  it('retrying, on a store that lost its exactly-once record: the retry conflicts, the application appends again, and the element shows twice', async () => {
    // What the planted bug (sessions left out of snapshots) does to a node restored from a
    // snapshot: the store forgets it applied the request, so the retry runs again.
    const forgetSessions = (): void => {
      const snap = JSON.parse(new TextDecoder().decode(store.sm.snapshot())) as { sessions: unknown[] };
      snap.sessions = [];
      store.sm.restore(new TextEncoder().encode(JSON.stringify(snap)));
    };
    const real = exchangeOver(realHttp());
    let lost = false;
    const client = new RetryingRaftstoreClient(options('retrying', 6), realHttp(), {
      retryBackoffMs: 1,
      exchange: async (req) => {
        const out = await real(req);
        if (lost || !(req.body ?? '').includes('"put"')) return out;
        lost = true;
        forgetSessions();
        return { kind: 'failed', reason: 'timeout', message: 'answer lost' };
      },
    });
    expect(await client.txn([['append', 'dup/a', 7]])).toMatchObject({ type: 'ok', value: [['append', 'dup/a', 7]] });
    expect(store.sm.get('dup/a')?.value).toEqual([7, 7]);
  });

  it('retrying: a definite refusal is fail; an indefinite error after the retries gave up is info; on a read any error is fail', async () => {
    const unreachable = new Map([['n9', 'http://127.0.0.1:9']]);
    const dead = new RetryingRaftstoreClient({ ...options('retrying', 7), urls: unreachable, node: 'n9' }, realHttp(), { retryBackoffMs: 1, maxAttempts: 2 });
    expect(await dead.txn([['append', 'x', 1]])).toMatchObject({ type: 'fail', error: { code: 'connection' } });
    const lostEverything = new RetryingRaftstoreClient(options('retrying', 8), realHttp(), {
      retryBackoffMs: 1,
      maxAttempts: 2,
      exchange: () => Promise.resolve({ kind: 'failed', reason: 'connection-lost', message: 'reset' }),
    });
    expect(await lostEverything.put('y', 1)).toMatchObject({ type: 'info', error: { code: 'connection' } });
    expect(await lostEverything.read('y')).toMatchObject({ type: 'fail' });
    expect(await lostEverything.txn([['r', 'y', null]])).toMatchObject({ type: 'fail' });
    const ok = new RetryingRaftstoreClient(options('retrying', 9), realHttp());
    await ok.put('z', 1);
    expect(await ok.put('z', 2, { version: 7 })).toMatchObject({ type: 'fail', error: { code: 'version-conflict', currentVersion: 1 } });
    expect(await ok.create('z', 3)).toMatchObject({ type: 'fail', error: { code: 'key-exists' } });
    expect(await ok.read('z')).toMatchObject({ type: 'ok', value: { value: 1, version: 1 } });
  });
});

describe('raftstore clients: deletes and watches of a compacted revision, against an in-process store', () => {
  let store: InProcessStore;
  beforeAll(async () => {
    // A watch history of 4 events: older revisions are compacted.
    store = await startInProcessStore({ ids: ['n1'], stateMachine: { historyMaxEvents: 4 } });
  });
  afterAll(() => store.close());
  const options = (mode: 'single-attempt' | 'retrying', process: number) =>
    ({ opTimeoutMs: 1000, readConsistency: 'linearizable', mode, process, urls: new Map(store.nodes.map((n) => [n.id, n.url])), node: 'n1', runTag: 'test' }) as const;

  it.each(['single-attempt', 'retrying'] as const)('%s: a delete says its revision; a compacted start says where a watch may resume, and it may', async (mode) => {
    const client = mode === 'retrying' ? new RetryingRaftstoreClient(options(mode, 21), realHttp()) : new RaftstoreClient(options(mode, 2), realHttp());
    const k = `${mode}/k`;
    const first = await client.put(k, 1);
    if (first.type !== 'ok') throw new Error('put failed');
    for (let i = 2; i <= 6; i++) await client.put(k, i);
    const deleted = await client.delete(k);
    expect(deleted).toMatchObject({ type: 'ok', value: { deleted: true, revision: store.sm.revision } });
    const out = await client.watch(`${mode}/`, first.value.modRevision, 200);
    const compacted = store.sm.compactRevision + 1;
    expect(out).toMatchObject({ type: 'ok', value: { events: [], compacted, error: expect.stringContaining('compact') as unknown } });
    const resumed = await client.watch(`${mode}/`, compacted, 200);
    expect(resumed.type === 'ok' && resumed.value.events.filter((e) => e.type !== 'progress').map((e) => `${e.type} ${e.revision}`)).toEqual(
      Array.from({ length: store.sm.revision - compacted + 1 }, (_, i) => `${compacted + i === store.sm.revision ? 'delete' : 'put'} ${compacted + i}`),
    );
    expect(resumed).not.toMatchObject({ value: { compacted: expect.anything() as unknown } });
    await client.close();
  });
});
