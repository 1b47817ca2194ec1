import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConsensusError } from '../node/contracts.ts';
import { startInProcessStore, type InProcessStore } from '../store/in-process-cluster.test-support.ts';
import {
  CompactedError,
  IndefiniteError,
  KeyExistsError,
  LeaseHeldError,
  LeaseLostError,
  NoLeaderError,
  NotFoundError,
  StoreClient,
  VersionConflictError,
  type ExchangeRequest,
  type HttpExchange,
  type StoreClientOptions,
  type WatchMessage,
} from './index.ts';

describe.each(['fetch', 'node-http'] as const)('StoreClient (%s) against a three-node in-process store', (transport) => {
  let store: InProcessStore;
  const client = (options: Partial<StoreClientOptions> = {}) =>
    new StoreClient({ endpoints: [store.endpoints[1]!, store.endpoints[2]!, store.endpoints[0]!], retryBackoffMs: 1, requestTimeoutMs: 1000, transport, ...options });
  beforeAll(async () => {
    store = await startInProcessStore({ ids: ['n1', 'n2', 'n3'], stateMachine: { historyMaxEvents: 20 }, server: { enableFaultInjection: true, clusterSecret: 's' } });
  });
  afterAll(() => store.close());

  it('finds the leader through 421 hints and serves every key operation', async () => {
    const attempts: string[] = [];
    const c = client({ onAttempt: (a) => attempts.push(`${a.node}:${a.status}`) });
    const created = await c.create('a', { x: 1 });
    expect(attempts).toEqual(['n2:421', 'n1:200']);
    expect(c.leaderGuess.id).toBe('n1');
    expect(created).toMatchObject({ key: 'a', version: 1 });
    expect(await c.get('a')).toMatchObject({ key: 'a', value: { x: 1 }, version: 1 });
    expect(await c.put('a', 2, { expectedVersion: 1 })).toMatchObject({ version: 2 });
    expect((await c.range('a')).items.map((i) => i.key)).toEqual(['a']);
    const txn = await c.txn([
      { op: 'put', key: 'a', value: 3, expectedVersion: 2 },
      { op: 'create', key: 'b', value: 1 },
    ]);
    expect(txn.results).toHaveLength(2);
    expect(await c.delete('b')).toMatchObject({ key: 'b', deleted: true });
    expect(await c.get('b')).toBeNull();
  });

  it('txn reads and compares: a read-only txn answers every key at one revision; a compare that no longer holds fails the write', async () => {
    const c = client();
    await c.put('tx/a', [1]);
    const read = await c.txn([
      { op: 'get', key: 'tx/a' },
      { op: 'get', key: 'tx/none' },
    ]);
    expect(read.results).toEqual([
      { key: 'tx/a', found: true, value: [1], version: 1, createRevision: read.revision, modRevision: read.revision },
      { key: 'tx/none', found: false, version: 0 },
    ]);
    const committed = await c.txn([
      { op: 'compare', key: 'tx/none', expectedVersion: 0 },
      { op: 'put', key: 'tx/a', value: [1, 2], expectedVersion: 1 },
    ]);
    expect(committed.revision).toBe(read.revision + 1);
    const conflict = await c.txn([{ op: 'compare', key: 'tx/a', expectedVersion: 1 }, { op: 'put', key: 'tx/b', value: [3] }]).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(VersionConflictError);
    expect(conflict).toMatchObject({ currentVersion: 2, details: { opIndex: 0 } });
    expect(await c.get('tx/b')).toBeNull();
  });

  it('throws typed, definite errors', async () => {
    const c = client();
    await c.put('typed', 1);
    const conflict = await c.put('typed', 2, { expectedVersion: 9 }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(VersionConflictError);
    expect(conflict).toMatchObject({ currentVersion: 1, definite: true, node: 'n1' });
    const exists = await c.create('typed', 2).catch((e: unknown) => e);
    expect(exists).toBeInstanceOf(KeyExistsError);
    expect(await c.delete('nope').catch((e: unknown) => e)).toBeInstanceOf(NotFoundError);
    const grant = await c.acquireLease('L', 'h1', 5000);
    const held = await c.acquireLease('L', 'h2', 5000).catch((e: unknown) => e);
    expect(held).toBeInstanceOf(LeaseHeldError);
    expect((held as LeaseHeldError).holder).toBe('h1');
    expect(await c.renewLease('L', 'h1', grant.token + 1).catch((e: unknown) => e)).toBeInstanceOf(LeaseLostError);
    expect(await c.getLease('L')).toMatchObject({ holder: 'h1', token: grant.token });
    await c.releaseLease('L', 'h1', grant.token);
    expect(await c.getLease('L')).toMatchObject({ holder: null });
  });

  it('retries a write that timed out with the same (clientId, seq): applied once, outcome learned', async () => {
    const c = client();
    const leader = store.nodes[0]!.handle;
    leader.injectFault({ kind: 'apply-then-timeout' });
    const before = leader.proposals;
    const result = await c.put('once', 'v');
    expect(result).toMatchObject({ key: 'once', version: 1 });
    expect(leader.proposals - before).toBe(2);
    expect(store.sm.get('once')?.version).toBe(1);
  });

  it('reports IndefiniteError when every attempt may have applied', async () => {
    const c = client({ maxAttempts: 3 });
    await c.get('warm-up-leader').catch(() => null);
    for (let i = 0; i < 3; i++) store.nodes[0]!.handle.injectFault({ kind: 'apply-then-timeout' });
    const e = await c.put('maybe', 1).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IndefiniteError);
    expect(e).toMatchObject({ definite: false });
  });

  it('reports NoLeaderError (definite) when no node leads', async () => {
    store.cluster.setLeader(null);
    try {
      const e = await client({ maxAttempts: 3 }).put('x', 1).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(NoLeaderError);
      expect(e).toMatchObject({ definite: true });
    } finally {
      store.cluster.setLeader('n1');
    }
  });

  it('follows a leader change', async () => {
    const c = client();
    await c.put('lc', 1);
    store.cluster.setLeader('n3');
    try {
      expect(await c.put('lc', 2)).toMatchObject({ version: 2 });
      expect(c.leaderGuess.id).toBe('n3');
    } finally {
      store.cluster.setLeader('n1');
    }
  });

  it('learns a leader it was not configured with from the hint', async () => {
    const c = new StoreClient({ endpoints: [store.endpoints[1]!], retryBackoffMs: 1, transport });
    expect(await c.put('learned', 1)).toMatchObject({ version: 1 });
    expect(c.leaderGuess).toEqual(store.endpoints[0]);
  });

  it('serves stale reads from any node', async () => {
    await client().put('st', 5);
    const followerOnly = new StoreClient({ endpoints: [store.endpoints[1]!], maxAttempts: 1, transport });
    expect(await followerOnly.get('st', { stale: true })).toMatchObject({ value: 5 });
  });

  it('keeps at most 32 writes in flight and completes 100 concurrent writes', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const counting: typeof fetch = async (input, init) => {
      const isWrite = init?.method === 'POST';
      if (isWrite) maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        return await fetch(input, init);
      } finally {
        if (isWrite) inFlight--;
      }
    };
    const c = client({ fetch: counting });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => c.put(`many/${i}`, i)));
    expect(results.every((r) => r.version === 1)).toBe(true);
    expect(maxInFlight).toBeLessThanOrEqual(32);
    expect((await c.range('many/')).items).toHaveLength(100);
  });

  it('watch streams history and live events; a compacted revision throws CompactedError', async () => {
    const c = client();
    const first = await c.put('w/1', 1);
    await c.put('w/2', 2);
    const abort = new AbortController();
    const seen: WatchMessage[] = [];
    const done = (async () => {
      for await (const m of c.watch('w/', { fromRevision: first.revision, signal: abort.signal })) {
        seen.push(m);
        if (m.type === 'put' && m.key === 'w/3') abort.abort();
      }
    })();
    await waitFor(() => seen.some((m) => m.type === 'progress'));
    await c.put('w/3', 3);
    await done;
    expect(seen.filter((m) => m.type !== 'progress').map((m) => (m as { key: string }).key)).toEqual(['w/1', 'w/2', 'w/3']);
    for (let i = 0; i < 30; i++) await c.put('churn', i);
    const compacted = await (async () => {
      for await (const _ of c.watch('', { fromRevision: 1 })) return null;
      return null;
    })().catch((e: unknown) => e);
    expect(compacted).toBeInstanceOf(CompactedError);
    expect((compacted as CompactedError).compactRevision).toBe(store.sm.compactRevision);
  });

  it('status, digest, members and the test clock on a named node', async () => {
    const c = client();
    expect(await c.status('n2')).toMatchObject({ id: 'n2', role: 'follower', leader: 'n1' });
    expect((await c.digest('n1', 1, 3)).map((d) => d.index)).toEqual([1, 2, 3]);
    expect(await c.addMember('n4', '127.0.0.1:7004')).toEqual({ voters: ['n1', 'n2', 'n3'], learners: ['n4'] });
    expect(await c.removeMember('n4')).toEqual({ voters: ['n1', 'n2', 'n3'], learners: [] });
    await c.setClock('n2', 's', { offsetMs: 1234 });
    expect(store.nodes[1]!.handle.clock.state().offsetMs).toBe(1234);
    await c.setClock('n2', 's', { reset: true });
    expect(await c.status('n9').catch((e: unknown) => e)).toMatchObject({ message: expect.stringMatching(/unknown node "n9"/) as unknown });
  });

  it('a membership change is not retried after an indefinite failure', async () => {
    const c = client();
    await c.get('warm').catch(() => null);
    const leader = store.nodes[0]!.handle;
    const original = leader.addMember.bind(leader);
    let calls = 0;
    leader.addMember = () => {
      calls++;
      return Promise.reject(new ConsensusError('timeout', false));
    };
    try {
      const e = await c.addMember('n5').catch((x: unknown) => x);
      expect(e).toBeInstanceOf(IndefiniteError);
      expect(calls).toBe(1);
    } finally {
      leader.addMember = original;
    }
  });
});

describe.each(['fetch', 'node-http'] as const)('StoreClient (%s) transport failures', (transport) => {
  let hanging: Server;
  let hangingUrl: string;
  let store: InProcessStore;
  beforeAll(async () => {
    hanging = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    store = await startInProcessStore();
  });
  afterAll(async () => {
    hanging.closeAllConnections();
    await new Promise((r) => hanging.close(r));
    await store.close();
  });

  it('a write that times out is indefinite', async () => {
    const c = new StoreClient({ endpoints: [{ id: 'h', url: hangingUrl }], requestTimeoutMs: 100, maxAttempts: 2, retryBackoffMs: 1, transport });
    const e = await c.put('k', 1).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IndefiniteError);
    expect(e).toMatchObject({ code: 'timeout', definite: false, node: 'h' });
  });

  it('a refused connection is definite and the next node is tried', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    const only = new StoreClient({ endpoints: [{ id: 'dead', url: deadUrl }], maxAttempts: 1, transport });
    expect(await only.put('k', 1).catch((x: unknown) => x)).toMatchObject({ code: 'connection', definite: true });
    const c = new StoreClient({ endpoints: [{ id: 'dead', url: deadUrl }, store.endpoints[0]!], retryBackoffMs: 1, transport });
    expect(await c.put('k', 1)).toMatchObject({ version: 1 });
  });

  it('after a timeout on one node the write is retried on the next and succeeds exactly once', async () => {
    const c = new StoreClient({ endpoints: [{ id: 'h', url: hangingUrl }, store.endpoints[0]!], requestTimeoutMs: 100, retryBackoffMs: 1, transport });
    expect(await c.put('moved', 1)).toMatchObject({ version: 1 });
  });
});

describe('StoreClient with a caller-supplied exchange (the harness transport seam)', () => {
  let store: InProcessStore;
  beforeAll(async () => {
    store = await startInProcessStore({ ids: ['n1', 'n2', 'n3'] });
  });
  afterAll(() => store.close());

  /** A plain node:http exchange, counting what it sends. */
  function realExchange(sent: ExchangeRequest[]): HttpExchange {
    return (req) => {
      sent.push(req);
      return new Promise((resolve) => {
        const r = httpRequest(req.url, { method: req.method, headers: { ...req.headers, ...(req.body !== undefined ? { 'content-length': String(Buffer.byteLength(req.body)) } : {}) } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ kind: 'answer', status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        });
        r.on('error', (e: NodeJS.ErrnoException) => resolve({ kind: 'failed', reason: e.code === 'ECONNREFUSED' ? 'refused' : 'connection-lost', message: e.message }));
        r.end(req.body);
      });
    };
  }

  it('sends every request through the exchange and the retry waits through the given sleep', async () => {
    const sent: ExchangeRequest[] = [];
    const waits: number[] = [];
    const c = new StoreClient({
      endpoints: [store.endpoints[1]!, store.endpoints[0]!],
      exchange: realExchange(sent),
      sleep: (ms) => {
        waits.push(ms);
        return Promise.resolve();
      },
      requestTimeoutMs: 777,
    });
    expect(await c.put('ex/a', 1)).toMatchObject({ version: 1 });
    expect(sent.map((r) => [r.method, new URL(r.url).port, r.timeoutMs])).toEqual([
      ['POST', new URL(store.endpoints[1]!.url).port, 777],
      ['POST', new URL(store.endpoints[0]!.url).port, 777],
    ]);
    expect(waits).toHaveLength(1);
  });

  it('a timeout the exchange reports is indefinite and retried with the same (clientId, seq): the write applies once', async () => {
    const sent: ExchangeRequest[] = [];
    const real = realExchange(sent);
    let first = true;
    const losesFirstAnswer: HttpExchange = async (req) => {
      const out = await real(req);
      if (!first) return out;
      first = false;
      // The store applied it; the answer is lost on the way back.
      return { kind: 'failed', reason: 'timeout', message: 'answer lost' };
    };
    const c = new StoreClient({ endpoints: [store.endpoints[0]!], exchange: losesFirstAnswer, retryBackoffMs: 1 });
    const result = await c.txn([{ op: 'put', key: 'ex/once', value: [1], expectedVersion: 0 }]);
    expect(result.results[0]).toMatchObject({ key: 'ex/once', version: 1 });
    expect(sent).toHaveLength(2);
    const ids = sent.map((r) => JSON.parse(r.body!) as { clientId: string; seq: number });
    expect(ids[1]).toEqual({ ...ids[0], ops: [{ op: 'put', key: 'ex/once', value: [1], expectedVersion: 0 }] });
    expect(store.sm.get('ex/once')?.version).toBe(1);
  });

  it('refused is definite (the next node is tried); a lost connection on every attempt is indefinite', async () => {
    const refused: HttpExchange = () => Promise.resolve({ kind: 'failed', reason: 'refused', message: 'ECONNREFUSED' });
    expect(await new StoreClient({ endpoints: [store.endpoints[0]!], exchange: refused, maxAttempts: 2, retryBackoffMs: 1 }).put('ex/r', 1).catch((e: unknown) => e)).toMatchObject({
      code: 'connection',
      definite: true,
    });
    const lost: HttpExchange = () => Promise.resolve({ kind: 'failed', reason: 'connection-lost', message: 'socket hang up' });
    const e = await new StoreClient({ endpoints: [store.endpoints[0]!], exchange: lost, maxAttempts: 2, retryBackoffMs: 1 }).put('ex/l', 1).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(IndefiniteError);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
