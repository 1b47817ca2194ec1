/**
 * Per-key registers on the store's versioned put: `read`, `put` (blind write) and `put`
 * with `expectedVersion` (compare-and-set on the version this process last saw), over a
 * few keys. Recorded as the `versioned-kv` model expects (checkers/models/versioned-kv.ts):
 * read → `{"version","value"}` or null; put → `{"version"}`; a version conflict is `fail`.
 */
import fc from 'fast-check';
import type { Checker } from '../checkers/checker.ts';
import type { ClientSession, OpSpec, Outcome, Workload } from './workload.ts';
import { classify } from './workload.ts';
import { standardCheckers } from './checkers.ts';

export interface RegisterOptions {
  readonly keys: number;
}

export function registerWorkload(options: RegisterOptions = { keys: 3 }): Workload {
  const keys = Array.from({ length: options.keys }, (_, i) => `r${i}`);
  return {
    name: 'register',
    description: `read / put / cas-put on ${keys.length} keys (versioned-kv model)`,
    operations: () =>
      fc.record({ key: fc.constantFrom(...keys), kind: fc.constantFrom('read', 'read', 'write', 'cas') }).map(
        ({ key, kind }): OpSpec => ({ f: kind, key, value: null }),
      ),
    prepare(session: ClientSession, op: OpSpec): OpSpec {
      if (op.f === 'read') return op;
      const value = session.uniqueValue();
      const seen = session.memory.get(op.key ?? 'r0');
      // A cas is a put conditioned on the version this process last saw (blind if none yet).
      const expectedVersion = op.f === 'cas' && typeof seen === 'number' ? seen : undefined;
      return { f: 'put', key: op.key ?? 'r0', value: expectedVersion === undefined ? { value } : { value, expectedVersion } };
    },
    async invoke(session: ClientSession, op: OpSpec): Promise<Outcome> {
      const key = op.key ?? 'r0';
      if (op.f === 'read') return readKey(session, key);
      const arg = op.value as { value: number; expectedVersion?: number };
      const { outcome, node } = await session.request('/v1/kv/put', {
        method: 'POST',
        body: { key, ...arg, clientId: session.clientId, seq: session.nextSeq() },
      });
      if (outcome.kind === 'ok' && typeof outcome.body.version === 'number') session.memory.set(key, outcome.body.version);
      if (outcome.kind === 'error' && outcome.code === 'version-conflict' && typeof outcome.body?.error === 'object') {
        const cur = (outcome.body.error as { currentVersion?: unknown }).currentVersion;
        if (typeof cur === 'number') session.memory.set(key, cur);
      }
      return classify(outcome, node, false, (b) => ({ version: b.version }));
    },
    finalReads: () => keys.map((key) => ({ f: 'read', key, value: null })),
    checkers: (): Checker[] => standardCheckers({ model: 'versioned-kv' }),
  };
}

export async function readKey(session: ClientSession, key: string): Promise<Outcome> {
  const { outcome, node } = await session.request(`/v1/kv/get?key=${encodeURIComponent(key)}`, { method: 'GET' });
  if (outcome.kind === 'error' && outcome.code === 'not-found') return { type: 'ok', value: null, node };
  if (outcome.kind === 'ok' && typeof outcome.body.version === 'number') session.memory.set(key, outcome.body.version);
  return classify(outcome, node, true, (b) => ({ version: b.version, value: b.value }));
}
