/**
 * Jepsen's set: clients add unique elements and read the whole set (through the system's
 * set operations: the store and etcd keep one key per element and read them with a prefix
 * range); final reads after healing. The set checker finds acknowledged adds that were lost
 * and elements that came from nowhere.
 */
import fc from 'fast-check';
import type { Checker } from '../checkers/checker.ts';
import { SetChecker } from '../checkers/set/set.ts';
import { standardCheckers } from './checkers.ts';
import type { CheckerOptions, ClientContext, OpSpec, Outcome, Workload } from './workload.ts';
import { complete } from './workload.ts';

const SET = 'jepsen';

export function setWorkload(): Workload {
  return {
    name: 'set',
    description: 'add unique elements, read the whole set (set checker, linearizable reads)',
    requires: ['set-add', 'set-read'],
    operations: () => fc.constantFrom('add', 'add', 'add', 'read').map((f): OpSpec => ({ f, value: null })),
    prepare: (ctx: ClientContext, op: OpSpec): OpSpec => (op.f === 'add' ? { f: 'add', value: ctx.uniqueValue() } : op),
    async invoke(ctx: ClientContext, op: OpSpec): Promise<Outcome> {
      if (op.f === 'read') return complete(await ctx.client.setRead(SET), (elements) => elements);
      const element = op.value as number;
      return complete(await ctx.client.setAdd(SET, element), () => element);
    },
    finalReads: () => [{ f: 'read', value: null }],
    checkers: (_o: CheckerOptions): Checker[] => [new SetChecker({ linearizable: true }), ...standardCheckers({ model: null })],
  };
}
