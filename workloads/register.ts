/**
 * Per-key registers on versioned writes: `read`, `put` (blind write) and `put` conditioned on
 * the version this process last saw (compare-and-set; etcd compares the key's mod_revision,
 * the store its version), over a few keys. Recorded as the `versioned-kv` model expects
 * (checkers/models/versioned-kv.ts): read → `{"version","value"}` or null; put →
 * `{"version"}`; a failed precondition is `fail`.
 */
import fc from 'fast-check';
import type { Checker } from '../checkers/checker.ts';
import type { Precondition, SystemClient, Versioned } from './client.ts';
import type { CheckerOptions, ClientContext, OpSpec, Outcome, Workload } from './workload.ts';
import { complete } from './workload.ts';
import { standardCheckers } from './checkers.ts';

export interface RegisterOptions {
  readonly keys: number;
}

/** What a process remembers of a key: the version (and revision) it last saw. */
interface Seen {
  readonly version: number;
  readonly modRevision?: number;
}

export function rememberSeen(ctx: ClientContext, key: string, seen: Seen | null): void {
  ctx.memory.set(key, seen);
}

export function seenOf(ctx: ClientContext, key: string): Seen | null {
  const s = ctx.memory.get(key) as Seen | null | undefined;
  return s ?? null;
}

export function registerWorkload(options: RegisterOptions = { keys: 3 }): Workload {
  const keys = Array.from({ length: options.keys }, (_, i) => `r${i}`);
  return {
    name: 'register',
    description: `read / put / cas-put on ${keys.length} keys (versioned-kv model)`,
    requires: ['read', 'put'],
    operations: () =>
      fc.record({ key: fc.constantFrom(...keys), kind: fc.constantFrom('read', 'read', 'write', 'cas') }).map(
        ({ key, kind }): OpSpec => ({ f: kind, key, value: null }),
      ),
    prepare(ctx: ClientContext, op: OpSpec): OpSpec {
      if (op.f === 'read') return op;
      const value = ctx.uniqueValue();
      const seen = seenOf(ctx, op.key ?? 'r0');
      // A cas is a put conditioned on the version this process last saw (blind if none yet).
      const cas = op.f === 'cas' && seen !== null;
      return { f: 'put', key: op.key ?? 'r0', value: cas ? { value, expectedVersion: seen.version, ...(seen.modRevision !== undefined ? { expectedModRevision: seen.modRevision } : {}) } : { value } };
    },
    async invoke(ctx: ClientContext, op: OpSpec): Promise<Outcome> {
      const key = op.key ?? 'r0';
      if (op.f === 'read') return readKey(ctx, key);
      const arg = op.value as { value: number; expectedVersion?: number; expectedModRevision?: number };
      return putKey(ctx.client, ctx, key, arg.value, preconditionOf(arg));
    },
    finalReads: () => keys.map((key) => ({ f: 'read', key, value: null })),
    checkers: (o: CheckerOptions): Checker[] => standardCheckers({ model: 'versioned-kv', ...(o.budgetMs !== undefined ? { budgetMs: o.budgetMs } : {}) }),
  };
}

/** `expectedVersion` 0 means "must not exist" (impl/API.md); otherwise the version (and revision) seen. */
export function preconditionOf(arg: { readonly expectedVersion?: number; readonly expectedModRevision?: number }): Precondition | undefined {
  if (arg.expectedVersion === undefined) return undefined;
  if (arg.expectedVersion === 0) return 'absent';
  return { version: arg.expectedVersion, ...(arg.expectedModRevision !== undefined ? { modRevision: arg.expectedModRevision } : {}) };
}

export async function putKey(client: SystemClient, ctx: ClientContext, key: string, value: unknown, precondition: Precondition | undefined): Promise<Outcome> {
  const r = await client.put(key, value, precondition);
  if (r.type === 'ok') rememberSeen(ctx, key, { version: r.value.version, ...(r.value.modRevision !== undefined ? { modRevision: r.value.modRevision } : {}) });
  else if (r.error.code === 'version-conflict' && typeof r.error.currentVersion === 'number') {
    rememberSeen(ctx, key, { version: r.error.currentVersion, ...(r.error.currentModRevision !== undefined ? { modRevision: r.error.currentModRevision } : {}) });
  }
  return complete(r, (w) => ({ version: w.version }));
}

export async function readKey(ctx: ClientContext, key: string): Promise<Outcome> {
  const r = await ctx.client.read(key);
  if (r.type === 'ok') rememberSeen(ctx, key, r.value === null ? { version: 0 } : seenFrom(r.value));
  return complete(r, (v) => (v === null ? null : { version: v.version, value: v.value }));
}

function seenFrom(v: Versioned): Seen {
  return { version: v.version, ...(v.modRevision !== undefined ? { modRevision: v.modRevision } : {}) };
}
