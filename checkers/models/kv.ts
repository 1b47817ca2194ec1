import type { Model, ModelOp } from './model.ts';

/**
 * A string value per key (keys are split off before the search, so the state is one
 * string): `get` returns it, `put v` replaces it, `append v` appends. Initial "" unless `--init`.
 */
export const kvModel: Model<string> = {
  name: 'kv',
  fs: ['get', 'put', 'append'],
  init: (initValue) => (initValue === undefined || initValue === null ? '' : typeof initValue === 'string' ? initValue : JSON.stringify(initValue)),
  step(state, op) {
    switch (op.f) {
      case 'get':
        return op.type === 'info' || (op.value ?? '') === state ? state : null;
      case 'put':
        return typeof op.invokeValue === 'string' ? op.invokeValue : null;
      case 'append':
        return typeof op.invokeValue === 'string' ? state + op.invokeValue : null;
      default:
        return null;
    }
  },
  hash: (s) => s,
  describe: (s) => JSON.stringify(s),
  readOnly: (op: ModelOp) => op.f === 'get',
  prune: pruneUnobservedKvWrites,
};

/**
 * Drops `info` puts and appends whose effect no completed get could have shown: after
 * `put v` every get until the next put starts with v, and after `append v` every get
 * until the next put contains v. If no get result does, nothing between the op and the
 * next put reads the state, and removing the op leaves any linearization valid. Without
 * this, every crashed append stays a candidate forever and the search tries them in
 * every order (appends do not commute).
 */
function pruneUnobservedKvWrites<T extends ModelOp>(ops: readonly T[]): T[] {
  if (!ops.some((op) => op.type === 'info' && op.f !== 'get')) return [...ops];
  // Gets between two puts see prefixes of one another: keep only the longest of each chain.
  const seen = [...new Set(ops.filter((op) => op.f === 'get' && op.type === 'ok').map((op) => (typeof op.value === 'string' ? op.value : '')))].sort();
  const maximal = seen.filter((v, i) => !(seen[i + 1] ?? '').startsWith(v) || i === seen.length - 1);
  const text = maximal.join('\u0000');
  return ops.filter((op) => {
    if (op.type !== 'info' || typeof op.invokeValue !== 'string') return true;
    const v = op.invokeValue;
    if (op.f === 'append') return text.includes(v);
    if (op.f === 'put') return seen.some((g) => g.startsWith(v));
    return true;
  });
}
