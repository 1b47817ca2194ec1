import { describe, it, expect } from 'vitest';
import { startInProcessStore } from '../store/in-process-cluster.test-support.ts';
import { ClusterView, StoreClient, type ViewChange, type WatchMessage } from './index.ts';

describe('ClusterView', () => {
  it('loads the prefix, then follows puts and deletes in revision order', async () => {
    await using store = await startInProcessStore();
    const client = new StoreClient({ endpoints: store.endpoints });
    await client.put('cfg/a', 1);
    await client.put('other', 1);
    await using view = new ClusterView({ client, prefix: 'cfg/' });
    await view.start();
    expect([...view.entries().keys()]).toEqual(['cfg/a']);
    const changes: ViewChange[] = [];
    view.onChange((c) => changes.push(c));
    await client.put('cfg/b', 2);
    await client.put('cfg/a', 3);
    const last = await client.delete('cfg/b');
    await client.put('other', 2);
    await view.waitForRevision(last.revision);
    expect(changes.map((c) => [c.type, c.key])).toEqual([
      ['put', 'cfg/b'],
      ['put', 'cfg/a'],
      ['delete', 'cfg/b'],
    ]);
    expect(view.get('cfg/a')).toMatchObject({ value: 3, version: 2 });
    expect(view.get('cfg/b')).toBeUndefined();
    expect(changes[1]).toMatchObject({ previous: { value: 1 } });
  });

  it('keeps one watch open longer than the request timeout', async () => {
    await using store = await startInProcessStore({ server: { watchProgressIntervalMs: 50 } });
    const client = new StoreClient({ endpoints: store.endpoints, requestTimeoutMs: 100 });
    await using view = new ClusterView({ client, prefix: 'p/', reconnectDelayMs: 10 });
    await view.start();
    await new Promise((r) => setTimeout(r, 400));
    const { revision } = await client.put('p/x', 1);
    await view.waitForRevision(revision);
    expect(view.get('p/x')).toMatchObject({ value: 1 });
    expect(view.connections).toBe(1);
  });

  it('resumes after a disconnect from the last revision + 1: nothing missed, nothing twice', async () => {
    await using store = await startInProcessStore();
    const client = new StoreClient({ endpoints: store.endpoints });
    await using view = new ClusterView({ client, prefix: 'p/', reconnectDelayMs: 50 });
    await view.start();
    const seen: number[] = [];
    view.onChange((c) => seen.push(c.revision));
    await client.put('p/1', 1);
    await waitFor(() => seen.length === 1);
    store.nodes[0]!.server.server.closeAllConnections(); // cut the watch stream
    const revisions: number[] = [];
    for (let i = 2; i <= 6; i++) revisions.push((await client.put(`p/${i}`, i)).revision);
    await view.waitForRevision(revisions.at(-1)!);
    expect(view.connections).toBeGreaterThanOrEqual(2);
    expect(seen.slice(1)).toEqual(revisions);
    expect(view.entries().size).toBe(6);
  });

  it('reloads with a range read when its resume revision was compacted', async () => {
    await using store = await startInProcessStore({ stateMachine: { historyMaxEvents: 3 } });
    const client = new StoreClient({ endpoints: store.endpoints });
    await client.put('p/gone', 0);
    await using view = new ClusterView({ client, prefix: 'p/', reconnectDelayMs: 200 });
    await view.start();
    const changes: ViewChange[] = [];
    view.onChange((c) => changes.push(c));
    store.nodes[0]!.server.server.closeAllConnections();
    await client.delete('p/gone');
    let last = 0;
    for (let i = 0; i < 10; i++) last = (await client.put(`p/${i % 4}`, i)).revision;
    await view.waitForRevision(last);
    const { items } = await client.range('p/');
    expect([...view.entries().values()]).toEqual(items);
    expect(changes.some((c) => c.type === 'delete' && c.key === 'p/gone')).toBe(true);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('ClusterView resume inside a txn', () => {
  it('a stream cut between two events of one revision resumes at that revision without repeating the first', async () => {
    const ev = (key: string, revision: number): WatchMessage => ({ type: 'put', key, value: revision, version: 1, createRevision: revision, modRevision: revision, revision });
    const starts: number[] = [];
    const streams: (readonly WatchMessage[] | 'cut')[][] = [
      [[ev('p/a', 5)], 'cut'],
      [[ev('p/a', 5), ev('p/b', 5), { type: 'progress', revision: 5 }, ev('p/c', 6), { type: 'progress', revision: 6 }]],
    ];
    const aborted = (signal: AbortSignal | undefined): Promise<void> =>
      new Promise((r) => (signal === undefined || signal.aborted ? r() : signal.addEventListener('abort', () => r())));
    const stub = {
      range: () => Promise.resolve({ items: [], revision: 4 }),
      watch: async function* (_prefix: string, options: { fromRevision?: number; signal?: AbortSignal }) {
        starts.push(options.fromRevision ?? -1);
        const script = streams.shift();
        if (script === undefined) {
          await aborted(options.signal);
          return;
        }
        for (const part of script) {
          if (part === 'cut') throw new Error('connection reset');
          yield* part;
        }
        await aborted(options.signal);
      },
    } as unknown as StoreClient;
    await using view = new ClusterView({ client: stub, prefix: 'p/', reconnectDelayMs: 1 });
    const seen: string[] = [];
    view.onChange((c) => seen.push(`${c.key}@${c.revision}`));
    await view.start();
    await view.waitForRevision(6);
    expect(starts).toEqual([5, 5]);
    expect(seen).toEqual(['p/a@5', 'p/b@5', 'p/c@6']);
  });
});
