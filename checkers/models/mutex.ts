import { type Model, type ModelOp } from './model.ts';

/** A lock (Knossos `mutex`): `acquire` needs it free, `release` needs it held. Initially free (`--init true` = held). */
export const mutexModel: Model<boolean> = {
  name: 'mutex',
  fs: ['acquire', 'release'],
  init: (initValue) => initValue === true,
  step(locked, op) {
    switch (op.f) {
      case 'acquire':
        return locked ? null : true;
      case 'release':
        return locked ? false : null;
      default:
        return null;
    }
  },
  hash: (s) => (s ? '1' : '0'),
  describe: (s) => (s ? 'held' : 'free'),
  readOnly: (_op: ModelOp) => false,
};
