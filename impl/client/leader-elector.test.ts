import { describe, it, expect } from 'vitest';
import { encodeCommand } from '../store/commands.ts';
import { startInProcessStore } from '../store/in-process-cluster.test-support.ts';
import { LeaderElector, StoreClient } from './index.ts';

const fast = { leaseTtlMs: 1000, renewIntervalMs: 100, retryIntervalMs: 20, safetyMarginMs: 100 };

describe('LeaderElector', () => {
  it('becomes leader, excludes a second candidate, and hands over with a larger token on stop', async () => {
    await using store = await startInProcessStore();
    const client = new StoreClient({ endpoints: store.endpoints });
    const a = new LeaderElector({ client, name: 'lead', holder: 'a', ...fast });
    const b = new LeaderElector({ client, name: 'lead', holder: 'b', ...fast });
    a.start();
    const tokenA = await a.waitForLeadership();
    expect(a.isLeader()).toBe(true);
    expect(a.token).toBe(tokenA);
    b.start();
    await sleep(150); // b tries several times meanwhile
    expect(b.isLeader()).toBe(false);
    expect(store.sm.getLease('lead')?.holder).toBe('a');
    await a.stop(); // releases
    expect(a.isLeader()).toBe(false);
    const tokenB = await b.waitForLeadership();
    expect(tokenB).toBeGreaterThan(tokenA);
    await b.stop();
    expect(store.sm.getLease('lead')).toBeNull();
  });

  it('keeps leadership by renewing past the ttl', async () => {
    await using store = await startInProcessStore();
    const elector = new LeaderElector({ client: new StoreClient({ endpoints: store.endpoints }), name: 'lead', holder: 'a', ...fast });
    elector.start();
    const token = await elector.waitForLeadership();
    await sleep(1500);
    expect(elector.isLeader()).toBe(true);
    expect(elector.token).toBe(token);
    await elector.stop();
  });

  it('isLeader turns false at invocation + ttl - margin even when the store is unreachable', async () => {
    const store = await startInProcessStore();
    let now = 0;
    const elector = new LeaderElector({
      client: new StoreClient({ endpoints: store.endpoints, requestTimeoutMs: 50, maxAttempts: 1 }),
      name: 'lead',
      holder: 'a',
      leaseTtlMs: 10_000,
      renewIntervalMs: 3000,
      safetyMarginMs: 1000,
      clock: () => now,
    });
    elector.start();
    await elector.waitForLeadership();
    await store.close(); // the store is gone: no renew can succeed from here on
    now = 8999;
    expect(elector.isLeader()).toBe(true);
    now = 9000;
    expect(elector.isLeader()).toBe(false);
    expect(elector.token).toBeNull();
    await elector.stop();
  });

  it('steps down when its lease was expired by the store', async () => {
    await using store = await startInProcessStore();
    const elector = new LeaderElector({ client: new StoreClient({ endpoints: store.endpoints }), name: 'lead', holder: 'a', ...fast });
    const changes: boolean[] = [];
    elector.onChange((leader) => changes.push(leader));
    elector.start();
    await elector.waitForLeadership();
    const lease = store.sm.getLease('lead')!;
    store.cluster.applyProposal(encodeCommand({ op: 'lease-expire', name: 'lead', token: lease.token, renewRevision: lease.renewRevision }));
    await waitFor(() => changes.length >= 2);
    expect(changes.slice(0, 2)).toEqual([true, false]);
    // It campaigns again and wins with a new token.
    const again = await elector.waitForLeadership();
    expect(again).toBeGreaterThan(lease.token);
    await elector.stop();
  });

  it('waitForLeadership rejects when aborted', async () => {
    await using store = await startInProcessStore();
    const client = new StoreClient({ endpoints: store.endpoints });
    await client.acquireLease('lead', 'someone-else', 60_000);
    const elector = new LeaderElector({ client, name: 'lead', holder: 'a', ...fast });
    elector.start();
    const abort = new AbortController();
    const waiting = elector.waitForLeadership(abort.signal);
    abort.abort(new Error('gave up'));
    await expect(waiting).rejects.toThrow('gave up');
    await elector.stop();
  });

  it('rejects a renew interval that leaves no guaranteed time', () => {
    const client = new StoreClient({ endpoints: [{ id: 'n1', url: 'http://127.0.0.1:1' }] });
    expect(() => new LeaderElector({ client, name: 'l', holder: 'h', leaseTtlMs: 1000, renewIntervalMs: 950 })).toThrow(/renewIntervalMs/);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}
