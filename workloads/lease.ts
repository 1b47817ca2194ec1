/**
 * Leases with fencing tokens: processes acquire, renew and release a couple of named leases
 * (the store's lease API; on etcd, a lock built the way etcd users build one: a lease plus a
 * key created only if absent, the token being the key's create revision). The lease checker
 * (checkers/lease) proves no two holders' safe windows overlap and tokens only grow. A
 * process's holder name is unique to it, so a process replaced after an `info` is a new holder
 * (its predecessor's grant simply expires).
 */
import fc from 'fast-check';
import type { Checker } from '../checkers/checker.ts';
import { LeaseChecker } from '../checkers/lease/lease.ts';
import { standardCheckers } from './checkers.ts';
import type { CheckerOptions, ClientContext, OpSpec, Outcome, Workload } from './workload.ts';
import { complete } from './workload.ts';

export function leaseWorkload(options: { readonly names: number; readonly ttlMs: number } = { names: 2, ttlMs: 2000 }): Workload {
  const names = Array.from({ length: options.names }, (_, i) => `lease${i}`);
  const tokenKey = (name: string): string => `token:${name}`;
  return {
    name: 'lease',
    description: `acquire / renew / release on ${names.length} leases, ttl ${options.ttlMs} ms (lease checker)`,
    requires: ['lease-acquire', 'lease-renew', 'lease-release'],
    operations: () =>
      fc.record({ name: fc.constantFrom(...names), kind: fc.constantFrom('acquire', 'renew', 'renew', 'release') }).map(
        ({ name, kind }): OpSpec => ({ f: kind, key: name, value: null }),
      ),
    prepare(ctx: ClientContext, op: OpSpec): OpSpec {
      const name = op.key ?? 'lease0';
      const token = ctx.memory.get(tokenKey(name));
      // Without a grant there is nothing to renew or release: acquire instead.
      if (op.f === 'acquire' || token === undefined) return { f: 'acquire', key: name, value: { holder: ctx.holder, ttlMs: options.ttlMs } };
      return { f: op.f, key: name, value: { holder: ctx.holder, token } };
    },
    async invoke(ctx: ClientContext, op: OpSpec): Promise<Outcome> {
      const name = op.key ?? 'lease0';
      const arg = op.value as { holder: string; ttlMs?: number; token?: number | string };
      if (op.f === 'release') {
        const r = await ctx.client.leaseRelease(name, arg.holder, arg.token ?? 0);
        if (r.type === 'ok' || r.error.code === 'lease-lost') ctx.memory.delete(tokenKey(name));
        return complete(r, (v) => v);
      }
      const r = op.f === 'acquire' ? await ctx.client.leaseAcquire(name, arg.holder, arg.ttlMs ?? options.ttlMs) : await ctx.client.leaseRenew(name, arg.holder, arg.token ?? 0);
      if (r.type === 'ok') ctx.memory.set(tokenKey(name), r.value.token);
      else if (r.error.code === 'lease-lost') ctx.memory.delete(tokenKey(name));
      return complete(r, (g) => ({ token: g.token, ...(g.ttlMs !== undefined ? { ttlMs: g.ttlMs } : {}) }));
    },
    finalReads: () => [],
    checkers: (_o: CheckerOptions): Checker[] => [new LeaseChecker(), ...standardCheckers({ model: null })],
  };
}
