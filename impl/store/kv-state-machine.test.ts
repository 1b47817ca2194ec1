import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { index, term, type Entry } from '../raft/types.ts';
import { encodeCommand, type Command, type JsonValue, type TxnOp } from './commands.ts';
import { KvStateMachine, type KvStateMachineOptions, type LeaseChange } from './kv-state-machine.ts';
import type { ApplyResult, KeyEvent } from './results.ts';

class Feeder {
  private nextIndex = 1;
  private nextSeq = 1;
  constructor(readonly sm: KvStateMachine = new KvStateMachine(), readonly clientId = 'c1') {}
  entry(data: Uint8Array): Entry {
    return { term: term(1), index: index(this.nextIndex++), type: 'normal', data };
  }
  raw(command: Command): ApplyResult {
    return this.sm.apply(this.entry(encodeCommand(command)));
  }
  /** Applies a client command with a fresh seq. */
  cmd(command: DistributiveOmit<Exclude<Command, { op: 'lease-expire' }>, 'clientId' | 'seq'>): ApplyResult {
    return this.raw({ ...command, clientId: this.clientId, seq: this.nextSeq++ } as Command);
  }
  noop(): void {
    this.sm.applyIndexOnly({ term: term(1), index: index(this.nextIndex++), type: 'noop', data: new Uint8Array() });
  }
}
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function ok(result: ApplyResult): Record<string, unknown> {
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result.value as unknown as Record<string, unknown>;
}

describe('KvStateMachine keys', () => {
  it('versions start at 1 on create and increase by 1 on each update', () => {
    const f = new Feeder();
    expect(ok(f.cmd({ op: 'create', key: 'a', value: 1 }))).toMatchObject({ key: 'a', version: 1, createRevision: 1, modRevision: 1, revision: 1 });
    expect(ok(f.cmd({ op: 'put', key: 'a', value: 2 }))).toMatchObject({ version: 2, createRevision: 1, modRevision: 2, revision: 2 });
    expect(ok(f.cmd({ op: 'put', key: 'a', value: 3 }))).toMatchObject({ version: 3, modRevision: 3 });
    expect(f.sm.get('a')).toEqual({ key: 'a', value: 3, version: 3, createRevision: 1, modRevision: 3 });
  });

  it('one global revision counts every applied write across keys', () => {
    const f = new Feeder();
    f.cmd({ op: 'put', key: 'a', value: 1 });
    f.cmd({ op: 'put', key: 'b', value: 1 });
    f.noop();
    expect(ok(f.cmd({ op: 'delete', key: 'a' }))).toEqual({ key: 'a', deleted: true, revision: 3 });
    expect(f.sm.revision).toBe(3);
    expect(ok(f.cmd({ op: 'create', key: 'a', value: 'again' }))).toMatchObject({ version: 1, createRevision: 4 });
  });

  it('failed writes change nothing and do not move the revision', () => {
    const f = new Feeder();
    f.cmd({ op: 'create', key: 'a', value: 1 });
    const before = f.sm.revision;
    expect(f.cmd({ op: 'create', key: 'a', value: 2 })).toMatchObject({ ok: false, code: 'key-exists', currentVersion: 1 });
    expect(f.cmd({ op: 'put', key: 'a', value: 2, expectedVersion: 5 })).toMatchObject({ ok: false, code: 'version-conflict', currentVersion: 1 });
    expect(f.cmd({ op: 'delete', key: 'zz' })).toMatchObject({ ok: false, code: 'not-found' });
    expect(f.sm.revision).toBe(before);
    expect(f.sm.get('a')?.value).toBe(1);
  });

  it('expectedVersion 0 means the key must not exist', () => {
    const f = new Feeder();
    expect(ok(f.cmd({ op: 'put', key: 'a', value: 1, expectedVersion: 0 }))).toMatchObject({ version: 1 });
    expect(f.cmd({ op: 'put', key: 'a', value: 2, expectedVersion: 0 })).toMatchObject({ ok: false, code: 'version-conflict', currentVersion: 1 });
    expect(f.cmd({ op: 'delete', key: 'a', expectedVersion: 2 })).toMatchObject({ ok: false, code: 'version-conflict', currentVersion: 1 });
    expect(ok(f.cmd({ op: 'delete', key: 'a', expectedVersion: 1 }))).toMatchObject({ deleted: true });
    expect(f.cmd({ op: 'put', key: 'b', value: 1, expectedVersion: 3 })).toMatchObject({ ok: false, code: 'version-conflict', currentVersion: 0 });
  });

  it('range returns keys with the prefix sorted by key', () => {
    const f = new Feeder();
    for (const k of ['p/b', 'q/a', 'p/a', 'p/c']) f.cmd({ op: 'put', key: k, value: k });
    expect(f.sm.range('p/').map((kv) => kv.key)).toEqual(['p/a', 'p/b', 'p/c']);
    expect(f.sm.range('').length).toBe(4);
  });
});

describe('KvStateMachine txn', () => {
  it('applies all ops under one revision', () => {
    const f = new Feeder();
    f.cmd({ op: 'put', key: 'x', value: 0 });
    const value = ok(
      f.cmd({
        op: 'txn',
        ops: [
          { op: 'create', key: 'a', value: 1 },
          { op: 'put', key: 'x', value: 1, expectedVersion: 1 },
        ],
      }),
    );
    expect(value).toEqual({
      results: [
        { key: 'a', version: 1, createRevision: 2, modRevision: 2 },
        { key: 'x', version: 2, createRevision: 1, modRevision: 2 },
      ],
      revision: 2,
    });
  });

  it('is all or nothing: one failed precondition applies no op', () => {
    const f = new Feeder();
    f.cmd({ op: 'put', key: 'x', value: 0 });
    const result = f.cmd({
      op: 'txn',
      ops: [
        { op: 'put', key: 'a', value: 1 },
        { op: 'delete', key: 'b' },
        { op: 'put', key: 'x', value: 1, expectedVersion: 7 },
      ],
    });
    expect(result).toMatchObject({ ok: false, code: 'not-found', opIndex: 1 });
    expect(f.sm.get('a')).toBeNull();
    expect(f.sm.get('x')?.version).toBe(1);
    expect(f.sm.revision).toBe(1);
  });

  it('reports a version conflict with the op index and current version', () => {
    const f = new Feeder();
    f.cmd({ op: 'put', key: 'x', value: 0 });
    expect(f.cmd({ op: 'txn', ops: [{ op: 'put', key: 'x', value: 1, expectedVersion: 2 }] })).toMatchObject({
      ok: false,
      code: 'version-conflict',
      currentVersion: 1,
      opIndex: 0,
    });
  });
});

describe('KvStateMachine txn reads and compares', () => {
  it('get returns each key as of the txn, or found: false for an absent key', () => {
    const f = new Feeder();
    f.cmd({ op: 'put', key: 'a', value: [1, 2] });
    f.cmd({ op: 'put', key: 'a', value: [1, 2, 3] });
    expect(ok(f.cmd({ op: 'txn', ops: [{ op: 'get', key: 'a' }, { op: 'get', key: 'b' }] }))).toEqual({
      results: [
        { key: 'a', found: true, value: [1, 2, 3], version: 2, createRevision: 1, modRevision: 2 },
        { key: 'b', found: false, version: 0 },
      ],
      revision: 2,
    });
  });

  it('a txn that only reads and compares changes nothing: no revision, no watch event, no history', () => {
    const f = new Feeder();
    f.cmd({ op: 'put', key: 'a', value: 1 });
    const events: KeyEvent[][] = [];
    f.sm.onEvents((e) => events.push([...e]));
    const before = f.sm.snapshot();
    const result = ok(f.cmd({ op: 'txn', ops: [{ op: 'get', key: 'a' }, { op: 'compare', key: 'b', expectedVersion: 0 }] }));
    expect(result).toEqual({ results: [{ key: 'a', found: true, value: 1, version: 1, createRevision: 1, modRevision: 1 }, { key: 'b', version: 0 }], revision: 1 });
    expect(f.sm.revision).toBe(1);
    expect(events).toEqual([]);
    expect(f.sm.eventsSince(1, '')!.map((e) => e.revision)).toEqual([1]);
    // Only the exactly-once table (the recorded answer) and the applied index moved.
    const strip = (snap: Uint8Array): unknown => {
      const { sessions: _s, appliedIndex: _i, ...rest } = JSON.parse(new TextDecoder().decode(snap)) as Record<string, unknown>;
      return rest;
    };
    expect(strip(f.sm.snapshot())).toEqual(strip(before));
  });

  it('compare holds at the expected version (0 = absent) and otherwise fails the whole txn as a version conflict', () => {
    const f = new Feeder();
    f.cmd({ op: 'put', key: 'a', value: 1 });
    f.cmd({ op: 'put', key: 'b', value: [7] });
    const conflict = f.cmd({
      op: 'txn',
      ops: [
        { op: 'put', key: 'b', value: [7, 8], expectedVersion: 1 },
        { op: 'compare', key: 'a', expectedVersion: 2 },
      ],
    });
    expect(conflict).toMatchObject({ ok: false, code: 'version-conflict', currentVersion: 1, opIndex: 1 });
    expect(f.sm.get('b')?.value).toEqual([7]);
    expect(f.sm.revision).toBe(2);
    expect(f.cmd({ op: 'txn', ops: [{ op: 'compare', key: 'zz', expectedVersion: 1 }] })).toMatchObject({ ok: false, code: 'version-conflict', currentVersion: 0 });
    // The read-modify-write the append workload does: compare the key it only read, write the one it appended to.
    expect(
      ok(
        f.cmd({
          op: 'txn',
          ops: [
            { op: 'compare', key: 'a', expectedVersion: 1 },
            { op: 'put', key: 'b', value: [7, 8], expectedVersion: 1 },
            { op: 'put', key: 'c', value: [9], expectedVersion: 0 },
          ],
        }),
      ),
    ).toEqual({
      results: [
        { key: 'a', version: 1 },
        { key: 'b', version: 2, createRevision: 2, modRevision: 3 },
        { key: 'c', version: 1, createRevision: 3, modRevision: 3 },
      ],
      revision: 3,
    });
  });

  it('a txn mixing reads and writes emits events for its writes only, under one new revision', () => {
    const f = new Feeder();
    f.cmd({ op: 'put', key: 'a', value: 1 });
    const events: KeyEvent[] = [];
    f.sm.onEvents((e) => events.push(...e));
    const value = ok(f.cmd({ op: 'txn', ops: [{ op: 'get', key: 'a' }, { op: 'put', key: 'b', value: 2 }] }));
    expect(value).toMatchObject({ results: [{ key: 'a', found: true, value: 1 }, { key: 'b', version: 1 }], revision: 2 });
    expect(events.map((e) => [e.revision, e.type, e.key])).toEqual([[2, 'put', 'b']]);
  });

  it('a retried read-only txn returns the answer recorded at its first application, not the current state', () => {
    const f = new Feeder();
    f.raw({ op: 'put', key: 'a', value: 1, clientId: 'w', seq: 1 });
    const read: Command = { op: 'txn', ops: [{ op: 'get', key: 'a' }], clientId: 'r', seq: 1 };
    const first = f.raw(read);
    f.raw({ op: 'put', key: 'a', value: 2, clientId: 'w', seq: 2 });
    expect(f.raw(read)).toEqual(first);
    expect(ok(first)).toMatchObject({ results: [{ value: 1, version: 1 }] });
  });

  it('a retried read-modify-write applies once: the retry gets the recorded ok, not a version conflict', () => {
    const f = new Feeder();
    const append: Command = { op: 'txn', ops: [{ op: 'put', key: 'l', value: [1], expectedVersion: 0 }], clientId: 'c', seq: 4 };
    const first = f.raw(append);
    expect(first.ok).toBe(true);
    expect(f.raw(append)).toEqual(first);
    expect(f.sm.get('l')).toMatchObject({ value: [1], version: 1 });
  });

  it('predict (ack-before-commit) of a read-only txn answers the values without recording or changing anything', () => {
    const f = new Feeder();
    f.cmd({ op: 'put', key: 'a', value: 1 });
    const before = f.sm.snapshot();
    expect(f.sm.predict({ op: 'txn', ops: [{ op: 'get', key: 'a' }], clientId: 'p', seq: 1 })).toMatchObject({ ok: true, value: { results: [{ value: 1 }], revision: 1 } });
    expect(f.sm.snapshot()).toEqual(before);
  });
});

describe('KvStateMachine exactly-once', () => {
  it('a retry with the same (clientId, seq) returns the recorded result without applying twice', () => {
    const f = new Feeder();
    const put: Command = { op: 'put', key: 'a', value: 1, clientId: 'c9', seq: 1 };
    const first = f.raw(put);
    const second = f.raw(put);
    expect(second).toEqual(first);
    expect(f.sm.get('a')?.version).toBe(1);
    expect(f.sm.revision).toBe(1);
  });

  it('a retry returns the recorded failure even after the state changed', () => {
    const f = new Feeder();
    f.raw({ op: 'put', key: 'a', value: 1, clientId: 'other', seq: 1 });
    const conflict = f.raw({ op: 'put', key: 'a', value: 2, expectedVersion: 0, clientId: 'c', seq: 1 });
    expect(conflict).toMatchObject({ ok: false, code: 'version-conflict' });
    f.raw({ op: 'delete', key: 'a', clientId: 'other', seq: 2 });
    expect(f.raw({ op: 'put', key: 'a', value: 2, expectedVersion: 0, clientId: 'c', seq: 1 })).toEqual(conflict);
    expect(f.sm.get('a')).toBeNull();
  });

  it('accepts out-of-order seqs inside the window and rejects older ones as stale', () => {
    const f = new Feeder(new KvStateMachine({ sessionWindow: 4 }));
    ok(f.raw({ op: 'put', key: 'a', value: 10, clientId: 'c', seq: 10 }));
    // seq 8 was sent concurrently and arrives late: inside the window, never applied.
    expect(ok(f.raw({ op: 'put', key: 'b', value: 8, clientId: 'c', seq: 8 }))).toMatchObject({ key: 'b' });
    expect(f.raw({ op: 'put', key: 'c', value: 6, clientId: 'c', seq: 6 })).toMatchObject({ ok: false, code: 'stale-request' });
    expect(f.sm.get('c')).toBeNull();
    // A recorded result stays retrievable while inside the window.
    expect(f.raw({ op: 'put', key: 'b', value: 8, clientId: 'c', seq: 8 })).toMatchObject({ ok: true });
    expect(f.sm.get('b')?.version).toBe(1);
  });

  it('evicts the least recently used session beyond sessionMaxClients', () => {
    const f = new Feeder(new KvStateMachine({ sessionMaxClients: 2 }));
    f.raw({ op: 'put', key: 'k', value: 1, clientId: 'a', seq: 1 });
    f.raw({ op: 'put', key: 'k', value: 2, clientId: 'b', seq: 1 });
    f.raw({ op: 'put', key: 'k', value: 3, clientId: 'a', seq: 2 });
    f.raw({ op: 'put', key: 'k', value: 4, clientId: 'c', seq: 1 }); // evicts b (least recent)
    // a's session was kept: its retry returns the recorded result.
    expect(ok(f.raw({ op: 'put', key: 'k', value: 3, clientId: 'a', seq: 2 }))).toMatchObject({ version: 3 });
    // b's retry is now treated as new (documented: do not retry past eviction).
    expect(ok(f.raw({ op: 'put', key: 'k', value: 2, clientId: 'b', seq: 1 }))).toMatchObject({ version: 5 });
  });

  it('evicts sessions idle for more than sessionMaxIdleEntries entries', () => {
    const f = new Feeder(new KvStateMachine({ sessionMaxIdleEntries: 3 }));
    f.raw({ op: 'put', key: 'k', value: 1, clientId: 'a', seq: 1 });
    for (let i = 0; i < 5; i++) f.raw({ op: 'put', key: 'k', value: i, clientId: 'b', seq: i + 1 });
    expect(ok(f.raw({ op: 'put', key: 'k', value: 1, clientId: 'a', seq: 1 }))).toMatchObject({ version: 7 });
  });

  it('a malformed entry yields a bad-request result instead of throwing', () => {
    const f = new Feeder();
    expect(f.sm.apply(f.entry(new TextEncoder().encode('{"v":1,"op":"put","key":5}')))).toMatchObject({ ok: false, code: 'bad-request' });
    expect(f.sm.apply(f.entry(new Uint8Array([0xff, 0xfe])))).toMatchObject({ ok: false, code: 'bad-request' });
    expect(f.sm.apply(f.entry(new TextEncoder().encode('{"v":2,"op":"put"}')))).toMatchObject({ ok: false, code: 'bad-request' });
    expect(f.sm.appliedIndex).toBe(3);
  });
});

describe('KvStateMachine leases', () => {
  it('grants a free lease with a fencing token and refuses another holder', () => {
    const f = new Feeder();
    const grant = ok(f.cmd({ op: 'lease-acquire', name: 'L', holder: 'h1', ttlMs: 1000 }));
    expect(grant).toMatchObject({ name: 'L', holder: 'h1', ttlMs: 1000 });
    expect(f.cmd({ op: 'lease-acquire', name: 'L', holder: 'h2', ttlMs: 1000 })).toMatchObject({ ok: false, code: 'lease-held', holder: 'h1' });
    // The same holder may acquire again and keeps its token.
    expect(ok(f.cmd({ op: 'lease-acquire', name: 'L', holder: 'h1', ttlMs: 2000 }))).toMatchObject({ token: grant['token'], ttlMs: 2000 });
  });

  it('renew and release check holder and token', () => {
    const f = new Feeder();
    const token = ok(f.cmd({ op: 'lease-acquire', name: 'L', holder: 'h1', ttlMs: 1000 }))['token'] as number;
    expect(f.cmd({ op: 'lease-renew', name: 'L', holder: 'h2', token })).toMatchObject({ ok: false, code: 'lease-lost' });
    expect(f.cmd({ op: 'lease-renew', name: 'L', holder: 'h1', token: token + 1 })).toMatchObject({ ok: false, code: 'lease-lost' });
    expect(ok(f.cmd({ op: 'lease-renew', name: 'L', holder: 'h1', token }))).toMatchObject({ token, holder: 'h1' });
    expect(f.cmd({ op: 'lease-release', name: 'L', holder: 'h2', token })).toMatchObject({ ok: false, code: 'lease-lost' });
    expect(ok(f.cmd({ op: 'lease-release', name: 'L', holder: 'h1', token }))).toMatchObject({ released: true });
    expect(f.sm.getLease('L')).toBeNull();
    expect(f.cmd({ op: 'lease-renew', name: 'L', holder: 'h1', token })).toMatchObject({ ok: false, code: 'lease-lost' });
  });

  it('tokens strictly increase per name across release and expiry, never reused', () => {
    const f = new Feeder();
    const tokens: number[] = [];
    for (let i = 0; i < 6; i++) {
      const g = ok(f.cmd({ op: 'lease-acquire', name: 'L', holder: `h${i}`, ttlMs: 500 }));
      tokens.push(g['token'] as number);
      const lease = f.sm.getLease('L')!;
      if (i % 2 === 0) ok(f.cmd({ op: 'lease-release', name: 'L', holder: `h${i}`, token: lease.token }));
      else ok(f.raw({ op: 'lease-expire', name: 'L', token: lease.token, renewRevision: lease.renewRevision }));
    }
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]!).toBeGreaterThan(tokens[i - 1]!);
  });

  it('an expiry that raced with a renew is a no-op', () => {
    const f = new Feeder();
    ok(f.cmd({ op: 'lease-acquire', name: 'L', holder: 'h', ttlMs: 500 }));
    const before = f.sm.getLease('L')!;
    ok(f.cmd({ op: 'lease-renew', name: 'L', holder: 'h', token: before.token }));
    expect(f.raw({ op: 'lease-expire', name: 'L', token: before.token, renewRevision: before.renewRevision })).toMatchObject({ ok: false, code: 'lease-lost' });
    expect(f.sm.getLease('L')?.holder).toBe('h');
    const after = f.sm.getLease('L')!;
    expect(ok(f.raw({ op: 'lease-expire', name: 'L', token: after.token, renewRevision: after.renewRevision }))).toMatchObject({ expired: true });
    expect(f.sm.getLease('L')).toBeNull();
  });

  it('tells lease listeners about grants, renews, releases and expiries', () => {
    const f = new Feeder();
    const seen: string[] = [];
    f.sm.onLeaseChange((c: LeaseChange) => seen.push(`${c.type}:${c.lease.name}`));
    const token = ok(f.cmd({ op: 'lease-acquire', name: 'A', holder: 'h', ttlMs: 500 }))['token'] as number;
    ok(f.cmd({ op: 'lease-renew', name: 'A', holder: 'h', token }));
    ok(f.cmd({ op: 'lease-release', name: 'A', holder: 'h', token }));
    ok(f.cmd({ op: 'lease-acquire', name: 'B', holder: 'h', ttlMs: 500 }));
    const b = f.sm.getLease('B')!;
    ok(f.raw({ op: 'lease-expire', name: 'B', token: b.token, renewRevision: b.renewRevision }));
    expect(seen).toEqual(['granted:A', 'renewed:A', 'released:A', 'granted:B', 'expired:B']);
  });
});

describe('KvStateMachine watch history', () => {
  it('records every key change in revision order and answers eventsSince by prefix', () => {
    const f = new Feeder();
    const live: KeyEvent[] = [];
    f.sm.onEvents((events) => live.push(...events));
    f.cmd({ op: 'put', key: 'p/a', value: 1 });
    f.cmd({ op: 'put', key: 'q/a', value: 1 });
    f.cmd({ op: 'txn', ops: [{ op: 'put', key: 'p/b', value: 2 }, { op: 'delete', key: 'p/a' }] });
    expect(live.map((e) => [e.revision, e.type, e.key])).toEqual([
      [1, 'put', 'p/a'],
      [2, 'put', 'q/a'],
      [3, 'put', 'p/b'],
      [3, 'delete', 'p/a'],
    ]);
    expect(f.sm.eventsSince(2, 'p/')!.map((e) => e.key)).toEqual(['p/b', 'p/a']);
    expect(f.sm.eventsSince(1, '')).toEqual(live);
  });

  it('bounds the ring and tracks the compaction revision', () => {
    const f = new Feeder(new KvStateMachine({ historyMaxEvents: 3 }));
    for (let i = 0; i < 5; i++) f.cmd({ op: 'put', key: 'k', value: i });
    expect(f.sm.compactRevision).toBe(2);
    expect(f.sm.eventsSince(2, '')).toBeNull();
    expect(f.sm.eventsSince(3, '')!.map((e) => e.revision)).toEqual([3, 4, 5]);
  });

  it('keeps exactly the newest events across many physical compactions of the ring', () => {
    const f = new Feeder(new KvStateMachine({ historyMaxEvents: 10 }));
    for (let i = 0; i < 3000; i++) f.cmd({ op: 'put', key: `k${i % 7}`, value: i });
    expect(f.sm.compactRevision).toBe(2990);
    expect(f.sm.eventsSince(2991, '')!.map((e) => e.revision)).toEqual(Array.from({ length: 10 }, (_, i) => 2991 + i));
    const copy = new KvStateMachine({ historyMaxEvents: 10 });
    copy.restore(f.sm.snapshot());
    expect(copy.eventsSince(2991, '')).toEqual(f.sm.eventsSince(2991, ''));
  });

  it('bounds the ring by bytes too', () => {
    const f = new Feeder(new KvStateMachine({ historyMaxBytes: 300 }));
    for (let i = 0; i < 10; i++) f.cmd({ op: 'put', key: 'k', value: 'x'.repeat(100) });
    expect(f.sm.compactRevision).toBeGreaterThan(7);
    expect(f.sm.eventsSince(10, '')!.length).toBe(1);
  });
});

describe('KvStateMachine snapshot/restore', () => {
  it('a restored machine equals the original and continues identically', () => {
    const f = new Feeder(new KvStateMachine({ historyMaxEvents: 5 }));
    f.cmd({ op: 'put', key: 'a', value: { nested: [1, 2] } });
    f.cmd({ op: 'create', key: 'b', value: null });
    f.cmd({ op: 'lease-acquire', name: 'L', holder: 'h', ttlMs: 900 });
    for (let i = 0; i < 6; i++) f.cmd({ op: 'put', key: 'c', value: i });
    f.cmd({ op: 'delete', key: 'b' });
    const snap = f.sm.snapshot();
    const copy = new KvStateMachine({ historyMaxEvents: 5 });
    let restored = 0;
    copy.onRestore(() => restored++);
    copy.restore(snap);
    expect(restored).toBe(1);
    expect(copy.snapshot()).toEqual(snap);
    expect(copy.get('a')).toEqual(f.sm.get('a'));
    expect(copy.getLease('L')).toEqual(f.sm.getLease('L'));
    expect(copy.compactRevision).toBe(f.sm.compactRevision);
    expect(copy.appliedIndex).toBe(f.sm.appliedIndex);
    // Same next entry on both gives the same result and the same state.
    const next = f.entry(encodeCommand({ op: 'put', key: 'a', value: 9, clientId: 'c1', seq: 3 }));
    expect(copy.apply(next)).toEqual(f.sm.apply(next));
    expect(copy.snapshot()).toEqual(f.sm.snapshot());
  });

  it('rejects a snapshot of another format', () => {
    expect(() => new KvStateMachine().restore(new TextEncoder().encode('{"format":"x","version":1}'))).toThrow(/not a kv-state-machine v1 snapshot/);
  });
});

describe('KvStateMachine determinism', () => {
  const keyArb = fc.constantFrom('a', 'b', 'p/a', 'p/b');
  const valueArb: fc.Arbitrary<JsonValue> = fc.oneof(fc.integer(), fc.string({ maxLength: 5 }), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }));
  const versionArb = fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined });
  const clientArb = fc.record({ clientId: fc.constantFrom('c1', 'c2', 'c3'), seq: fc.integer({ min: 1, max: 40 }) });
  const writeOpArb = fc.oneof(
    fc.record({ op: fc.constant('create' as const), key: keyArb, value: valueArb }),
    fc.record({ op: fc.constant('put' as const), key: keyArb, value: valueArb, expectedVersion: versionArb }),
    fc.record({ op: fc.constant('delete' as const), key: keyArb, expectedVersion: versionArb }),
  );
  const txnOpArb = fc.oneof(
    writeOpArb,
    fc.record({ op: fc.constant('get' as const), key: keyArb }),
    fc.record({ op: fc.constant('compare' as const), key: keyArb, expectedVersion: fc.integer({ min: 0, max: 4 }) }),
  );
  const strip = <T extends object>(o: T): T => JSON.parse(JSON.stringify(o)) as T;
  const commandArb: fc.Arbitrary<Command> = fc.oneof(
    fc.tuple(writeOpArb, clientArb).map(([op, id]) => strip({ ...op, ...id }) as Command),
    fc.tuple(fc.uniqueArray(txnOpArb, { selector: (o) => o.key, minLength: 1, maxLength: 3 }), clientArb).map(([ops, id]) => strip({ op: 'txn' as const, ops, ...id }) as Command),
    fc
      .tuple(fc.constantFrom('L1', 'L2'), fc.constantFrom('h1', 'h2'), clientArb, fc.constantFrom('lease-acquire', 'lease-renew', 'lease-release'), fc.integer({ min: 1, max: 30 }))
      .map(([name, holder, id, op, token]): Command => (op === 'lease-acquire' ? { op, name, holder, ttlMs: 500, ...id } : { op, name, holder, token, ...id })),
    fc.tuple(fc.constantFrom('L1', 'L2'), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 30 })).map(([name, token, renewRevision]): Command => ({ op: 'lease-expire', name, token, renewRevision })),
  );

  it('two machines fed the same commands return the same results and end in identical snapshots', () => {
    const options: KvStateMachineOptions = { historyMaxEvents: 8, sessionWindow: 4, sessionMaxClients: 2, sessionMaxIdleEntries: 20 };
    fc.assert(
      fc.property(fc.array(commandArb, { maxLength: 80 }), fc.nat(80), (commands, cut) => {
        const a = new Feeder(new KvStateMachine(options));
        const b = new Feeder(new KvStateMachine(options));
        let c: KvStateMachine | null = null;
        commands.forEach((command, i) => {
          const entry = a.entry(encodeCommand(command));
          b.entry(new Uint8Array());
          const ra = a.sm.apply(entry);
          const rb = b.sm.apply(entry);
          expect(rb).toEqual(ra);
          // A third machine joins from a snapshot midway and must converge too.
          if (i === cut) {
            c = new KvStateMachine(options);
            c.restore(a.sm.snapshot());
          } else if (c !== null) {
            expect(c.apply(entry)).toEqual(ra);
          }
        });
        const snap = a.sm.snapshot();
        expect(b.sm.snapshot()).toEqual(snap);
        if (c !== null) expect((c as KvStateMachine).snapshot()).toEqual(snap);
        // Invariant: tokens of current leases never exceed the revision.
        for (const lease of a.sm.leases()) expect(lease.token).toBeLessThanOrEqual(a.sm.revision);
      }),
      { numRuns: 300 },
    );
  });

  it('txns agree with a plain map model: reads see the state before the txn, compares and preconditions gate it, only writes move the revision', () => {
    type Model = Map<string, { value: JsonValue; version: number }>;
    fc.assert(
      fc.property(fc.array(fc.uniqueArray(txnOpArb, { selector: (o) => o.key, minLength: 1, maxLength: 4 }), { maxLength: 60 }), (txns) => {
        const f = new Feeder();
        const model: Model = new Map();
        let revision = 0;
        for (const raw of txns) {
          const ops = strip(raw) as TxnOp[];
          const result = f.cmd({ op: 'txn', ops });
          const failedAt = ops.findIndex((op) => {
            const v = model.get(op.key)?.version ?? 0;
            if (op.op === 'create') return v !== 0;
            if (op.op === 'compare') return op.expectedVersion !== v;
            if (op.op === 'put' || op.op === 'delete') return (op.expectedVersion !== undefined && op.expectedVersion !== v) || (op.op === 'delete' && v === 0);
            return false;
          });
          if (failedAt >= 0) {
            expect(result).toMatchObject({ ok: false, opIndex: failedAt });
            continue;
          }
          const writes = ops.some((op) => op.op !== 'get' && op.op !== 'compare');
          if (writes) revision++;
          const value = ok(result) as { results: Record<string, unknown>[]; revision: number };
          expect(value.revision).toBe(revision);
          ops.forEach((op, i) => {
            const current = model.get(op.key);
            if (op.op === 'get') expect(value.results[i]).toMatchObject(current === undefined ? { found: false, version: 0 } : { found: true, value: current.value, version: current.version });
            if (op.op === 'compare') expect(value.results[i]).toEqual({ key: op.key, version: op.expectedVersion });
          });
          for (const op of ops) {
            if (op.op === 'delete') model.delete(op.key);
            else if (op.op === 'put' || op.op === 'create') model.set(op.key, { value: op.value, version: (model.get(op.key)?.version ?? 0) + 1 });
          }
        }
        expect(f.sm.revision).toBe(revision);
        for (const [key, { value, version }] of model) expect(f.sm.get(key)).toMatchObject({ value, version });
        expect(f.sm.range('').length).toBe(model.size);
      }),
      { numRuns: 300 },
    );
  });
});
