/**
 * The full versioned key/value surface on a few keys: `read`, `put` (blind or conditional on
 * the version last seen), `create` (only if absent) and `delete` (blind or conditional),
 * checked against the `versioned-kv` model (checkers/models/versioned-kv.ts). A definite
 * refusal (version-conflict, key-exists, not-found) is `fail`.
 */
import fc from 'fast-check';
import type { Checker } from '../checkers/checker.ts';
import { standardCheckers } from './checkers.ts';
import { preconditionOf, putKey, readKey, rememberSeen, seenOf } from './register.ts';
import type { CheckerOptions, ClientContext, OpSpec, Outcome, Workload } from './workload.ts';
import { complete } from './workload.ts';

export function versionedKvWorkload(options: { readonly keys: number } = { keys: 3 }): Workload {
  const keys = Array.from({ length: options.keys }, (_, i) => `v${i}`);
  return {
    name: 'versioned-kv',
    description: `read / put / conditional put / create / delete on ${keys.length} keys (versioned-kv model)`,
    requires: ['read', 'put', 'create', 'delete'],
    operations: () =>
      fc.record({ key: fc.constantFrom(...keys), kind: fc.constantFrom('read', 'read', 'put', 'cas', 'create', 'delete', 'cas-delete') }).map(
        ({ key, kind }): OpSpec => ({ f: kind, key, value: null }),
      ),
    prepare(ctx: ClientContext, op: OpSpec): OpSpec {
      const key = op.key ?? 'v0';
      const seen = seenOf(ctx, key);
      const at = seen !== null && seen.version > 0 ? { expectedVersion: seen.version, ...(seen.modRevision !== undefined ? { expectedModRevision: seen.modRevision } : {}) } : null;
      switch (op.f) {
        case 'read':
          return op;
        case 'put':
          return { f: 'put', key, value: { value: ctx.uniqueValue() } };
        case 'cas':
          return { f: 'put', key, value: { value: ctx.uniqueValue(), ...(at ?? { expectedVersion: 0 }) } };
        case 'create':
          return { f: 'create', key, value: { value: ctx.uniqueValue() } };
        case 'delete':
          return { f: 'delete', key, value: {} };
        case 'cas-delete':
          return { f: 'delete', key, value: at ?? {} };
        default:
          throw new Error(`versioned-kv: unknown op kind "${op.f}"`);
      }
    },
    async invoke(ctx: ClientContext, op: OpSpec): Promise<Outcome> {
      const key = op.key ?? 'v0';
      const arg = op.value as { value?: unknown; expectedVersion?: number; expectedModRevision?: number };
      switch (op.f) {
        case 'read':
          return readKey(ctx, key);
        case 'put':
          return putKey(ctx.client, ctx, key, arg.value, preconditionOf(arg));
        case 'create': {
          const r = await ctx.client.create(key, arg.value);
          if (r.type === 'ok') rememberSeen(ctx, key, { version: r.value.version, ...(r.value.modRevision !== undefined ? { modRevision: r.value.modRevision } : {}) });
          return complete(r, (w) => ({ version: w.version }));
        }
        case 'delete': {
          const r = await ctx.client.delete(key, preconditionOf(arg));
          if (r.type === 'ok') rememberSeen(ctx, key, { version: 0 });
          else if (r.error.code === 'version-conflict' && typeof r.error.currentVersion === 'number') rememberSeen(ctx, key, { version: r.error.currentVersion });
          return complete(r, () => ({ deleted: true }));
        }
        default:
          throw new Error(`versioned-kv: unknown op "${op.f}"`);
      }
    },
    finalReads: () => keys.map((key) => ({ f: 'read', key, value: null })),
    checkers: (o: CheckerOptions): Checker[] => standardCheckers({ model: 'versioned-kv', ...(o.budgetMs !== undefined ? { budgetMs: o.budgetMs } : {}) }),
  };
}
