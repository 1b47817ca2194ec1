import { type Model, type ModelOp } from './model.ts';

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
};
