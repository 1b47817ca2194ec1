/**
 * Leases with fencing tokens: processes acquire, renew and release a couple of named leases.
 * The lease checker (checkers/lease) proves no two holders' safe windows overlap and tokens
 * only grow. A process's holder name is its client id, so a process replaced after an `info`
 * is a new holder (its predecessor's grant simply expires).
 */
import fc from 'fast-check';
import type { Checker } from '../checkers/checker.ts';
import { LeaseChecker } from '../checkers/lease/lease.ts';
import { standardCheckers } from './checkers.ts';
import type { ClientSession, OpSpec, Outcome, Workload } from './workload.ts';
import { classify } from './workload.ts';

export function leaseWorkload(options: { readonly names: number; readonly ttlMs: number } = { names: 2, ttlMs: 2000 }): Workload {
  const names = Array.from({ length: options.names }, (_, i) => `lease${i}`);
  const tokenKey = (name: string): string => `token:${name}`;
  return {
    name: 'lease',
    description: `acquire / renew / release on ${names.length} leases, ttl ${options.ttlMs} ms (lease checker)`,
    operations: () =>
      fc.record({ name: fc.constantFrom(...names), kind: fc.constantFrom('acquire', 'renew', 'renew', 'release') }).map(
        ({ name, kind }): OpSpec => ({ f: kind, key: name, value: null }),
      ),
    prepare(session: ClientSession, op: OpSpec): OpSpec {
      const name = op.key ?? 'lease0';
      const token = session.memory.get(tokenKey(name));
      // Without a grant there is nothing to renew or release: acquire instead.
      if (op.f === 'acquire' || token === undefined) return { f: 'acquire', key: name, value: { holder: session.clientId, ttlMs: options.ttlMs } };
      return { f: op.f, key: name, value: { holder: session.clientId, token } };
    },
    async invoke(session: ClientSession, op: OpSpec): Promise<Outcome> {
      const name = op.key ?? 'lease0';
      const arg = op.value as Record<string, unknown>;
      const { outcome, node } = await session.request(`/v1/lease/${op.f}`, {
        method: 'POST',
        body: { name, ...arg, clientId: session.clientId, seq: session.nextSeq() },
      });
      if (outcome.kind === 'ok') {
        if (op.f === 'release') session.memory.delete(tokenKey(name));
        else if (outcome.body.token !== undefined) session.memory.set(tokenKey(name), outcome.body.token);
      } else if (outcome.code === 'lease-lost') {
        session.memory.delete(tokenKey(name));
      }
      return classify(outcome, node, false, (b) => b);
    },
    finalReads: () => [],
    checkers: (): Checker[] => [new LeaseChecker(), ...standardCheckers({ model: null })],
  };
}
