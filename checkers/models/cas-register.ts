import { canonical, pruneUnobservedWrites, sameValue, show, type Model, type ModelOp } from './model.ts';
import { registerModel, type RegisterState } from './register.ts';

/**
 * Knossos' `cas-register`: `read` returns the value, `write v` sets it, `cas [old new]`
 * sets `new` only if the value is `old`. A cas that found another value is recorded as
 * `fail` and never reaches the model; an `info` cas may have taken effect only if it
 * would have succeeded.
 *
 * One deliberate difference from Knossos: a completed read of nil means the register held
 * nil (Knossos accepts a nil read as "unknown"; here an unknown read is an `info` read).
 */
export const casRegisterModel: Model<RegisterState> = {
  name: 'cas-register',
  fs: ['read', 'write', 'cas'],
  init: (initValue) => ({ value: initValue ?? null }),
  step(state, op) {
    switch (op.f) {
      case 'write':
      case 'read':
        // Plain reads and writes mean exactly what they mean in `register`.
        return registerModel.step(state, op);
      case 'cas': {
        const arg = op.invokeValue;
        if (!Array.isArray(arg) || arg.length !== 2) return null;
        return sameValue(arg[0], state.value) ? { value: arg[1] ?? null } : null;
      }
      default:
        return null;
    }
  },
  hash: (s) => canonical(s.value),
  describe: (s) => show(s.value),
  readOnly: (op: ModelOp) => op.f === 'read',
  prune: (ops) => pruneUnobservedWrites(ops, (op) => (op.f === 'cas' && Array.isArray(op.invokeValue) ? op.invokeValue[1] : op.invokeValue)),
};
