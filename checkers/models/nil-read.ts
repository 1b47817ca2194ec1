import type { Model, ModelOp } from './model.ts';

/**
 * What a completed read that returned nil (`null`) means.
 *
 * - `empty` (this project's reading, the default): the register held nil. Our clients
 *   record a read whose result they did not learn as `info`, so an `ok` read of nil is an
 *   answer: the register was empty.
 * - `wildcard` (Knossos' reading): the read's value is unknown, so it fits any state.
 *   Knossos' own `register` and `cas-register` models accept `(nil? (:value op))` in every
 *   state (knossos.model, `Register` and `CASRegister` step), and histories written by
 *   Jepsen clients of that era (`data/cas-register/good/memstress3-*.edn`) rely on it:
 *   checked with `empty`, a nil read after the first write is a violation that Knossos
 *   would not report.
 */
export type NilRead = 'empty' | 'wildcard';

export const NIL_READ_MODES: readonly NilRead[] = ['empty', 'wildcard'];

/** The models whose reads return the whole value, where Knossos' reading is defined. */
export const NIL_READ_MODELS: readonly string[] = ['register', 'cas-register'];

/**
 * `model` with nil reads read as `mode`. `empty` returns the model itself. `wildcard`
 * returns a model (named "<name> (nil reads match any value)", so every verdict says which
 * reading it used) whose `read` completed with nil keeps whatever state it finds; every
 * other op is the model's own step. Pruning stays sound: a wildcard read observes no value,
 * so it keeps no crashed write alive.
 *
 * The wrapped model is not a built-in one, so the checker searches it in the main thread
 * (worker threads look models up by name); Knossos-sized histories do not need workers.
 */
export function withNilReads<S>(model: Model<S>, mode: NilRead): Model<S> {
  if (mode === 'empty') return model;
  if (!NIL_READ_MODELS.includes(model.name)) {
    throw new Error(`--nil-read wildcard applies to the ${NIL_READ_MODELS.join(' and ')} models (Knossos' reading of a nil read), not to ${model.name}`);
  }
  const matchesAnything = (op: ModelOp): boolean => op.f === 'read' && op.type === 'ok' && (op.value === null || op.value === undefined);
  return {
    ...model,
    name: `${model.name} (nil reads match any value)`,
    step: (state, op) => (matchesAnything(op) ? state : model.step(state, op)),
  };
}
