/**
 * Jepsen's set: clients add unique elements (each one a key `set/<n>` created once) and read
 * the whole set (a linearizable range read of the prefix); final reads after healing. The set
 * checker finds acknowledged adds that were lost and elements that came from nowhere.
 */
import fc from 'fast-check';
import type { Checker } from '../checkers/checker.ts';
import { SetChecker } from '../checkers/set/set.ts';
import { standardCheckers } from './checkers.ts';
import type { ClientSession, OpSpec, Outcome, Workload } from './workload.ts';
import { classify } from './workload.ts';

const PREFIX = 'set/';

export function setWorkload(): Workload {
  return {
    name: 'set',
    description: 'add unique elements, read the whole set (set checker, linearizable reads)',
    operations: () => fc.constantFrom('add', 'add', 'add', 'read').map((f): OpSpec => ({ f, value: null })),
    prepare: (session: ClientSession, op: OpSpec): OpSpec => (op.f === 'add' ? { f: 'add', value: session.uniqueValue() } : op),
    async invoke(session: ClientSession, op: OpSpec): Promise<Outcome> {
      if (op.f === 'read') {
        const { outcome, node } = await session.request(`/v1/kv/range?prefix=${encodeURIComponent(PREFIX)}`, { method: 'GET' });
        return classify(outcome, node, true, (b) =>
          (Array.isArray(b.items) ? (b.items as { value?: unknown }[]) : []).map((it) => it.value).sort((x, y) => Number(x) - Number(y)),
        );
      }
      const element = op.value as number;
      const { outcome, node } = await session.request('/v1/kv/create', {
        method: 'POST',
        body: { key: `${PREFIX}${element}`, value: element, clientId: session.clientId, seq: session.nextSeq() },
      });
      return classify(outcome, node, false, () => element);
    },
    finalReads: () => [{ f: 'read', value: null }],
    checkers: (): Checker[] => [new SetChecker({ linearizable: true }), ...standardCheckers({ model: null })],
  };
}
