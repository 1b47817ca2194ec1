/**
 * Watches: some processes put unique values on a few keys under `w/` and delete them, others
 * hold a watch stream on the prefix for a second or two through their own node, then resume
 * from the last revision they saw (one history op per connection, as Jepsen's etcd watch
 * test); a watcher whose start revision was compacted (etcd's `admin` nemesis compacts)
 * resumes from the first revision the system still has, as etcd's clients do. The watch
 * checker proves every watcher saw each committed change once, in revision order, with no
 * gaps or phantoms. Deletes matter: etcd keeps a delete as a tombstone that compaction may
 * drop (etcd#18089 lost the delete at the compaction revision itself).
 */
import fc from 'fast-check';
import type { Checker } from '../checkers/checker.ts';
import { WatchChecker } from '../checkers/watch/watch.ts';
import { standardCheckers } from './checkers.ts';
import type { CheckerOptions, ClientContext, OpSpec, Outcome, Workload } from './workload.ts';
import { complete } from './workload.ts';

const PREFIX = 'w/';

interface WatchArg {
  readonly watcher: string;
  readonly prefix: string;
  readonly fromRevision?: number;
  readonly durationMs: number;
}

export function watchWorkload(options: { readonly keys: number } = { keys: 3 }): Workload {
  const keys = Array.from({ length: options.keys }, (_, i) => `${PREFIX}k${i}`);
  return {
    name: 'watch',
    description: `puts and deletes on ${keys.length} keys under ${PREFIX}, watch streams on the prefix resumed from the last revision seen (watch checker)`,
    requires: ['put', 'delete', 'watch'],
    operations: () =>
      fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...keys).map((key): OpSpec => ({ f: 'put', key, value: null })) },
        { weight: 1, arbitrary: fc.constantFrom(...keys).map((key): OpSpec => ({ f: 'delete', key, value: null })) },
        { weight: 1, arbitrary: fc.integer({ min: 500, max: 2000 }).map((durationMs): OpSpec => ({ f: 'watch', value: durationMs })) },
      ),
    prepare(ctx: ClientContext, op: OpSpec): OpSpec {
      if (op.f === 'put') return { f: 'put', key: op.key ?? keys[0] ?? 'w/k0', value: { value: ctx.uniqueValue() } };
      if (op.f === 'delete') return op;
      const last = ctx.memory.get('lastRevision');
      const arg: WatchArg = {
        watcher: ctx.holder,
        prefix: PREFIX,
        durationMs: op.value as number,
        ...(typeof last === 'number' ? { fromRevision: last + 1 } : {}),
      };
      return { f: 'watch', value: arg };
    },
    async invoke(ctx: ClientContext, op: OpSpec): Promise<Outcome> {
      if (op.f === 'watch') {
        const arg = op.value as WatchArg;
        const r = await ctx.client.watch(arg.prefix, arg.fromRevision, arg.durationMs);
        if (r.type === 'ok') {
          const changes = r.value.events.filter((e) => e.type !== 'progress');
          // Compacted: what came before is gone; go on from the first revision the system has.
          const last = r.value.compacted !== undefined ? r.value.compacted - 1 : Math.max(changes.at(-1)?.revision ?? 0, r.value.progressRevision ?? 0, (arg.fromRevision ?? 1) - 1);
          if (last > 0) ctx.memory.set('lastRevision', last);
        }
        return complete(r, (w) => w);
      }
      if (op.f === 'delete') {
        const r = await ctx.client.delete(op.key ?? 'w/k0');
        return complete(r, (d) => (d.revision !== undefined ? { revision: d.revision } : {}));
      }
      const arg = op.value as { value: number };
      const r = await ctx.client.put(op.key ?? 'w/k0', arg.value);
      return complete(r, (w) => ({ version: w.version, modRevision: w.modRevision }));
    },
    finalReads: () => [],
    checkers: (_o: CheckerOptions): Checker[] => [new WatchChecker(), ...standardCheckers({ model: null })],
  };
}
