/**
 * The etcd client against a real etcd (Debian's, local clusters on loopback): every operation,
 * one attempt per call, and Jepsen's classification of what happened when a member is stopped,
 * paused, or dies with the request in flight.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientOptions } from '../../../workloads/client.ts';
import { listLabelledProcesses } from '../../runtime/local-runtime.ts';
import { classifyError, EtcdClient, prefixEnd } from './client.ts';
import { startLocalEtcd } from './testing/local-etcd.ts';
import { okValue, recordedHistory } from './testing/recorded-history.ts';
import type { LocalEtcd } from './testing/local-etcd.ts';
import { checkWatch } from '../../../checkers/watch/watch.ts';
import { knownBugsOf } from './known-bugs.ts';
import { DEBIAN_ETCD, etcdVersion } from './version.ts';

const have = existsSync(DEBIAN_ETCD);
if (!have) console.warn(`etcd client tests SKIPPED: ${DEBIAN_ETCD} not installed (bash scripts/setup-host.sh)`);

const options: ClientOptions = { opTimeoutMs: 2000, readConsistency: 'linearizable', mode: 'single-attempt' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


describe('prefixEnd', () => {
  it('is the prefix with its last byte incremented', () => {
    expect(prefixEnd('set/a/').toString()).toBe('set/a0');
    expect([...prefixEnd('\u00ff')]).toEqual([0xc3, 0xc0]);
  });
});

describe('classifyError (messages as grpc-js and etcd produce them, seen in the tests below)', () => {
  const cases: [message: string, readOnly: boolean, type: 'fail' | 'info', code: string][] = [
    // Nothing was sent: no transport could be picked.
    ['14 UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:2379. Resolution note: ', false, 'fail', 'connection-refused'],
    ['14 UNAVAILABLE: No connection established. Last error: Failed to connect (2026-01-01T00:00:00.000Z). Resolution note: ', false, 'fail', 'not-connected'],
    ['4 DEADLINE_EXCEEDED: Deadline exceeded after 0.999s,name resolution: 0.001s,Waiting for LB pick', false, 'fail', 'not-connected'],
    // Sent, then no answer: may have happened.
    ['4 DEADLINE_EXCEEDED: Deadline exceeded after 1.000s,remote_addr=127.0.0.1:35079', false, 'info', 'timeout'],
    ['14 UNAVAILABLE: Connection dropped', false, 'info', 'unavailable'],
    ['14 UNAVAILABLE: etcdserver: request timed out', false, 'info', 'timeout'],
    ['14 UNAVAILABLE: etcdserver: leader changed', false, 'info', 'leader-changed'],
    // Refused by etcd before proposing: did not happen.
    ['3 INVALID_ARGUMENT: etcdserver: request is too large', false, 'fail', 'request-too-large'],
    ['2 UNKNOWN: raft proposal dropped', false, 'fail', 'proposal-dropped'],
    // Reads change nothing: always fail.
    ['4 DEADLINE_EXCEEDED: Deadline exceeded after 1.000s,remote_addr=127.0.0.1:35079', true, 'fail', 'timeout'],
  ];
  it.each(cases)('%s (read-only %s) is %s %s', (message, readOnly, type, code) => {
    expect(classifyError(new Error(message), readOnly)).toMatchObject({ type, error: { code } });
  });
});

/** A TCP endpoint that accepts every connection and drops it at once (a member dying at accept), counting connections. */
async function droppingServer(): Promise<{ server: Server; url: string; connections: () => number }> {
  let n = 0;
  const server = createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, connections: () => n };
}

describe('one call is one attempt', () => {
  it('a write to a member that drops connections opens one connection and fails; etcd3 with its default policies tries 3 times', async () => {
    const d = await droppingServer();
    try {
      const c = new EtcdClient({ ...options, node: 'e1', url: d.url });
      expect(await c.put('k', 1)).toMatchObject({ type: 'fail', error: { code: 'not-connected' } });
      await c.close();
      expect(d.connections()).toBe(1);
      // The control: the same call through etcd3's defaults (a 3-attempt retry, a circuit breaker).
      const before = d.connections();
      const defaults = new Etcd3({ hosts: [d.url] });
      await expect(defaults.kv.put({ key: Buffer.from('k'), value: Buffer.from('1') }, { deadline: Date.now() + 5000 })).rejects.toThrow();
      defaults.close();
      expect(d.connections() - before).toBeGreaterThanOrEqual(3);
    } finally {
      d.server.close();
    }
  });
});

describe.skipIf(!have)('etcd client (real etcd, 3 members on loopback)', () => {
  let etcd: LocalEtcd;
  const clients: EtcdClient[] = [];
  const client = (i: number, o: Partial<ClientOptions> = {}): EtcdClient => {
    const c = new EtcdClient({ ...options, ...o, node: `e${i + 1}`, url: etcd.urls[i] as string });
    clients.push(c);
    return c;
  };

  /** After a fault: wait (bounded) until member `i` commits a write again (elections settle). */
  const settled = async (i: number): Promise<void> => {
    const c = client(i, { opTimeoutMs: 3000 });
    for (let attempt = 0; attempt < 10; attempt++) {
      if ((await c.put('settle', attempt)).type === 'ok') return;
      await sleep(300);
    }
    throw new Error(`member ${i} did not commit a write within 10 attempts`);
  };

  beforeAll(async () => {
    etcd = await startLocalEtcd(DEBIAN_ETCD, { size: 3 });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await etcd?.stop();
    if (etcd !== undefined) expect(listLabelledProcesses(etcd.label)).toEqual([]);
  });

  it('read, put, compare-and-set on mod_revision, create, delete', async () => {
    const c = client(0);
    expect(await c.read('k')).toMatchObject({ type: 'ok', value: null });
    const p1 = await c.put('k', 1);
    expect(p1).toMatchObject({ type: 'ok', value: { version: 1 } });
    const seen = okValue(await c.read('k'));
    expect(seen).toMatchObject({ value: 1, version: 1, modRevision: okValue(p1).modRevision, createRevision: okValue(p1).modRevision });
    const v = { version: seen?.version ?? 0, modRevision: seen?.modRevision ?? 0 };
    const p2 = await c.put('k', 2, v);
    expect(p2).toMatchObject({ type: 'ok', value: { version: 2 } });
    // The same precondition again: the key moved on, so the txn's compare fails (definite), with where it is now.
    expect(await c.put('k', 3, v)).toMatchObject({ type: 'fail', error: { code: 'version-conflict', currentVersion: 2, currentModRevision: okValue(p2).modRevision } });
    expect(await c.read('k')).toMatchObject({ type: 'ok', value: { value: 2 } });
    expect(await c.create('k', 9)).toMatchObject({ type: 'fail', error: { code: 'key-exists', currentVersion: 2 } });
    expect(await c.put('new', 5, 'absent')).toMatchObject({ type: 'ok', value: { version: 1 } });
    expect(await c.put('new', 6, 'absent')).toMatchObject({ type: 'fail', error: { code: 'version-conflict', currentVersion: 1 } });
    expect(await c.delete('k', { version: 1 })).toMatchObject({ type: 'fail', error: { code: 'version-conflict', currentVersion: 2 } });
    const before = okValue(await c.put('k2', 'other')).modRevision as number;
    // The delete's revision is the one its txn made (the watch checker places the delete there).
    expect(await c.delete('k', { version: 2 })).toMatchObject({ type: 'ok', value: { deleted: true, revision: before + 1 } });
    expect(await c.delete('k')).toMatchObject({ type: 'fail', error: { code: 'not-found' } });
  });

  it('range returns every key under the prefix in key order, and nothing else', async () => {
    const c = client(1);
    for (const k of ['r/b', 'r/a', 'r/c', 'rx', 'q']) await c.put(k, k);
    expect(okValue(await c.range('r/')).map((it) => [it.key, it.value, it.version])).toEqual([
      ['r/a', 'r/a', 1],
      ['r/b', 'r/b', 1],
      ['r/c', 'r/c', 1],
    ]);
  });

  it('set add and read, through another member', async () => {
    const a = client(0);
    const b = client(1);
    for (const e of [3, 1, 2, 10]) expect(await a.setAdd('s', e)).toMatchObject({ type: 'ok', value: e });
    expect(await b.setRead('s')).toMatchObject({ type: 'ok', value: [1, 2, 3, 10] });
    expect(await a.setAdd('s', 2)).toMatchObject({ type: 'fail', error: { code: 'key-exists' } });
  });

  it('locks: acquire, held by another, renew, release; tokens are create revisions and grow', async () => {
    const a = client(0);
    const b = client(1);
    const g1 = okValue(await a.leaseAcquire('L', 'a', 2000));
    expect(await b.leaseAcquire('L', 'b', 2000)).toMatchObject({ type: 'fail', error: { code: 'lease-held', message: 'held by a' } });
    const token = g1.token as number;
    expect(await a.read('lock/L')).toMatchObject({ type: 'ok', value: { value: 'a', createRevision: token } });
    expect(await a.leaseRenew('L', 'a', token)).toMatchObject({ type: 'ok', value: { token } });
    expect(await a.leaseRelease('L', 'a', token)).toMatchObject({ type: 'ok' });
    expect(await a.read('lock/L')).toMatchObject({ type: 'ok', value: null });
    const g2 = okValue(await b.leaseAcquire('L', 'b', 2000));
    expect(g2.token).toBeGreaterThan(token);
    // a's token is stale: releasing with it leaves b's lock alone.
    expect(await a.leaseRelease('L', 'a', token)).toMatchObject({ type: 'fail', error: { code: 'lease-lost' } });
    expect(await a.read('lock/L')).toMatchObject({ type: 'ok', value: { value: 'b' } });
    expect(await b.leaseRelease('L', 'b', g2.token)).toMatchObject({ type: 'ok' });
  });

  it('a lock whose lease expired: renew fails lease-lost and the key is gone, so another process acquires it', async () => {
    const a = client(0);
    const b = client(2);
    const g = okValue(await a.leaseAcquire('E', 'a', 1000));
    await sleep(2500);
    expect(await a.leaseRenew('E', 'a', g.token)).toMatchObject({ type: 'fail', error: { code: 'lease-lost' } });
    expect(okValue(await b.leaseAcquire('E', 'b', 1000)).token).toBeGreaterThan(g.token as number);
  });

  it('watch from a revision sees every change in order, and the progress revision', async () => {
    const c = client(2);
    const from = okValue(await c.put('w/x', 'a')).modRevision as number;
    await c.put('w/y', 'b');
    await c.delete('w/x');
    await c.put('wz', 'outside the prefix');
    const out = okValue(await c.watch('w/', from, 300));
    const changes = out.events.filter((e) => e.type !== 'progress');
    expect(changes.map((e) => `${e.type} ${e.key} ${e.revision}`)).toEqual([`put w/x ${from}`, `put w/y ${from + 1}`, `delete w/x ${from + 2}`]);
    expect(changes[0]).toMatchObject({ value: 'a', version: 1 });
    expect(out.progressRevision).toBeGreaterThanOrEqual(from + 3);
    // Progress answers come in the stream where etcd sent them: the requests every 100 ms, then
    // the one at the end, whose revision is the session's.
    const progress = out.events.filter((e) => e.type === 'progress');
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toEqual({ type: 'progress', revision: out.progressRevision });
    expect(out.events.at(-1)).toEqual(progress.at(-1));
    expect(out.error).toBeUndefined();
  });

  /** Compact the cluster up to `revision`, waiting for it to finish (physical). */
  const compactAt = async (revision: number): Promise<void> => {
    const admin = new Etcd3({ hosts: [etcd.urls[0] as string], faultHandling: { host: () => noop, global: noop } });
    try {
      await admin.kv.compact({ revision, physical: true });
    } finally {
      admin.close();
    }
  };

  it('a watch from a compacted revision ends with the compaction in its error', async () => {
    const c = client(0);
    const first = okValue(await c.put('cw/a', 1)).modRevision as number;
    const last = okValue(await c.put('cw/a', 2)).modRevision as number;
    await compactAt(last);
    const out = okValue(await c.watch('cw/', first, 300));
    // No change arrives. etcd cancels a compacted watcher on its next sync (every 100 ms), and
    // a release with etcd#15220 (Debian's 3.4.23) answers a progress request sent before that
    // although the watcher never caught up: such a notification may come first, nothing else.
    expect(out.events.filter((e) => e.type !== 'progress')).toEqual([]);
    expect(out.compacted).toBe(last);
    expect(out.error).toBe(`compacted: compact revision ${last}`);
    // etcd keeps the compaction revision itself: a watch may start there.
    const resumed = okValue(await c.watch('cw/', last, 300));
    expect(resumed.events.filter((e) => e.type !== 'progress')).toEqual([{ type: 'put', key: 'cw/a', revision: last, value: 2, version: 2 }]);
    expect(resumed.compacted).toBeUndefined();
  });

  it('a compaction at a delete, then a watch resuming there: the watch checker names the delete missed at the compaction revision exactly when the release has etcd#18089', async () => {
    const c = client(0);
    const { history, record } = recordedHistory();
    const put = async (value: string): Promise<number> => {
      const w = okValue(await c.put('cd/k', value));
      record(0, 'put', { value }, w, 'cd/k');
      return w.modRevision as number;
    };
    const first = await put('a');
    await put('b');
    const deleted = okValue(await c.delete('cd/k'));
    record(0, 'delete', null, { revision: deleted.revision }, 'cd/k');
    const at = deleted.revision as number;
    await compactAt(at);
    // Refused from the first put, resumed from the compaction revision, as the workload does.
    const refused = okValue(await c.watch('cd/', first, 300));
    record(1, 'watch', { watcher: 'w', prefix: 'cd/', fromRevision: first }, refused);
    expect(refused.compacted).toBe(at);
    const resumed = okValue(await c.watch('cd/', at, 300));
    record(1, 'watch', { watcher: 'w', prefix: 'cd/', fromRevision: at }, resumed);
    const r = checkWatch({ history });
    const hasBug = knownBugsOf(etcdVersion(DEBIAN_ETCD)).some((b) => b.issue === 'etcd-io/etcd#18089');
    if (hasBug) {
      expect(resumed.events.filter((e) => e.type !== 'progress')).toEqual([]);
      expect(r.valid).toBe(false);
      expect(r.violations).toEqual([expect.objectContaining({ kind: 'gap', change: expect.objectContaining({ type: 'delete', key: 'cd/k', revision: at }) as unknown, startOf: { session: 8, compactRevision: true } })]);
      expect(r.summary).toContain('1 change missed at the compaction revision a watcher resumed from');
    } else {
      expect(resumed.events.filter((e) => e.type !== 'progress')).toEqual([{ type: 'delete', key: 'cd/k', revision: at }]);
      expect(r.valid).toBe(true);
    }
  });

  it('list-append transactions: reads see the transaction\'s own appends; a key holding something else is not-a-list', async () => {
    const c = client(0);
    expect(await c.txn([['append', 'x', 1], ['r', 'x', null]])).toMatchObject({ type: 'ok', value: [['append', 'x', 1], ['r', 'x', [1]]] });
    expect(await c.txn([['append', 'x', 2], ['append', 'y', 1], ['r', 'x', null]])).toMatchObject({ type: 'ok', value: [['append', 'x', 2], ['append', 'y', 1], ['r', 'x', [1, 2]]] });
    expect(await c.txn([['r', 'y', null], ['r', 'nothing', null]])).toMatchObject({ type: 'ok', value: [['r', 'y', [1]], ['r', 'nothing', []]] });
    await c.put('str', 'not a list');
    expect(await c.txn([['append', 'str', 1]])).toMatchObject({ type: 'fail', error: { code: 'not-a-list' } });
  });

  it('concurrent appends to one key: every ok append is in the list exactly once, no failed one is', async () => {
    const procs = [0, 1, 2, 0, 1, 2].map((i) => client(i));
    const results = await Promise.all(procs.flatMap((p, i) => [1, 2, 3].map((j) => p.txn([['append', 'hot', i * 10 + j]]).then((r) => [i * 10 + j, r.type] as const))));
    const final = okValue(await client(0).txn([['r', 'hot', null]]))[0]?.[2] as number[];
    const ok = results.filter(([, t]) => t === 'ok').map(([e]) => e);
    const failed = results.filter(([, t]) => t === 'fail').map(([e]) => e);
    expect(results.filter(([, t]) => t === 'info')).toEqual([]);
    expect([...final].sort((a, b) => a - b)).toEqual(ok.sort((a, b) => a - b));
    for (const e of failed) expect(final).not.toContain(e);
  });

  it('serializable reads are served by a member cut off from the others; linearizable ones are not', async () => {
    const c = client(0);
    await c.put('s1', 1);
    etcd.signal(1, 'SIGSTOP');
    etcd.signal(2, 'SIGSTOP');
    try {
      const stale = client(0, { readConsistency: 'serializable' });
      expect(await stale.read('s1')).toMatchObject({ type: 'ok', value: { value: 1 } });
      expect(await stale.range('s1')).toMatchObject({ type: 'ok', value: [{ key: 's1', value: 1 }] });
      const lin = client(0, { opTimeoutMs: 1500 });
      // A read that cannot be served is `fail` (reads change nothing).
      expect(await lin.read('s1')).toMatchObject({ type: 'fail', error: { code: 'timeout' } });
      // A write the member accepted but cannot commit may still commit later: `info`.
      expect(await lin.put('s1', 2)).toMatchObject({ type: 'info', error: { code: 'timeout' } });
    } finally {
      etcd.signal(1, 'SIGCONT');
      etcd.signal(2, 'SIGCONT');
    }
  });

  it('a paused member: a write sent on an open connection is info after the timeout; a new connection cannot send, so fail', async () => {
    await settled(1);
    const c = client(1, { opTimeoutMs: 1000 });
    expect((await c.put('p', 1)).type).toBe('ok');
    etcd.signal(1, 'SIGSTOP');
    try {
      expect(await c.put('p', 2)).toMatchObject({ type: 'info', error: { code: 'timeout' } });
      const fresh = client(1, { opTimeoutMs: 1000 });
      expect(await fresh.put('p', 3)).toMatchObject({ type: 'fail', error: { code: 'not-connected' } });
      expect(await fresh.read('p')).toMatchObject({ type: 'fail' });
    } finally {
      etcd.signal(1, 'SIGCONT');
    }
  });

  it('a stopped member: reads, writes, lock acquires and watches fail (connection refused: nothing was sent)', async () => {
    await settled(0);
    etcd.signal(2, 'SIGKILL');
    await sleep(300);
    const c = client(2, { opTimeoutMs: 1000 });
    for (const r of [await c.read('k'), await c.put('k', 1), await c.leaseAcquire('Z', 'c', 1000), await c.txn([['append', 'x', 99]]), await c.watch('w/', undefined, 200)]) {
      expect(r).toMatchObject({ type: 'fail', error: { code: 'connection-refused' } });
    }
    await etcd.restart(2);
    expect(await client(2).read('s1')).toMatchObject({ type: 'ok' });
  });

  it('a member killed with a write in flight: info (the request was sent)', async () => {
    await settled(2);
    const c = client(2, { opTimeoutMs: 3000 });
    expect((await c.put('f', 1)).type).toBe('ok');
    etcd.signal(2, 'SIGSTOP');
    const pending = c.put('f', 2);
    await sleep(300);
    etcd.signal(2, 'SIGKILL');
    expect(await pending).toMatchObject({ type: 'info', error: { code: 'unavailable' } });
    await etcd.restart(2);
  });
});

describe.skipIf(!have)('local etcd helper', () => {
  it('a single member starts, serves, and leaves no process or directory behind', async () => {
    const e = await startLocalEtcd(DEBIAN_ETCD, { size: 1 });
    const c = new EtcdClient({ ...options, node: 'e1', url: e.urls[0] as string });
    expect(await c.put('one', 1)).toMatchObject({ type: 'ok' });
    await c.close();
    expect(listLabelledProcesses(e.label).length).toBe(1);
    await e.stop();
    expect(listLabelledProcesses(e.label)).toEqual([]);
    expect(existsSync(e.members[0]?.log as string)).toBe(false);
  });

  it('a binary that is not etcd: refused with its exit status, nothing left running', async () => {
    await expect(startLocalEtcd('/bin/false', { size: 1, readyTimeoutMs: 5000 })).rejects.toThrow(/exited with status 1/);
  });
});
