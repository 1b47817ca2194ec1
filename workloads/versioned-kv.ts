/**
 * The store's full versioned key/value surface on a few keys: `read`, `put` (blind or with
 * `expectedVersion`), `create` (only if absent) and `delete` (blind or conditional), checked
 * against the `versioned-kv` model (checkers/models/versioned-kv.ts). A definite refusal
 * (version-conflict, key-exists, not-found) is `fail`.
 */
import fc from 'fast-check';
import type { Checker } from '../checkers/checker.ts';
import { standardCheckers } from './checkers.ts';
import { readKey } from './register.ts';
import type { ClientSession, OpSpec, Outcome, Workload } from './workload.ts';
import { classify } from './workload.ts';

export function versionedKvWorkload(options: { readonly keys: number } = { keys: 3 }): Workload {
  const keys = Array.from({ length: options.keys }, (_, i) => `v${i}`);
  return {
    name: 'versioned-kv',
    description: `read / put / conditional put / create / delete on ${keys.length} keys (versioned-kv model)`,
    operations: () =>
      fc.record({ key: fc.constantFrom(...keys), kind: fc.constantFrom('read', 'read', 'put', 'cas', 'create', 'delete', 'cas-delete') }).map(
        ({ key, kind }): OpSpec => ({ f: kind, key, value: null }),
      ),
    prepare(session: ClientSession, op: OpSpec): OpSpec {
      const key = op.key ?? 'v0';
      const seen = session.memory.get(key);
      const version = typeof seen === 'number' && seen > 0 ? seen : undefined;
      switch (op.f) {
        case 'read':
          return op;
        case 'put':
          return { f: 'put', key, value: { value: session.uniqueValue() } };
        case 'cas':
          return { f: 'put', key, value: version === undefined ? { value: session.uniqueValue(), expectedVersion: 0 } : { value: session.uniqueValue(), expectedVersion: version } };
        case 'create':
          return { f: 'create', key, value: { value: session.uniqueValue() } };
        case 'delete':
          return { f: 'delete', key, value: {} };
        case 'cas-delete':
          return { f: 'delete', key, value: version === undefined ? {} : { expectedVersion: version } };
        default:
          throw new Error(`versioned-kv: unknown op kind "${op.f}"`);
      }
    },
    async invoke(session: ClientSession, op: OpSpec): Promise<Outcome> {
      const key = op.key ?? 'v0';
      if (op.f === 'read') return readKey(session, key);
      const arg = op.value as Record<string, unknown>;
      const { outcome, node } = await session.request(`/v1/kv/${op.f}`, {
        method: 'POST',
        body: { key, ...arg, clientId: session.clientId, seq: session.nextSeq() },
      });
      if (outcome.kind === 'ok') session.memory.set(key, op.f === 'delete' ? 0 : outcome.body.version);
      else if (outcome.code === 'version-conflict') {
        const cur = (outcome.body?.error as { currentVersion?: unknown } | undefined)?.currentVersion;
        if (typeof cur === 'number') session.memory.set(key, cur);
      }
      return classify(outcome, node, false, (b) => (op.f === 'delete' ? { deleted: true } : { version: b.version }));
    },
    finalReads: () => keys.map((key) => ({ f: 'read', key, value: null })),
    checkers: (): Checker[] => standardCheckers({ model: 'versioned-kv' }),
  };
}
