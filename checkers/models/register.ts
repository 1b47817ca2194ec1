import { canonical, pruneUnobservedWrites, sameValue, show, type Model, type ModelOp } from './model.ts';

/** A register's state: the value, boxed so that a nil value is not mistaken for "not allowed". */
export interface RegisterState {
  readonly value: unknown;
}

/** A read/write register (Knossos `register`): `read` returns the last write; initial value nil unless `--init`. */
export const registerModel: Model<RegisterState> = {
  name: 'register',
  fs: ['read', 'write'],
  init: (initValue) => ({ value: initValue ?? null }),
  step(state, op) {
    switch (op.f) {
      case 'write':
        return { value: op.invokeValue ?? null };
      case 'read':
        return op.type === 'info' || sameValue(op.value, state.value) ? state : null;
      default:
        return null;
    }
  },
  hash: (s) => canonical(s.value),
  describe: (s) => show(s.value),
  readOnly: (op: ModelOp) => op.f === 'read',
  prune: (ops) => pruneUnobservedWrites(ops, (op) => op.invokeValue),
};
