import { canonical, sameValue, show, type Model, type ModelOp } from './model.ts';

/** One key of the config store: a value with its version; version 0 means absent (impl/API.md). */
export interface VersionedState {
  readonly version: number;
  readonly value: unknown;
}

const ABSENT: VersionedState = { version: 0, value: null };

/**
 * The store's versioned key/value semantics, per key (impl/API.md):
 * - `read` -> ok `{"version", "value"}`, or `null` when absent
 * - `create {"value"}` -> ok `{"version": 1}`; only when absent
 * - `put {"value", "expectedVersion"?}` -> ok `{"version": n}`: version + 1 (1 when absent);
 *   `expectedVersion: 0` means "must not exist", n > 0 means "must be at version n"
 * - `delete {"expectedVersion"?}` -> ok; only when present; the key becomes absent and a
 *   later create starts again at version 1
 * A version conflict is recorded as `fail` and never reaches the model.
 * `--init` gives the initial value (at version 1); by default the key is absent.
 */
export const versionedKvModel: Model<VersionedState> = {
  name: 'versioned-kv',
  fs: ['read', 'put', 'create', 'delete'],
  init: (initValue) => (initValue === undefined || initValue === null ? ABSENT : { version: 1, value: initValue }),
  step(state, op) {
    switch (op.f) {
      case 'read': {
        if (op.type === 'info') return state;
        const out = op.value;
        if (out === null || out === undefined) return state.version === 0 ? state : null;
        if (state.version === 0 || typeof out !== 'object') return null;
        const o = out as { version?: unknown; value?: unknown };
        return o.version === state.version && sameValue(o.value, state.value) ? state : null;
      }
      case 'create': {
        if (state.version !== 0) return null;
        if (!versionMatches(op, 1)) return null;
        return { version: 1, value: argField(op, 'value') ?? null };
      }
      case 'put': {
        const expected = argField(op, 'expectedVersion');
        if (expected !== undefined && expected !== null) {
          if (state.version !== expected) return null;
        }
        const version = state.version + 1;
        if (!versionMatches(op, version)) return null;
        return { version, value: argField(op, 'value') ?? null };
      }
      case 'delete': {
        if (state.version === 0) return null;
        const expected = argField(op, 'expectedVersion');
        if (expected !== undefined && expected !== null && expected !== state.version) return null;
        return ABSENT;
      }
      default:
        return null;
    }
  },
  hash: (s) => (s.version === 0 ? '-' : `${s.version}:${canonical(s.value)}`),
  describe: (s) => (s.version === 0 ? 'absent' : `v${s.version}=${show(s.value)}`),
  readOnly: (op: ModelOp) => op.f === 'read',
};

function argField(op: ModelOp, name: string): unknown {
  const a = op.invokeValue;
  return a !== null && typeof a === 'object' && !Array.isArray(a) ? (a as Record<string, unknown>)[name] : undefined;
}

/** An ok completion that reports a version must report the one the model predicts. */
function versionMatches(op: ModelOp, version: number): boolean {
  if (op.type !== 'ok') return true;
  const out = op.value;
  if (out === null || typeof out !== 'object') return true;
  const v = (out as { version?: unknown }).version;
  return v === undefined || v === version;
}
