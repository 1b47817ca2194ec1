/**
 * The leader's lessor: decides when leases expire and commits each expiry through the log.
 *
 * Why it is safe (impl/API.md, "Lease guarantee"; LogCabin and etcd do the same):
 *  - Only the leader keeps deadlines, from its own clock. A follower's clock never expires
 *    anything, and an expiry is an ordinary log entry (`lease-expire`), so every replica
 *    removes the lease at the same point of the log.
 *  - A deadline is set when the grant or renew is *applied* on the leader, which is after
 *    the holder invoked it: deadline = apply time + ttl >= invocation time + ttl.
 *  - A new leader does not know its predecessor's deadlines, so on promotion it extends every
 *    lease to now + ttl (etcd's lessor.Promote): it waits out a full TTL before it may
 *    expire anything. Promotion happens after a quorum voted for it, which is after any
 *    grant it knows of was appended, hence after the holder invoked it.
 *  - An expiry names the lease's token and the revision of its last renew; a renew that
 *    committed in between makes it a no-op (KvStateMachine), so a renewed holder keeps its
 *    fresh TTL.
 * What remains is clock *rate* drift between holder and leader, which the holder's safety
 * margin covers. A jump of the leader's clock (see SkewableClock) can break the guarantee;
 * that is what the fault injection is for.
 *
 * The unsafe `lease-no-wait` switch skips the wait on promotion: a new leader expires every
 * lease at once.
 */
import type { Clock, ConsensusHandle, NodeStatus } from '../node/contracts.ts';
import type { PlatformTimers, TimerHandle } from '../node/platform.ts';
import { realTimers } from '../node/real-time.ts';
import { encodeCommand } from './commands.ts';
import type { KvStateMachine, LeaseChange, LeaseRecord } from './kv-state-machine.ts';

export interface LessorOptions {
  /** How often the leader looks for expired leases, ms. Default 50. */
  readonly checkIntervalMs?: number;
  /** Unsafe: expire leases immediately on promotion. Default: `handle.unsafe.has('lease-no-wait')`. */
  readonly noWait?: boolean;
  /** Timeout handed to `propose` for an expiry, ms. Default 5000. */
  readonly proposeTimeoutMs?: number;
  /**
   * Where deadlines come from. Default `handle.clock` (the node clock that `/v1/test/clock`
   * skews, so the clock nemesis reaches lease expiry). Pass an unskewed monotonic clock to
   * make expiry immune to injected clock jumps.
   */
  readonly clock?: Clock;
  /** Structured log sink. Default: nothing. */
  readonly log?: (message: string, fields: Record<string, unknown>) => void;
  /** The check timer (platform seam). Default: Node's. */
  readonly timers?: PlatformTimers;
}

interface Deadline {
  readonly deadline: number;
  readonly token: number;
  readonly renewRevision: number;
}

export class Lessor {
  private leader = false;
  private readonly deadlineTable = new Map<string, Deadline>();
  private readonly expiring = new Set<string>();
  private readonly unsubscribe: (() => void)[] = [];
  private timer: TimerHandle | null = null;
  private readonly timers: PlatformTimers;
  private readonly checkIntervalMs: number;
  private readonly noWait: boolean;
  private readonly proposeTimeoutMs: number;
  private readonly clock: Clock;
  private readonly log: (message: string, fields: Record<string, unknown>) => void;

  constructor(
    private readonly handle: ConsensusHandle,
    private readonly sm: KvStateMachine,
    options: LessorOptions = {},
  ) {
    this.checkIntervalMs = options.checkIntervalMs ?? 50;
    this.noWait = options.noWait ?? handle.unsafe.has('lease-no-wait');
    this.proposeTimeoutMs = options.proposeTimeoutMs ?? 5000;
    this.clock = options.clock ?? handle.clock;
    this.log = options.log ?? (() => {});
    this.timers = options.timers ?? realTimers;
  }

  start(): void {
    if (this.timer !== null) return;
    this.unsubscribe.push(
      this.handle.onRoleChange((status) => this.roleChanged(status)),
      this.sm.onLeaseChange((change) => this.leaseChanged(change)),
      this.sm.onRestore(() => {
        if (this.leader) this.promote();
      }),
    );
    this.roleChanged(this.handle.status());
    this.timer = this.timers.setInterval(() => this.expireDue(), this.checkIntervalMs, { unref: true });
  }

  stop(): void {
    if (this.timer !== null) this.timers.clear(this.timer);
    this.timer = null;
    for (const u of this.unsubscribe.splice(0)) u();
    this.leader = false;
    this.deadlineTable.clear();
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Local deadlines (clock.now() ms) of the leases this leader tracks; empty on followers. */
  deadlines(): ReadonlyMap<string, number> {
    return new Map([...this.deadlineTable].map(([name, d]) => [name, d.deadline]));
  }

  /**
   * Propose an expiry for every lease whose deadline passed (also run by the timer).
   * Returns the names proposed.
   */
  expireDue(): string[] {
    if (!this.leader) return [];
    const now = this.clock.now();
    const proposed: string[] = [];
    for (const [name, d] of this.deadlineTable) {
      if (d.deadline > now || this.expiring.has(name)) continue;
      this.expiring.add(name);
      proposed.push(name);
      this.log('lease expiring', { name, token: d.token, deadline: d.deadline, now });
      const data = encodeCommand({ op: 'lease-expire', name, token: d.token, renewRevision: d.renewRevision });
      this.handle.propose(data, { timeoutMs: this.proposeTimeoutMs }).then(
        () => this.expiring.delete(name),
        (error: unknown) => {
          // Retried on the next pass while still leader; a stale expiry is a no-op anyway.
          this.expiring.delete(name);
          this.log('lease expiry not committed', { name, error: String(error) });
        },
      );
    }
    return proposed;
  }

  private roleChanged(status: NodeStatus): void {
    const leaderNow = status.role === 'leader';
    if (leaderNow && !this.leader) {
      this.leader = true;
      this.promote();
    } else if (!leaderNow && this.leader) {
      this.leader = false;
      this.deadlineTable.clear();
      this.expiring.clear();
    }
  }

  /** etcd's lessor.Promote: restart every lease's clock from now (unless unsafe noWait). */
  private promote(): void {
    const now = this.clock.now();
    this.deadlineTable.clear();
    for (const lease of this.sm.leases()) this.track(lease, this.noWait ? now : now + lease.ttlMs);
    this.log('lessor promoted', { leases: this.deadlineTable.size, noWait: this.noWait });
  }

  private leaseChanged(change: LeaseChange): void {
    if (!this.leader) return;
    switch (change.type) {
      case 'granted':
      case 'renewed':
        this.track(change.lease, this.clock.now() + change.lease.ttlMs);
        return;
      case 'released':
      case 'expired':
        this.deadlineTable.delete(change.lease.name);
        return;
    }
  }

  private track(lease: LeaseRecord, deadline: number): void {
    this.deadlineTable.set(lease.name, { deadline, token: lease.token, renewRevision: lease.renewRevision });
  }
}
