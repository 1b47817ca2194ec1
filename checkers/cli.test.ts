import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { toJsonLines } from './history/read.ts';
import { detectModel, EXIT_INVALID, EXIT_UNKNOWN, EXIT_USAGE, EXIT_VALID, parseInit } from './cli.ts';
import { generateHistory } from './testing/generate.ts';
import { runCheckCli as run } from './testing/run-check-cli.ts';

const testdata = (name: string): string => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));


describe('npm run check', () => {
  it('exits 0 for a valid history and says why', async () => {
    const r = await run(testdata('register-vector.edn'));
    expect(r.status).toBe(EXIT_VALID);
    expect(r.out).toMatch(/register-vector\.edn: VALID \(model cas-register, 5 ops, 1 key\(s\)/);
    expect(r.out).toMatch(/linearizable: 5 ops over 1 key\(s\) fit the cas-register model/);
  });

  it('exits 1 for an invalid history and explains it', async () => {
    const r = await run(testdata('stale-read.jsonl'));
    expect(r.status).toBe(EXIT_INVALID);
    expect(r.out).toContain('INVALID (model register');
    expect(r.out).toContain('cannot be linearized next: process 2: read -> 1 (index 4..5)');
    expect(r.out).toContain('the model could have been in: 2');
  });

  it('exits 2 when the budget runs out, and prints one JSON object per file with --json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-test-'));
    const file = join(dir, 'h.jsonl');
    writeFileSync(file, toJsonLines(generateHistory({ model: 'cas-register', ops: 300, keys: 3, processes: 4, infoRate: 0.05, seed: 5 })));
    const r = await run('--json', '--init', '0', '--max-states', '3', file, testdata('register-vector.edn'));
    expect(r.status).toBe(EXIT_UNKNOWN);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ file, valid: 'unknown', model: 'cas-register', ops: 300, keys: 3 });
    expect(typeof lines[0]?.['ms']).toBe('number');
    expect(lines[1]).toMatchObject({ file: testdata('register-vector.edn'), valid: true });
  });

  it('invalid wins over unknown, input errors win over both', async () => {
    expect((await run(testdata('stale-read.jsonl'), testdata('register-vector.edn'))).status).toBe(EXIT_INVALID);
    const r = await run(testdata('stale-read.jsonl'), testdata('bad-line.jsonl'));
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.err).toMatch(/bad-line\.jsonl:3: bad JSON/);
  });

  it('exits 64 naming file and line for a malformed history, and for a missing file', async () => {
    const r = await run('--json', testdata('bad-line.jsonl'));
    expect(r.status).toBe(EXIT_USAGE);
    expect(JSON.parse(r.out)).toMatchObject({ file: testdata('bad-line.jsonl'), valid: null, line: 3 });
    const missing = await run('no/such/history.jsonl');
    expect(missing.status).toBe(EXIT_USAGE);
    expect(missing.err).toContain('check: no/such/history.jsonl: cannot read file: ENOENT');
  });

  it('exits 64 on usage errors', async () => {
    expect((await run()).status).toBe(EXIT_USAGE);
    expect((await run('--model', 'queue', testdata('stale-read.jsonl'))).status).toBe(EXIT_USAGE);
    const r = await run('--budget-s', 'soon', testdata('stale-read.jsonl'));
    expect(r.status).toBe(EXIT_USAGE);
    expect(r.err).toContain('--budget-s must be a positive number, got "soon"');
    const wrongModel = await run('--model', 'mutex', testdata('stale-read.jsonl'));
    expect(wrongModel.status).toBe(EXIT_USAGE);
    expect(wrongModel.err).toMatch(/stale-read\.jsonl: op index 0: model mutex does not know f "write"/);
  });

  it('splits Jepsen independent keys with --independent and writes --html', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-test-'));
    const html = join(dir, 'out.html');
    const r = await run('--independent', '--all', '--html', html, testdata('independent.edn'));
    expect(r.status).toBe(EXIT_INVALID);
    expect(r.out).toContain('key 1: process 1: read -> 1');
    expect(readFileSync(html, 'utf8')).toContain('<svg');
  });

  it('picks the model from the functions a history uses, and reads --init as JSON or text', () => {
    const op = (f: string) => ({ index: 0, time: 0, process: 0, type: 'invoke' as const, f, value: null });
    expect(detectModel([op('read'), op('write')])).toBe('register');
    expect(detectModel([op('cas')])).toBe('cas-register');
    expect(detectModel([op('put'), op('read')])).toBe('versioned-kv');
    expect(detectModel([op('append')])).toBe('kv');
    expect(detectModel([op('acquire')])).toBe('mutex');
    expect(detectModel([op('enqueue')])).toBeNull();
    expect(parseInit('3')).toBe(3);
    expect(parseInit('abc')).toBe('abc');
    expect(parseInit('null')).toBeNull();
  });

  it('sets the process exit status when run as a command', () => {
    const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
    const r = spawnSync(tsx, [cli, testdata('stale-read.jsonl')], { encoding: 'utf8' });
    expect(r.status).toBe(EXIT_INVALID);
    expect(r.stdout).toContain('INVALID');
  }, 60_000);
});
