/**
 * Maintenance.HashKV over raw gRPC: the hand-written codec (int64 fields are two's complement,
 * so "never compacted" is -1), and real etcd members (Debian's, and the newest release
 * scripts/build-etcd.sh built, when present): equal hashes at one revision on every member,
 * compaction reported, a compacted revision refused.
 */
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { EtcdClient } from './client.ts';
import { decodeHashKVResponse, encodeHashKVRequest, hashKV } from './hashkv.ts';
import { startLocalEtcd } from './testing/local-etcd.ts';
import { DEBIAN_ETCD } from './version.ts';

const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'jepsen-ts', 'etcd');
const built = (existsSync(cache) ? readdirSync(cache) : []).map((v) => join(cache, v, 'etcd')).filter((b) => existsSync(b)).slice(-1);
const bins = [...(existsSync(DEBIAN_ETCD) ? [DEBIAN_ETCD] : []), ...built];
if (bins.length === 0) console.warn(`HashKV tests on real etcd SKIPPED: no etcd binary (${DEBIAN_ETCD}, or scripts/build-etcd.sh)`);

/** protobuf varint of a uint64 (the test's own, independent of hashkv.ts's). */
function varint(v: bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  do {
    out.push(Number(x & 0x7fn) | (x > 0x7fn ? 0x80 : 0));
    x >>= 7n;
  } while (x > 0n);
  return out;
}

describe('HashKV codec', () => {
  it('encodes the revision as field 1 (revision 0, the member\'s current one, as the empty message)', () => {
    expect([...encodeHashKVRequest(0)]).toEqual([]);
    expect([...encodeHashKVRequest(300)]).toEqual([0x08, 0xac, 0x02]);
  });

  it('decodes hash, compact revision -1 (ten-byte varint), the header revision, hash_revision, and skips unknown fields', () => {
    const header = [0x08, ...varint(7n), 0x18, ...varint(12n), 0x20, ...varint(2n)];
    const body = Buffer.from([
      0x0a, header.length, ...header,
      0x10, ...varint(2767446582n),
      0x18, ...varint(-1n),
      0x20, ...varint(12n),
      // field 9, fixed32 and fixed64, from a future release
      0x4d, 1, 2, 3, 4, 0x49, 1, 2, 3, 4, 5, 6, 7, 8,
    ]);
    expect(varint(-1n)).toHaveLength(10);
    expect(decodeHashKVResponse(body)).toEqual({ hash: 2767446582, compactRevision: -1, headerRevision: 12, hashRevision: 12 });
  });
});

describe.skipIf(bins.length === 0)('HashKV on real etcd', () => {
  it.each(bins)('%s: equal on every member at one revision, different at another; compaction reported; a compacted revision refused', async (bin) => {
    const e = await startLocalEtcd(bin, { size: 3 });
    const admin = new Etcd3({ hosts: [e.urls[0] as string], faultHandling: { host: () => noop, global: noop } });
    try {
      const c = new EtcdClient({ opTimeoutMs: 3000, readConsistency: 'linearizable', mode: 'single-attempt', node: 'e1', url: e.urls[0] as string });
      await c.put('a', 1);
      const w = await c.put('b', 2);
      const rev = w.type === 'ok' ? (w.value.modRevision as number) : NaN;
      await c.put('a', 3);
      await c.close();
      // Members apply asynchronously: wait until each has applied past `rev`.
      await new Promise((r) => setTimeout(r, 500));
      const hashes = await Promise.all(e.urls.map((u) => hashKV(u, rev, 5000)));
      expect(new Set(hashes.map((h) => h.hash)).size).toBe(1);
      expect(hashes.map((h) => h.compactRevision)).toEqual([-1, -1, -1]);
      expect(hashes[0]?.headerRevision).toBe(rev + 1);
      expect((await hashKV(e.urls[0] as string, rev + 1, 5000)).hash).not.toBe(hashes[0]?.hash);

      await admin.kv.compact({ revision: rev, physical: true });
      await new Promise((r) => setTimeout(r, 300));
      const after = await Promise.all(e.urls.map((u) => hashKV(u, rev + 1, 5000)));
      expect(after.map((h) => h.compactRevision)).toEqual([rev, rev, rev]);
      expect(new Set(after.map((h) => h.hash)).size).toBe(1);
      await expect(hashKV(e.urls[1] as string, rev - 1, 5000)).rejects.toThrow(/required revision has been compacted/);
    } finally {
      admin.close();
      await e.stop();
    }
  });
});
