import { describe, expect, it } from 'vitest';
import { parseEdnHistory } from '../history/read.ts';
import { HistoryBuilder } from '../testing/history-builder.ts';
import { historyOf } from '../testing/intervals.ts';
import { checkLinearizability } from './check.ts';

/**
 * Small histories from the linearizability literature and from other checkers' test
 * suites, written out by hand, each with the verdict its source gives.
 */

describe('Porcupine (github.com/anishathalye/porcupine, porcupine_test.go)', () => {
  // TestRegisterModel, "examples taken from MIT 6.824 2017 quiz 2, section VII". Initial value 0.
  it('TestRegisterModel: put(100) with concurrent get()->100 and get()->0 is linearizable', async () => {
    const h = historyOf([
      { process: 0, f: 'write', input: 100, call: 0, ret: 100 },
      { process: 1, f: 'read', output: 100, call: 25, ret: 75 },
      { process: 2, f: 'read', output: 0, call: 30, ret: 60 },
    ]);
    expect((await checkLinearizability(h, { model: 'register', init: 0 })).valid).toBe(true);
  });

  it('TestRegisterModel: get()->200 returning before get()->0 starts, both inside put(200), is not', async () => {
    const h = historyOf([
      { process: 0, f: 'write', input: 200, call: 0, ret: 100 },
      { process: 1, f: 'read', output: 200, call: 10, ret: 30 },
      { process: 2, f: 'read', output: 0, call: 40, ret: 90 },
    ]);
    const r = await checkLinearizability(h, { model: 'register', init: 0 });
    expect(r.valid).toBe(false);
    expect(r.failure?.op).toMatchObject({ process: 2, f: 'read', value: 0 });
  });

  it('TestZeroDuration: zero-length reads at the same instant are concurrent (Ok)', async () => {
    const h = historyOf([
      { process: 0, f: 'write', input: 100, call: 0, ret: 100 },
      { process: 1, f: 'read', output: 100, call: 25, ret: 75 },
      { process: 2, f: 'read', output: 0, call: 30, ret: 30 },
      { process: 3, f: 'read', output: 0, call: 30, ret: 30 },
    ]);
    expect((await checkLinearizability(h, { model: 'register', init: 0 })).valid).toBe(true);
  });

  it('TestZeroDuration: zero-length reads of 200 at 10, then a read of 0 from 40 (Illegal)', async () => {
    const h = historyOf([
      { process: 0, f: 'write', input: 200, call: 0, ret: 100 },
      { process: 1, f: 'read', output: 200, call: 10, ret: 10 },
      { process: 2, f: 'read', output: 200, call: 10, ret: 10 },
      { process: 3, f: 'read', output: 0, call: 40, ret: 90 },
    ]);
    expect((await checkLinearizability(h, { model: 'register', init: 0 })).valid).toBe(false);
  });
});

describe('Knossos (github.com/jepsen-io/knossos, test/knossos/wgl_test.clj)', () => {
  it('crash-test: a write that crashed (info) is valid', async () => {
    const h = new HistoryBuilder().invoke(0, 'write', 1).info(0).ops;
    expect((await checkLinearizability(h, { model: 'register', init: 0 })).valid).toBe(true);
  });

  it('sequential-test: reading the initial value is valid', async () => {
    const h = new HistoryBuilder().invoke(0, 'read', 0).ok(0, 0).ops;
    expect((await checkLinearizability(h, { model: 'register', init: 0 })).valid).toBe(true);
  });

  it('read-wrong-initial-value-test: reading 1 from register 0 is invalid, at that read, with no prefix', async () => {
    const h = new HistoryBuilder().invoke(0, 'read', 1).ok(0, 1).ops;
    const r = await checkLinearizability(h, { model: 'register', init: 0 });
    expect(r.valid).toBe(false);
    expect(r.failure?.op.completeIndex).toBe(1);
    expect(r.failure?.prefix).toEqual([]);
    expect(r.failure?.states).toEqual(['0']);
  });

  it('preserves-indices-test: write 1 then read 2 fails at index 100; the last ok before it is index 7', async () => {
    const h = [
      { process: 0, type: 'invoke', f: 'write', value: 1, index: 5, time: 5 },
      { process: 0, type: 'ok', f: 'write', value: 1, index: 7, time: 7 },
      { process: 0, type: 'invoke', f: 'read', value: 2, index: 99, time: 99 },
      { process: 0, type: 'ok', f: 'read', value: 2, index: 100, time: 100 },
    ] as const;
    const r = await checkLinearizability(h, { model: 'register', init: 0 });
    expect(r.valid).toBe(false);
    expect(r.failure?.op.completeIndex).toBe(100);
    expect(r.failure?.prefix.at(-1)?.op.completeIndex).toBe(7);
  });

  it('rethink-fail-minimal (data/cas-register/bad/rethink-fail-minimal.edn): read 3 concurrent with write 4 after 0 is invalid at that read', async () => {
    // The op maps are Knossos' data file; the comments are its own.
    const edn = `({:type :invoke, :f :write, :value 0, :process 0}
 {:type :ok, :f :write, :value 0, :process 0}
 ; Value is 0, then we concurrently write 4, read 3.
 {:type :invoke, :f :read, :value nil, :process 1}
 {:type :invoke, :f :write, :value 4, :process 2}
 ; Nonlinearizable! Could have been 0 or 4 but not 3
 {:type :ok, :f :read, :value 3, :process 1}
 {:type :ok, :f :write, :value 4, :process 2}
 {:type :invoke, :f :read, :value nil, :process 3}
 {:type :ok, :f :read, :value 4, :process 3}
)`;
    const r = await checkLinearizability(parseEdnHistory(edn, 'rethink-fail-minimal.edn'), { model: 'cas-register', init: null });
    expect(r.valid).toBe(false);
    expect(r.failure?.op).toMatchObject({ process: 1, f: 'read', value: 3, completeIndex: 4 });
    // Knossos' final paths: the register could hold 0 (nothing else yet) or 4 (write linearized first).
    expect([...(r.failure?.states ?? [])].sort()).toEqual(['0', '4']);
  });
});

describe('Herlihy & Wing 1990 and Lamport 1986, adapted from queues to registers', () => {
  // H&W's Figure 1 contrasts overlapping and sequential enqueues; with a register the same
  // shapes decide which write a later read may see. Verdicts follow from the definition.
  it('overlapping writes may take effect in either order: a later read of the first is linearizable', async () => {
    const h = historyOf([
      { process: 0, f: 'write', input: 'x', call: 0, ret: 10 },
      { process: 1, f: 'write', input: 'y', call: 5, ret: 15 },
      { process: 2, f: 'read', output: 'x', call: 20, ret: 25 },
    ]);
    expect((await checkLinearizability(h, { model: 'register' })).valid).toBe(true);
  });

  it('sequential writes take effect in real-time order: a later read of the first is not linearizable', async () => {
    const h = historyOf([
      { process: 0, f: 'write', input: 'x', call: 0, ret: 10 },
      { process: 1, f: 'write', input: 'y', call: 11, ret: 20 },
      { process: 2, f: 'read', output: 'x', call: 21, ret: 25 },
    ]);
    expect((await checkLinearizability(h, { model: 'register' })).valid).toBe(false);
  });

  it('Lamport\'s new-old inversion: two sequential reads inside one write see new then old; a regular register allows it, an atomic (linearizable) one does not', async () => {
    const h = historyOf([
      { process: 0, f: 'write', input: 1, call: 0, ret: 100 },
      { process: 1, f: 'read', output: 1, call: 10, ret: 20 },
      { process: 1, f: 'read', output: 0, call: 30, ret: 40 },
    ]);
    expect((await checkLinearizability(h, { model: 'register', init: 0 })).valid).toBe(false);
    const inOrder = historyOf([
      { process: 0, f: 'write', input: 1, call: 0, ret: 100 },
      { process: 1, f: 'read', output: 0, call: 10, ret: 20 },
      { process: 1, f: 'read', output: 1, call: 30, ret: 40 },
    ]);
    expect((await checkLinearizability(inOrder, { model: 'register', init: 0 })).valid).toBe(true);
  });

  it('a mutex cannot be held by two processes at once (Knossos mutex model)', async () => {
    const h = historyOf([
      { process: 0, f: 'acquire', call: 0, ret: 10 },
      { process: 1, f: 'acquire', call: 20, ret: 30 },
    ]);
    const r = await checkLinearizability(h, { model: 'mutex' });
    expect(r.valid).toBe(false);
    expect(r.failure?.states).toEqual(['held']);
    const crashed = historyOf([
      { process: 0, f: 'release', type: 'info', call: 0 },
      { process: 1, f: 'acquire', call: 0, ret: 5 },
      { process: 2, f: 'acquire', call: 20, ret: 30 },
    ]);
    // The crashed release may take effect between the two acquires... only if the lock was held then.
    expect((await checkLinearizability(crashed, { model: 'mutex' })).valid).toBe(true);
  });
});
