import { describe, it, expect } from 'vitest';
import { SkewableClock } from './clock.ts';
import { encodeCommand, type Command } from './commands.ts';
import { InProcessCluster } from './in-process-cluster.test-support.ts';
import { KvStateMachine } from './kv-state-machine.ts';
import { Lessor } from './lessor.ts';

function setup(options: { unsafe?: 'lease-no-wait'[]; leader?: string | null } = {}) {
  let base = 1_000_000;
  const clock = new SkewableClock(() => base);
  const sm = new KvStateMachine();
  const cluster = new InProcessCluster(sm, ['n1', 'n2'], { clock, unsafe: options.unsafe ?? [] });
  if (options.leader !== undefined) cluster.setLeader(options.leader);
  let seq = 1;
  const propose = (c: Omit<Command, 'clientId' | 'seq'>) => cluster.applyProposal(encodeCommand({ ...c, clientId: 'test', seq: seq++ } as Command));
  // Each node's lessor; both see the same (shared) state machine, as replicas would.
  const lessors = cluster.handles.map((h) => new Lessor(h, sm, { checkIntervalMs: 60_000 }));
  for (const l of lessors) l.start();
  return {
    sm,
    cluster,
    lessors,
    propose,
    advance: (ms: number) => (base += ms),
    [Symbol.dispose]: () => lessors.forEach((l) => l.stop()),
  };
}

describe('Lessor', () => {
  it('only the leader tracks deadlines; a grant gets apply time + ttl', () => {
    using t = setup();
    t.propose({ op: 'lease-acquire', name: 'L', holder: 'h', ttlMs: 1000 } as Command);
    expect(t.lessors[0]!.deadlines().get('L')).toBe(1_000_000 + 1000);
    expect(t.lessors[1]!.deadlines().size).toBe(0);
    expect(t.lessors[1]!.expireDue()).toEqual([]);
  });

  it('expires a lease through the log once its deadline passed, not before', () => {
    using t = setup();
    t.propose({ op: 'lease-acquire', name: 'L', holder: 'h', ttlMs: 1000 } as Command);
    t.advance(999);
    expect(t.lessors[0]!.expireDue()).toEqual([]);
    expect(t.sm.getLease('L')).not.toBeNull();
    t.advance(1);
    expect(t.lessors[0]!.expireDue()).toEqual(['L']);
    expect(t.sm.getLease('L')).toBeNull();
    expect(t.lessors[0]!.deadlines().size).toBe(0);
  });

  it('a renew restarts the ttl from its apply time', () => {
    using t = setup();
    const token = (t.propose({ op: 'lease-acquire', name: 'L', holder: 'h', ttlMs: 1000 } as Command) as { value: { token: number } }).value.token;
    t.advance(800);
    t.propose({ op: 'lease-renew', name: 'L', holder: 'h', token } as Command);
    t.advance(800);
    expect(t.lessors[0]!.expireDue()).toEqual([]);
    t.advance(200);
    expect(t.lessors[0]!.expireDue()).toEqual(['L']);
  });

  it('a new leader extends every lease to now + ttl before it may expire any (etcd Promote)', () => {
    using t = setup();
    t.propose({ op: 'lease-acquire', name: 'L', holder: 'h', ttlMs: 1000 } as Command);
    t.advance(900);
    t.cluster.setLeader('n2');
    expect(t.lessors[0]!.deadlines().size).toBe(0);
    expect(t.lessors[1]!.deadlines().get('L')).toBe(1_000_900 + 1000);
    t.advance(500); // past the old leader's deadline, not the new one's
    expect(t.lessors[1]!.expireDue()).toEqual([]);
    expect(t.lessors[0]!.expireDue()).toEqual([]);
    t.advance(500);
    expect(t.lessors[1]!.expireDue()).toEqual(['L']);
    expect(t.sm.getLease('L')).toBeNull();
  });

  it('with the unsafe lease-no-wait switch a new leader expires leases at once', () => {
    using t = setup({ unsafe: ['lease-no-wait'] });
    t.propose({ op: 'lease-acquire', name: 'L', holder: 'h', ttlMs: 1000 } as Command);
    t.cluster.setLeader('n2');
    expect(t.lessors[1]!.expireDue()).toEqual(['L']);
    expect(t.sm.getLease('L')).toBeNull();
  });

  it('a released lease is no longer tracked', () => {
    using t = setup();
    const token = (t.propose({ op: 'lease-acquire', name: 'L', holder: 'h', ttlMs: 1000 } as Command) as { value: { token: number } }).value.token;
    t.propose({ op: 'lease-release', name: 'L', holder: 'h', token } as Command);
    expect(t.lessors[0]!.deadlines().size).toBe(0);
  });

  it('a follower clock skewed far ahead expires nothing', () => {
    using t = setup();
    t.propose({ op: 'lease-acquire', name: 'L', holder: 'h', ttlMs: 1000 } as Command);
    t.cluster.handle('n2').clock.setOffset(60_000);
    expect(t.lessors[1]!.expireDue()).toEqual([]);
    expect(t.sm.getLease('L')).not.toBeNull();
  });
});

describe('Lessor clock choice', () => {
  it('with an unskewed clock, a jump of the node clock expires nothing early', () => {
    let base = 0;
    const unskewed = { now: () => base };
    const sm = new KvStateMachine();
    const cluster = new InProcessCluster(sm, ['n1'], { clock: new SkewableClock(() => base) });
    const lessor = new Lessor(cluster.handles[0]!, sm, { checkIntervalMs: 60_000, clock: unskewed });
    lessor.start();
    try {
      cluster.applyProposal(encodeCommand({ op: 'lease-acquire', name: 'L', holder: 'h', ttlMs: 1000, clientId: 'c', seq: 1 }));
      cluster.handles[0]!.clock.setOffset(60_000);
      expect(lessor.expireDue()).toEqual([]);
      base = 1000;
      expect(lessor.expireDue()).toEqual(['L']);
    } finally {
      lessor.stop();
    }
  });

  it('with the node clock (default), a forward jump on the leader expires leases early', () => {
    const base = 0;
    const sm = new KvStateMachine();
    const cluster = new InProcessCluster(sm, ['n1'], { clock: new SkewableClock(() => base) });
    const lessor = new Lessor(cluster.handles[0]!, sm, { checkIntervalMs: 60_000 });
    lessor.start();
    try {
      cluster.applyProposal(encodeCommand({ op: 'lease-acquire', name: 'L', holder: 'h', ttlMs: 1000, clientId: 'c', seq: 1 }));
      cluster.handles[0]!.clock.setOffset(60_000);
      expect(lessor.expireDue()).toEqual(['L']);
    } finally {
      lessor.stop();
    }
  });
});

describe('SkewableClock', () => {
  it('adds the offset and strobes between offset+strobe and offset for the duration', () => {
    let base = 0;
    const clock = new SkewableClock(() => base);
    clock.setOffset(5);
    expect(clock.now()).toBe(5);
    clock.startStrobe({ strobeMs: 100, periodMs: 10, durationMs: 40 });
    const seen: number[] = [];
    for (base = 0; base < 50; base += 5) seen.push(clock.now() - base);
    expect(seen).toEqual([105, 105, 5, 5, 105, 105, 5, 5, 5, 5]);
    clock.reset();
    expect(clock.now()).toBe(base);
  });

  it('rejects a non-positive period', () => {
    expect(() => new SkewableClock().startStrobe({ strobeMs: 1, periodMs: 0, durationMs: 1 })).toThrow(/periodMs/);
  });
});
