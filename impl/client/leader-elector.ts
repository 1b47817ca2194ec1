/**
 * Leader election on a store lease.
 *
 * The elector acquires the lease `name` as `holder` and renews it every `renewIntervalMs`.
 * It relies on the store's lease guarantee (impl/API.md): a holder that invoked acquire or
 * renew at local time t0 and got `ok` may act until t0 + ttl - safetyMargin. So `isLeader()`
 * is computed from the local clock on every call and turns false at that moment even if
 * the store is unreachable and no answer ever comes. Use `token` as the fencing token on
 * everything done as leader.
 */
import { LeaseHeldError, LeaseLostError } from './errors.ts';
import type { StoreClient } from './store-client.ts';
import { setTimeout as delay } from 'node:timers/promises';

export interface LeaderElectorOptions {
  readonly client: StoreClient;
  /** Lease name. */
  readonly name: string;
  /** This candidate's identity (unique per process). */
  readonly holder: string;
  /** Lease TTL, ms. Default 5000. */
  readonly leaseTtlMs?: number;
  /** Renew this often while leader, ms. Default ttl / 3. */
  readonly renewIntervalMs?: number;
  /** Try to acquire this often while not leader (and retry a failed renew), ms. Default ttl / 5. */
  readonly retryIntervalMs?: number;
  /** Covers clock rate drift between this process and the store leader. Default max(100, ttl / 10). */
  readonly safetyMarginMs?: number;
  /** Local monotonic milliseconds. Default performance.now. */
  readonly clock?: () => number;
  readonly log?: (message: string, fields: Record<string, unknown>) => void;
}

export class LeaderElector implements AsyncDisposable {
  private readonly client: StoreClient;
  readonly name: string;
  readonly holder: string;
  readonly leaseTtlMs: number;
  readonly renewIntervalMs: number;
  readonly retryIntervalMs: number;
  readonly safetyMarginMs: number;
  private readonly clock: () => number;
  private readonly log: (message: string, fields: Record<string, unknown>) => void;

  private grantToken: number | null = null;
  private validUntil = -Infinity;
  private announced = false;
  private running: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<(leader: boolean) => void>();

  constructor(options: LeaderElectorOptions) {
    this.client = options.client;
    this.name = options.name;
    this.holder = options.holder;
    this.leaseTtlMs = options.leaseTtlMs ?? 5000;
    this.renewIntervalMs = options.renewIntervalMs ?? Math.floor(this.leaseTtlMs / 3);
    this.retryIntervalMs = options.retryIntervalMs ?? Math.floor(this.leaseTtlMs / 5);
    this.safetyMarginMs = options.safetyMarginMs ?? Math.max(100, Math.floor(this.leaseTtlMs / 10));
    this.clock = options.clock ?? (() => performance.now());
    this.log = options.log ?? (() => {});
    if (this.safetyMarginMs >= this.leaseTtlMs) throw new Error(`LeaderElector: safetyMarginMs (${this.safetyMarginMs}) must be below leaseTtlMs (${this.leaseTtlMs})`);
    if (this.renewIntervalMs >= this.leaseTtlMs - this.safetyMarginMs) {
      throw new Error(`LeaderElector: renewIntervalMs (${this.renewIntervalMs}) must be below leaseTtlMs - safetyMarginMs (${this.leaseTtlMs - this.safetyMarginMs})`);
    }
    if (this.retryIntervalMs <= 0) throw new Error(`LeaderElector: retryIntervalMs must be > 0, got ${this.retryIntervalMs}`);
  }

  /** True while this process holds the lease and its guaranteed time has not run out. */
  isLeader(): boolean {
    return this.grantToken !== null && this.clock() < this.validUntil;
  }

  /** The fencing token of the current tenure, or null when not leader. */
  get token(): number | null {
    return this.isLeader() ? this.grantToken : null;
  }

  /** Local time until which leadership is guaranteed (-Infinity when not leader). */
  get leaderUntil(): number {
    return this.isLeader() ? this.validUntil : -Infinity;
  }

  /** Called with true on gaining and false on losing leadership. */
  onChange(listener: (leader: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.running !== null) return;
    const running = new AbortController();
    this.running = running;
    this.loop = this.run(running.signal);
  }

  /** Stop campaigning and release the lease if held. */
  async stop(): Promise<void> {
    const running = this.running;
    if (running === null) return;
    running.abort();
    await this.loop;
    this.running = null;
    this.loop = null;
    const token = this.grantToken;
    this.grantToken = null;
    this.validUntil = -Infinity;
    this.announce();
    if (token !== null) {
      try {
        await this.client.releaseLease(this.name, this.holder, token);
      } catch (e) {
        this.log('lease release failed; it will expire', { name: this.name, error: String(e) });
      }
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Resolves with the fencing token once leader; rejects when `signal` aborts. */
  waitForLeadership(signal?: AbortSignal): Promise<number> {
    if (this.isLeader()) return Promise.resolve(this.grantToken!);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        unsubscribe();
        reject(signal!.reason as Error);
      };
      const unsubscribe = this.onChange((leader) => {
        if (!leader || !this.isLeader()) return;
        unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        resolve(this.grantToken!);
      });
      if (signal?.aborted === true) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const holding = this.grantToken !== null && this.isLeader();
      if (this.grantToken !== null && !holding) {
        this.log('leadership ran out', { name: this.name, token: this.grantToken });
        this.grantToken = null;
        this.announce();
      }
      const t0 = this.clock();
      let next = this.retryIntervalMs;
      try {
        const grant =
          this.grantToken === null
            ? await this.client.acquireLease(this.name, this.holder, this.leaseTtlMs)
            : await this.client.renewLease(this.name, this.holder, this.grantToken);
        if (signal.aborted && this.grantToken === null) {
          // Stopped while acquiring: keep the token so stop() releases it.
          this.grantToken = grant.token;
          break;
        }
        this.grantToken = grant.token;
        this.validUntil = t0 + this.leaseTtlMs - this.safetyMarginMs;
        next = this.renewIntervalMs;
        this.scheduleExpiryCheck();
        this.announce();
      } catch (e) {
        if (e instanceof LeaseLostError) {
          this.grantToken = null;
          this.validUntil = -Infinity;
          this.announce();
        } else if (!(e instanceof LeaseHeldError)) {
          this.log('lease request failed', { name: this.name, error: String(e) });
        }
      }
      await sleep(Math.max(0, next - (this.clock() - t0)), signal);
    }
  }

  /** Listeners hear of the loss when the guaranteed time runs out, not at the next renew. */
  private scheduleExpiryCheck(): void {
    if (this.expiryTimer !== null) clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null;
      this.announce();
    }, Math.max(0, this.validUntil - this.clock()) + 1);
    this.expiryTimer.unref();
  }

  private announce(): void {
    const leader = this.isLeader();
    if (leader === this.announced) return;
    this.announced = leader;
    if (!leader && this.expiryTimer !== null) {
      clearTimeout(this.expiryTimer);
      this.expiryTimer = null;
    }
    for (const l of [...this.listeners]) l(leader);
  }
}

/** Wait `ms`, or less if `signal` aborts first (resolves either way). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => undefined);
}
