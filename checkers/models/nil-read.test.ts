import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT_INVALID, EXIT_USAGE, EXIT_VALID, parseInit } from '../cli.ts';
import { checkLinearizability } from '../linearizability/check.ts';
import { readHistoryFile } from '../history/read.ts';
import { casRegisterModel } from './cas-register.ts';
import { kvModel } from './kv.ts';
import type { ModelOp } from './model.ts';
import { withNilReads } from './nil-read.ts';
import { registerModel } from './register.ts';
import { runCheckCli as check } from '../testing/run-check-cli.ts';

const testdata = (name: string): string => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));


const read = (value: unknown): ModelOp => ({ f: 'read', invokeValue: null, value, type: 'ok' });

describe('withNilReads', () => {
  it('wildcard: a completed read of nil fits any state; other reads and ops are the model\'s own', () => {
    const m = withNilReads(casRegisterModel, 'wildcard');
    const s = m.init(7);
    expect(m.step(s, read(null))).toBe(s);
    expect(m.step(s, read(undefined))).toBe(s);
    expect(m.step(s, read(8))).toBeNull();
    expect(m.step(s, { f: 'cas', invokeValue: [7, 9], value: [7, 9], type: 'ok' })).toEqual({ value: 9 });
    expect(m.name).toBe('cas-register (nil reads match any value)');
    expect(withNilReads(registerModel, 'wildcard').step(registerModel.init(3), read(null))).toEqual({ value: 3 });
  });

  it('empty is the model itself: a nil read means the register held nil', () => {
    expect(withNilReads(casRegisterModel, 'empty')).toBe(casRegisterModel);
    expect(casRegisterModel.step(casRegisterModel.init(7), read(null))).toBeNull();
  });

  it('refuses models where Knossos defines no such reading', () => {
    expect(() => withNilReads(kvModel, 'wildcard')).toThrow('--nil-read wildcard applies to the register and cas-register models (Knossos\' reading of a nil read), not to kv');
  });
});

describe('npm run check --nil-read (Knossos memstress-style histories)', () => {
  it('a nil read after a completed write: invalid by default, valid with --nil-read wildcard', async () => {
    const empty = await check(testdata('nil-read-after-write.edn'));
    expect(empty.status).toBe(EXIT_INVALID);
    expect(empty.out).toContain('INVALID (model cas-register,');
    expect(empty.out).toContain('cannot be linearized next: process 1: read -> nil (index 2..3)');
    expect(empty.out).toContain('the model could have been in: 1');
    const wildcard = await check('--nil-read', 'wildcard', testdata('nil-read-after-write.edn'));
    expect(wildcard.status).toBe(EXIT_VALID);
    expect(wildcard.out).toContain('VALID (model cas-register (nil reads match any value), 6 ops');
  });

  it('the wildcard hides unknown values, not wrong ones: a stale read stays invalid', async () => {
    const r = await check('--nil-read', 'wildcard', '--json', testdata('nil-read-stale.edn'));
    expect(r.status).toBe(EXIT_INVALID);
    const json = JSON.parse(r.out) as { valid: boolean; model: string; failure: { op: { process: number; value: unknown } } };
    expect(json).toMatchObject({ valid: false, model: 'cas-register (nil reads match any value)' });
    expect(json.failure.op).toMatchObject({ process: 4, value: 1 });
  });

  it('agrees with the library call, and leaves histories whose nil reads come first alone', async () => {
    const history = readHistoryFile(testdata('nil-read-after-write.edn'));
    expect((await checkLinearizability(history, { model: withNilReads(casRegisterModel, 'wildcard') })).valid).toBe(true);
    expect((await checkLinearizability(history, { model: 'cas-register' })).valid).toBe(false);
    // memstress3-* start with nil reads of the empty register: both readings accept them.
    const dir = mkdtempSync(join(tmpdir(), 'nil-read-'));
    const leading = join(dir, 'leading-nil.edn');
    writeFileSync(leading, '[{:process 12, :type :invoke, :f :read, :value nil}\n {:process 12, :type :ok, :f :read, :value nil}\n {:process 3, :type :invoke, :f :write, :value 4}\n {:process 3, :type :ok, :f :write, :value 4}\n {:process 12, :type :invoke, :f :read, :value nil}\n {:process 12, :type :ok, :f :read, :value 4}]\n');
    expect((await check(leading)).status).toBe(EXIT_VALID);
    expect((await check('--nil-read', 'wildcard', leading)).status).toBe(EXIT_VALID);
  });

  it('exits 64 for a reading it does not know, or a model it does not apply to', async () => {
    const bad = await check('--nil-read', 'any', testdata('nil-read-after-write.edn'));
    expect(bad.status).toBe(EXIT_USAGE);
    expect(bad.err).toContain("argument 'any' is invalid");
    const dir = mkdtempSync(join(tmpdir(), 'nil-read-'));
    const kv = join(dir, 'kv.jsonl');
    writeFileSync(kv, '{"index":0,"time":0,"process":0,"type":"invoke","f":"get","value":null}\n{"index":1,"time":1,"process":0,"type":"ok","f":"get","value":null}\n');
    const r = await check('--nil-read', 'wildcard', '--model', 'kv', kv);
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.err).toContain(`check: ${kv}: --nil-read wildcard applies to the register and cas-register models`);
  });
});

describe('--init with EDN histories', () => {
  it('--init nil is EDN nil (no initial value) for an EDN history; the string "nil" is still expressible', async () => {
    expect((await check('--init', 'nil', testdata('cas-from-nil.edn'))).status).toBe(EXIT_VALID);
    expect((await check(testdata('cas-from-nil.edn'))).status).toBe(EXIT_VALID);
    const asString = await check('--init', '"nil"', testdata('cas-from-nil.edn'));
    expect(asString.status).toBe(EXIT_INVALID);
    expect(asString.out).toContain('from initial state "nil"');
  });

  it('parseInit reads EDN for EDN input and JSON (else the text) for JSON Lines', () => {
    expect(parseInit('nil', 'edn')).toBeNull();
    expect(parseInit(':a', 'edn')).toBe('a');
    expect(parseInit('[1 2]', 'edn')).toEqual([1, 2]);
    expect(parseInit('3', 'edn')).toBe(3);
    expect(parseInit('"x y"', 'edn')).toBe('x y');
    expect(parseInit('two words', 'edn')).toBe('two words');
    expect(parseInit('nil', 'jsonl')).toBe('nil');
    expect(parseInit('null')).toBeNull();
  });
});
