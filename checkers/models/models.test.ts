import { describe, expect, it } from 'vitest';
import { casRegisterModel } from './cas-register.ts';
import { kvModel } from './kv.ts';
import type { ModelOp } from './model.ts';
import { mutexModel } from './mutex.ts';
import { registerModel } from './register.ts';
import { versionedKvModel } from './versioned-kv.ts';

const ok = (f: string, invokeValue: unknown, value: unknown = invokeValue): ModelOp => ({ f, invokeValue, value, type: 'ok' });
const info = (f: string, invokeValue: unknown): ModelOp => ({ f, invokeValue, value: undefined, type: 'info' });

describe('register', () => {
  it('reads the last write; a read of another value is not allowed', () => {
    const s1 = registerModel.step(registerModel.init(0), ok('write', 5));
    expect(s1).toEqual({ value: 5 });
    expect(registerModel.step(s1!, ok('read', null, 5))).toBe(s1);
    expect(registerModel.step(s1!, ok('read', null, 0))).toBeNull();
  });
  it('starts at nil unless --init, and distinguishes nil from "not allowed"', () => {
    const s0 = registerModel.init();
    expect(registerModel.step(s0, ok('read', null, null))).toEqual({ value: null });
    expect(registerModel.describe(registerModel.init(3))).toBe('3');
  });
});

describe('cas-register (Knossos semantics)', () => {
  const s = casRegisterModel.init(1);
  it('cas [old new] succeeds only from old', () => {
    expect(casRegisterModel.step(s, ok('cas', [1, 2]))).toEqual({ value: 2 });
    expect(casRegisterModel.step(s, ok('cas', [3, 2]))).toBeNull();
  });
  it('an info cas may take effect only if it would have succeeded', () => {
    expect(casRegisterModel.step(s, info('cas', [1, 9]))).toEqual({ value: 9 });
    expect(casRegisterModel.step(s, info('cas', [2, 9]))).toBeNull();
  });
  it('reads are read-only; writes and cas are not', () => {
    expect(casRegisterModel.readOnly(ok('read', null, 1))).toBe(true);
    expect(casRegisterModel.readOnly(ok('cas', [1, 2]))).toBe(false);
  });
  it('prunes info writes nobody observed, keeps observed ones', () => {
    const ops = [
      { ...info('write', 7), invokeIndex: 0, completeIndex: null },
      { ...info('write', 8), invokeIndex: 1, completeIndex: null },
      { ...info('cas', [8, 9]), invokeIndex: 2, completeIndex: null },
      { ...ok('read', null, 9), invokeIndex: 3, completeIndex: 4 },
    ];
    // 7 is never read nor expected: dropped. 8 is expected by the cas, 9 is read: kept.
    expect(casRegisterModel.prune!(ops).map((o) => o.invokeValue)).toEqual([8, [8, 9], null]);
  });
});

describe('kv', () => {
  it('get/put/append on strings, initial ""', () => {
    let s = kvModel.init();
    expect(kvModel.step(s, ok('get', null, ''))).toBe('');
    s = kvModel.step(s, ok('put', 'a'))!;
    s = kvModel.step(s, ok('append', 'b'))!;
    expect(s).toBe('ab');
    expect(kvModel.step(s, ok('get', null, 'a'))).toBeNull();
    expect(kvModel.init('x')).toBe('x');
  });
  it('prunes crashed puts and appends no get could have shown', () => {
    const at = (op: ModelOp, i: number) => ({ ...op, invokeIndex: i, completeIndex: op.type === 'ok' ? i + 1 : null });
    const ops = [
      at(info('append', 'a1'), 0), // seen by the get of "xa1"
      at(info('put', 'p2'), 2), // every get starting with p2 saw it
      at(info('append', 'a3'), 4),
      at(info('append', 'a4'), 6), // never seen: dropped
      at(info('put', 'p5'), 8), // never seen: dropped
      at(ok('get', null, 'p2a3'), 10),
      at(ok('get', null, 'xa1'), 12),
    ];
    expect(kvModel.prune!(ops).map((o) => o.invokeValue)).toEqual(['a1', 'p2', 'a3', null, null]);
  });
});

describe('versioned-kv (impl/API.md)', () => {
  const m = versionedKvModel;
  const absent = m.init();
  it('create starts at version 1, only when absent', () => {
    const s = m.step(absent, ok('create', { value: 'a' }, { version: 1 }));
    expect(s).toEqual({ version: 1, value: 'a' });
    expect(m.step(s!, ok('create', { value: 'b' }, { version: 1 }))).toBeNull();
  });
  it('put bumps the version and honours expectedVersion (0 = must not exist)', () => {
    const s1 = m.step(absent, ok('put', { value: 'a', expectedVersion: 0 }, { version: 1 }))!;
    expect(m.step(s1, ok('put', { value: 'b', expectedVersion: 0 }, { version: 2 }))).toBeNull();
    const s2 = m.step(s1, ok('put', { value: 'b', expectedVersion: 1 }, { version: 2 }));
    expect(s2).toEqual({ version: 2, value: 'b' });
    expect(m.step(s1, ok('put', { value: 'b', expectedVersion: 2 }, { version: 3 }))).toBeNull();
    // An ok completion must report the version the model predicts.
    expect(m.step(s1, ok('put', { value: 'b' }, { version: 5 }))).toBeNull();
  });
  it('reads return {version, value} or null when absent', () => {
    const s = m.step(absent, ok('create', { value: 'a' }, { version: 1 }))!;
    expect(m.step(s, ok('read', null, { version: 1, value: 'a' }))).toBe(s);
    expect(m.step(s, ok('read', null, { version: 2, value: 'a' }))).toBeNull();
    expect(m.step(s, ok('read', null, null))).toBeNull();
    expect(m.step(absent, ok('read', null, null))).toBe(absent);
  });
  it('delete makes the key absent and a later create starts again at 1', () => {
    const s = m.step(m.step(absent, ok('create', { value: 'a' }, { version: 1 }))!, ok('put', { value: 'b' }, { version: 2 }))!;
    expect(m.step(s, ok('delete', { expectedVersion: 1 }, null))).toBeNull();
    const gone = m.step(s, ok('delete', { expectedVersion: 2 }, null))!;
    expect(m.describe(gone)).toBe('absent');
    expect(m.step(gone, ok('delete', {}, null))).toBeNull();
    expect(m.step(gone, ok('create', { value: 'c' }, { version: 1 }))).toEqual({ version: 1, value: 'c' });
  });
  it('an info put may take effect with whatever version it would have got', () => {
    const s = m.step(absent, info('put', { value: 'z' }));
    expect(s).toEqual({ version: 1, value: 'z' });
  });
});

describe('mutex', () => {
  it('acquire needs it free, release needs it held', () => {
    const free = mutexModel.init();
    const held = mutexModel.step(free, ok('acquire', null))!;
    expect(held).toBe(true);
    expect(mutexModel.step(held, ok('acquire', null))).toBeNull();
    expect(mutexModel.step(free, ok('release', null))).toBeNull();
    expect(mutexModel.step(held, ok('release', null))).toBe(false);
  });
});
