import type { Op, OpType } from '../history/types.ts';

export type GeneratedModel = 'register' | 'cas-register' | 'kv' | 'versioned-kv' | 'mutex';

export interface GenerateOptions {
  readonly model: GeneratedModel;
  /** Client operations (invocations) to generate. */
  readonly ops: number;
  readonly keys: number;
  /** Concurrent client processes. */
  readonly processes: number;
  /** Fraction of operations that end `info` (crashed: may or may not have taken effect). */
  readonly infoRate: number;
  readonly seed: number;
}

/** mulberry32: a small seeded PRNG, so generated histories are reproducible from their seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type State = { value: unknown; version: number };

interface Pending {
  readonly f: string;
  readonly key: number;
  readonly arg: unknown;
}

/**
 * Generates a history that is linearizable by construction: a sequential execution of
 * the model (the "truth") where each operation takes effect at one instant between its
 * invocation and its completion, with random interleaving of processes. Some operations
 * crash (`info`): either after taking effect, or before — and then they may still take
 * effect later, even after the history ends, as Jepsen allows. A process that crashed
 * never invokes again; a fresh process id takes its place (Jepsen's `process + concurrency`).
 * Written values are unique, as in Jepsen's register workloads, so mutations of the
 * history (tests) have predictable consequences.
 */
export function generateHistory(opts: GenerateOptions): Op[] {
  const rnd = prng(opts.seed);
  const P = opts.processes;
  const truth: State[] = [];
  for (let k = 0; k < opts.keys; k++) truth.push(initialState(opts.model));
  const out: Op[] = [];
  let nextValue = 1;
  let invoked = 0;
  let inFlight = 0;
  type Slot = { pid: number; phase: 'idle' | 'invoked' | 'applied'; op: Pending | null; result: { type: OpType; value: unknown } | null };
  const slots: Slot[] = [];
  for (let p = 0; p < P; p++) slots.push({ pid: p, phase: 'idle', op: null, result: null });
  const ghosts: Pending[] = [];
  const emit = (process: number, type: OpType, f: string, key: number, value: unknown): void => {
    const index = out.length;
    out.push({ index, time: index * 1000, process, type, f, key, value });
  };

  while (invoked < opts.ops || inFlight > 0) {
    // Crashed operations that have not taken effect may still do so, now or never.
    if (ghosts.length > 0 && rnd() < 0.05) {
      const g = ghosts.splice(Math.floor(rnd() * ghosts.length), 1)[0] as Pending;
      apply(opts.model, truth[g.key] as State, g);
    }
    const s = slots[Math.floor(rnd() * P)] as Slot;
    switch (s.phase) {
      case 'idle': {
        if (invoked >= opts.ops) break;
        const key = Math.floor(rnd() * opts.keys);
        const op: Pending = { ...chooseOp(opts.model, truth[key] as State, rnd, () => nextValue++), key };
        s.op = op;
        s.phase = 'invoked';
        invoked++;
        inFlight++;
        emit(s.pid, 'invoke', op.f, key, op.arg);
        break;
      }
      case 'invoked': {
        const op = s.op as Pending;
        if (rnd() < opts.infoRate / 2) {
          // Crash before taking effect; it may take effect later.
          if (rnd() < 0.5) ghosts.push(op);
          emit(s.pid, 'info', op.f, op.key, op.arg);
          s.pid += P;
          s.phase = 'idle';
          inFlight--;
          break;
        }
        s.result = apply(opts.model, truth[op.key] as State, op);
        s.phase = 'applied';
        break;
      }
      case 'applied': {
        const op = s.op as Pending;
        const res = s.result as { type: OpType; value: unknown };
        if (res.type === 'ok' && rnd() < opts.infoRate / 2) {
          emit(s.pid, 'info', op.f, op.key, op.arg);
          s.pid += P;
        } else {
          emit(s.pid, res.type, op.f, op.key, res.value);
        }
        s.phase = 'idle';
        inFlight--;
        break;
      }
    }
  }
  return out;
}

function initialState(model: GeneratedModel): State {
  switch (model) {
    case 'register':
    case 'cas-register':
      return { value: 0, version: 0 };
    case 'kv':
      return { value: '', version: 0 };
    case 'versioned-kv':
      return { value: null, version: 0 };
    case 'mutex':
      return { value: false, version: 0 };
  }
}

/** The initial value `--init` must be given for generated histories of `model` (undefined: the model's default). */
export function generatedInit(model: GeneratedModel): unknown {
  return model === 'register' || model === 'cas-register' ? 0 : undefined;
}

function chooseOp(model: GeneratedModel, st: State, rnd: () => number, fresh: () => number): { f: string; arg: unknown } {
  const r = rnd();
  switch (model) {
      case 'register':
        return r < 0.5 ? { f: 'read', arg: null } : { f: 'write', arg: fresh() };
      case 'cas-register':
        if (r < 0.4) return { f: 'read', arg: null };
        if (r < 0.7) return { f: 'write', arg: fresh() };
        return { f: 'cas', arg: [rnd() < 0.7 ? st.value : Math.floor(rnd() * 5), fresh()] };
      case 'kv':
        if (r < 0.4) return { f: 'get', arg: null };
        if (r < 0.6) return { f: 'put', arg: `p${fresh()}` };
        return { f: 'append', arg: `a${fresh()}` };
      case 'versioned-kv':
        if (r < 0.4) return { f: 'read', arg: null };
        if (r < 0.7) return { f: 'put', arg: rnd() < 0.5 ? { value: fresh(), expectedVersion: st.version } : { value: fresh() } };
        if (r < 0.85) return { f: 'create', arg: { value: fresh() } };
        return { f: 'delete', arg: rnd() < 0.5 ? { expectedVersion: st.version } : {} };
      case 'mutex':
        return r < 0.5 ? { f: 'acquire', arg: null } : { f: 'release', arg: null };
  }
}

/** Applies op to the truth in place; returns how it completes. */
function apply(model: GeneratedModel, st: State, op: Pending): { type: OpType; value: unknown } {
  switch (op.f) {
    case 'read':
      if (model === 'versioned-kv') return { type: 'ok', value: st.version === 0 ? null : { version: st.version, value: st.value } };
      return { type: 'ok', value: st.value };
    case 'get':
      return { type: 'ok', value: st.value };
    case 'write':
      st.value = op.arg;
      return { type: 'ok', value: op.arg };
    case 'cas': {
      const [oldV, newV] = op.arg as [unknown, unknown];
      if (st.value !== oldV) return { type: 'fail', value: op.arg };
      st.value = newV;
      return { type: 'ok', value: op.arg };
    }
    case 'put': {
      if (model === 'kv') {
        st.value = op.arg;
        return { type: 'ok', value: op.arg };
      }
      const a = op.arg as { value: unknown; expectedVersion?: number };
      if (a.expectedVersion !== undefined && a.expectedVersion !== st.version) return { type: 'fail', value: null };
      st.version++;
      st.value = a.value;
      return { type: 'ok', value: { version: st.version } };
    }
    case 'append':
      st.value = (st.value as string) + (op.arg as string);
      return { type: 'ok', value: op.arg };
    case 'create': {
      if (st.version !== 0) return { type: 'fail', value: null };
      st.version = 1;
      st.value = (op.arg as { value: unknown }).value;
      return { type: 'ok', value: { version: 1 } };
    }
    case 'delete': {
      const a = op.arg as { expectedVersion?: number };
      if (st.version === 0 || (a.expectedVersion !== undefined && a.expectedVersion !== st.version)) return { type: 'fail', value: null };
      st.version = 0;
      st.value = null;
      return { type: 'ok', value: null };
    }
    case 'acquire':
      if (st.value === true) return { type: 'fail', value: null };
      st.value = true;
      return { type: 'ok', value: null };
    case 'release':
      if (st.value !== true) return { type: 'fail', value: null };
      st.value = false;
      return { type: 'ok', value: null };
    default:
      throw new Error(`generator: unknown f ${op.f}`);
  }
}
