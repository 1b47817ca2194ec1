/**
 * The etcd client against a real etcd (Debian's, a local 3-member cluster on loopback): every
 * operation, and Jepsen's classification of what happened when a member is stopped or paused.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientOptions } from '../../../workloads/client.ts';
import { EtcdClient, prefixEnd } from './client.ts';
import { startLocalEtcd } from './testing/local-etcd.ts';
import type { LocalEtcd } from './testing/local-etcd.ts';

const BIN = '/usr/bin/etcd';
const have = existsSync(BIN);
if (!have) console.warn('etcd client tests SKIPPED: /usr/bin/etcd not installed (bash scripts/setup-host.sh)');

const options: ClientOptions = { opTimeoutMs: 2000, readConsistency: 'linearizable', mode: 'single-attempt' };

describe('prefixEnd', () => {
  it('is the prefix with its last byte incremented', () => {
    expect(prefixEnd('set/a/').toString()).toBe('set/a0');
    expect([...prefixEnd('\u00ff')]).toEqual([0xc3, 0xc0]);
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

  beforeAll(async () => {
    etcd = await startLocalEtcd(BIN, 3, 42000 + (process.pid % 500) * 8);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await etcd?.stop();
  });

  it('read, put, compare-and-set on mod_revision, create, delete', async () => {
    const c = client(0);
    expect(await c.read('k')).toMatchObject({ type: 'ok', value: null });
    const p1 = await c.put('k', 1);
    expect(p1).toMatchObject({ type: 'ok', value: { version: 1 } });
    const seen = await c.read('k');
    expect(seen).toMatchObject({ type: 'ok', value: { value: 1, version: 1 } });
    const v = (seen as { value: { version: number; modRevision: number } }).value;
    expect(await c.put('k', 2, { version: v.version, modRevision: v.modRevision })).toMatchObject({ type: 'ok', value: { version: 2 } });
    // The same precondition again: the key moved on, so the txn's compare fails (definite).
    expect(await c.put('k', 3, { version: v.version, modRevision: v.modRevision })).toMatchObject({ type: 'fail', error: { code: 'version-conflict', currentVersion: 2 } });
    expect(await c.create('k', 9)).toMatchObject({ type: 'fail', error: { code: 'key-exists' } });
    expect(await c.put('new', 5, 'absent')).toMatchObject({ type: 'ok', value: { version: 1 } });
    expect(await c.delete('k', { version: 1 })).toMatchObject({ type: 'fail', error: { code: 'version-conflict', currentVersion: 2 } });
    expect(await c.delete('k')).toMatchObject({ type: 'ok' });
    expect(await c.delete('k')).toMatchObject({ type: 'fail', error: { code: 'not-found' } });
  });

  it('set add and read, through another member', async () => {
    const a = client(0);
    const b = client(1);
    for (const e of [3, 1, 2]) expect(await a.setAdd('s', e)).toMatchObject({ type: 'ok', value: e });
    expect(await b.setRead('s')).toMatchObject({ type: 'ok', value: [1, 2, 3] });
    expect(await a.setAdd('s', 2)).toMatchObject({ type: 'fail', error: { code: 'key-exists' } });
  });

  it('locks: acquire, held by another, renew, release; tokens grow', async () => {
    const a = client(0);
    const b = client(1);
    const g1 = await a.leaseAcquire('L', 'a', 2000);
    expect(g1.type).toBe('ok');
    expect(await b.leaseAcquire('L', 'b', 2000)).toMatchObject({ type: 'fail', error: { code: 'lease-held' } });
    const token = (g1 as { value: { token: number } }).value.token;
    expect(await a.leaseRenew('L', 'a', token)).toMatchObject({ type: 'ok', value: { token } });
    expect(await a.leaseRelease('L', 'a', token)).toMatchObject({ type: 'ok' });
    const g2 = await b.leaseAcquire('L', 'b', 2000);
    expect((g2 as { value: { token: number } }).value.token).toBeGreaterThan(token);
    expect(await a.leaseRelease('L', 'a', token)).toMatchObject({ type: 'fail', error: { code: 'lease-lost' } });
  });

  it('watch from a revision sees every change in order, and the progress revision', async () => {
    const c = client(2);
    const start = await c.put('w/x', 'a');
    const from = (start as { value: { modRevision: number } }).value.modRevision;
    await c.put('w/y', 'b');
    await c.delete('w/x');
    const w = await c.watch('w/', from, 300);
    expect(w.type).toBe('ok');
    const out = (w as { value: { events: readonly { type: string; key: string; revision: number; value?: unknown }[]; progressRevision?: number } }).value;
    expect(out.events.map((e) => `${e.type} ${e.key}`)).toEqual(['put w/x', 'put w/y', 'delete w/x']);
    expect(out.events[0]?.revision).toBe(from);
    expect(out.progressRevision).toBeGreaterThanOrEqual(from + 2);
  });

  it('list-append transactions: reads see the transaction\'s own appends; a stale commit fails', async () => {
    const c = client(0);
    expect(await c.txn([['append', 'x', 1], ['r', 'x', null]])).toMatchObject({ type: 'ok', value: [['append', 'x', 1], ['r', 'x', [1]]] });
    expect(await c.txn([['append', 'x', 2], ['append', 'y', 1], ['r', 'x', null]])).toMatchObject({ type: 'ok', value: [['append', 'x', 2], ['append', 'y', 1], ['r', 'x', [1, 2]]] });
    expect(await c.txn([['r', 'y', null]])).toMatchObject({ type: 'ok', value: [['r', 'y', [1]]] });
  });

  it('serializable reads are served by a member cut off from the others; linearizable ones are not', async () => {
    const c = client(0);
    await c.put('s1', 1);
    etcd.signal(1, 'SIGSTOP');
    etcd.signal(2, 'SIGSTOP');
    try {
      const stale = client(0, { readConsistency: 'serializable' });
      expect(await stale.read('s1')).toMatchObject({ type: 'ok', value: { value: 1 } });
      const lin = client(0, { opTimeoutMs: 1500 });
      // A read that cannot be served is `fail` (reads change nothing).
      expect(await lin.read('s1')).toMatchObject({ type: 'fail' });
      // A write that times out may still commit: `info`.
      expect(await lin.put('s1', 2)).toMatchObject({ type: 'info' });
    } finally {
      etcd.signal(1, 'SIGCONT');
      etcd.signal(2, 'SIGCONT');
    }
  });

  it('a stopped member: a read fails; a write whose connection is refused fails (definitely not sent)', async () => {
    etcd.signal(2, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const c = client(2, { opTimeoutMs: 1000 });
    expect(await c.read('k')).toMatchObject({ type: 'fail' });
    const w = await c.put('k', 1);
    expect(w.type).toBe('fail');
    expect((w as { error: { code: string } }).error.code).toMatch(/connection-refused|unavailable/);
  });
});

describe.skipIf(!have)('HashKV over raw gRPC (real etcd)', () => {
  it('equal on every member at the same revision; differs at another revision', async () => {
    const { hashKV } = await import('./hashkv.ts');
    const e = await startLocalEtcd(BIN, 3, 43000 + (process.pid % 500) * 8);
    try {
      const c = new EtcdClient({ ...options, node: 'e1', url: e.urls[0] as string });
      await c.put('a', 1);
      const w = await c.put('b', 2);
      const rev = (w as { value: { modRevision: number } }).value.modRevision;
      await c.put('c', 3);
      await c.close();
      // Members apply asynchronously: wait until each has the write at `rev`.
      await new Promise((r) => setTimeout(r, 500));
      const hashes = await Promise.all(e.urls.map((u) => hashKV(u, rev, 5000)));
      expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
      expect(hashes[0]?.headerRevision).toBeGreaterThanOrEqual(rev + 1);
      expect((await hashKV(e.urls[0] as string, rev + 1, 5000)).hash).not.toBe(hashes[0]?.hash);
    } finally {
      await e.stop();
    }
  });
});
