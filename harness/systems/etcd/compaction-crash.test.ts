/**
 * etcd#19179, deterministically (fixed in v3.5.18): a member that crashes inside a compaction
 * whose revision is a delete, after an earlier batch removed that key's older revisions, comes
 * back with a lone tombstone in its index, and a watch starting at the compaction revision never
 * gets the delete. In the harness the failpoint nemesis finds it about one run in six
 * (harness/BUGS-FOUND.md); here the same steps are taken in order on one local member built with
 * its failpoints (scripts/build-etcd.sh vX.Y.Z --failpoints, cached after the first build), with
 * etcd's own robustness scenario's setting (a small compaction batch limit): four puts, a delete,
 * `compactBeforeSetFinishedCompact` armed with a panic, a compaction at the delete's revision,
 * a restart, a watch refused as compacted and one resumed there. The histories go through the
 * watch checker: v3.5.17 must come out invalid naming the delete, v3.5.18 valid.
 */
import { existsSync } from 'node:fs';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { checkWatch } from '../../../checkers/watch/watch.ts';
import { EtcdClient } from './client.ts';
import { knownBugsOf } from './known-bugs.ts';
import { freePorts, startLocalEtcd } from './testing/local-etcd.ts';
import { okValue, recordedHistory } from './testing/recorded-history.ts';
import { buildEtcdRelease } from './version.ts';

const haveGo = ['/usr/local/go/bin/go', '/usr/lib/go/bin/go', '/usr/bin/go'].some((p) => existsSync(p));
if (!haveGo) console.warn('etcd compaction-crash test SKIPPED: needs Go to build etcd with its failpoints (apt-get install golang-go)');

/** The steps on `version`; the watch checker's result on what the client saw. */
async function crashInCompactionAtDelete(version: string): Promise<{ result: ReturnType<typeof checkWatch>; at: number; resumedAt: number }> {
  const bin = await buildEtcdRelease(version, () => {}, true);
  const [gofailPort] = (await freePorts(1)) as [number];
  // Members inherit the environment: gofail's HTTP endpoint, for arming the failpoint.
  process.env.GOFAIL_HTTP = `127.0.0.1:${gofailPort}`;
  const etcd = await startLocalEtcd(bin, { size: 1, extraArgs: ['--experimental-compaction-batch-limit', '2'] });
  delete process.env.GOFAIL_HTTP;
  const url = etcd.urls[0] as string;
  const clients: EtcdClient[] = [];
  const client = (): EtcdClient => {
    const c = new EtcdClient({ opTimeoutMs: 2000, readConsistency: 'linearizable', mode: 'single-attempt', node: 'n1', url });
    clients.push(c);
    return c;
  };
  const { history, record } = recordedHistory();
  try {
    const c = client();
    let first = 0;
    for (const k of ['a', 'b', 'c', 'd']) {
      const w = okValue(await c.put(`cc/${k}`, k));
      record(0, 'put', { value: k }, w, `cc/${k}`);
      if (first === 0) first = w.modRevision as number;
    }
    const deleted = okValue(await c.delete('cc/a'));
    record(0, 'delete', null, { revision: deleted.revision }, 'cc/a');
    const at = deleted.revision as number;
    const armed = await fetch(`http://127.0.0.1:${gofailPort}/compactBeforeSetFinishedCompact`, { method: 'PUT', body: 'panic()' });
    expect(armed.status).toBe(204);
    const admin = new Etcd3({ hosts: [url], faultHandling: { host: () => noop, global: noop } });
    // The panic cuts the call off.
    await expect(admin.kv.compact({ revision: at, physical: true })).rejects.toThrow();
    admin.close();
    await etcd.restart(0);
    const w = client();
    const refused = okValue(await w.watch('cc/', first, 300));
    record(1, 'watch', { watcher: 'w', prefix: 'cc/', fromRevision: first }, refused);
    expect(refused.compacted).toBe(at);
    const resumedAt = history.length;
    const resumed = okValue(await w.watch('cc/', at, 300));
    record(1, 'watch', { watcher: 'w', prefix: 'cc/', fromRevision: at }, resumed);
    return { result: checkWatch({ history }), at, resumedAt };
  } finally {
    for (const c of clients) await c.close();
    await etcd.stop();
  }
}

describe.skipIf(!haveGo)('etcd#19179: a crash inside a compaction at a delete', () => {
  it('v3.5.17 (which has it): the watch resumed at the compaction revision misses the delete, and the watch checker names it', async () => {
    expect(knownBugsOf('3.5.17').map((b) => b.issue)).toContain('etcd-io/etcd#19179');
    const { result, at, resumedAt } = await crashInCompactionAtDelete('v3.5.17');
    expect(result.valid).toBe(false);
    expect(result.violations).toEqual([expect.objectContaining({ kind: 'gap', change: expect.objectContaining({ type: 'delete', key: 'cc/a', revision: at }) as unknown, startOf: { session: resumedAt, compactRevision: true } })]);
    expect(result.summary).toContain('1 change missed at the compaction revision a watcher resumed from');
  }, 240_000);

  it('v3.5.18 (the fix): the same steps deliver the delete, and the checker says valid', async () => {
    expect(knownBugsOf('3.5.18')).toEqual([]);
    const { result } = await crashInCompactionAtDelete('v3.5.18');
    expect(result.valid).toBe(true);
  }, 240_000);
});
