import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT_INVALID, EXIT_UNKNOWN, EXIT_USAGE, EXIT_VALID } from '../cli.ts';
import { toJsonLines } from '../history/read.ts';
import { generateAppendHistory } from './generate.ts';
import { runCheckCli as run } from '../testing/run-check-cli.ts';

const testdata = (name: string): string => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));


describe('npm run check -- --model list-append', () => {
  it('exits 1 for the Elle paper history and shows the cycle', async () => {
    const r = await run('--model', 'list-append', testdata('elle-paper-g-single.edn'));
    expect(r.status).toBe(EXIT_INVALID);
    expect(r.out).toContain('elle-paper-g-single.edn: INVALID (list-append, strict-serializable, 4 txns, 19 micro-ops, 4 key(s)');
    expect(r.out).toContain('  G-single (1):');
    expect(r.out).toMatch(/ {6}T\d = index 7 \(process 3, ok\): \[append 250 10, r 253 \[1, 3, 4\], r 255 \[2, 3, 4, 5\], append 256 3\]/);
    expect(r.out).toContain(': a contradiction');
  });

  it('exits 0 for a valid history, and picks list-append by itself for f "txn"', async () => {
    const r = await run(testdata('valid-vector.edn'));
    expect(r.status).toBe(EXIT_VALID);
    expect(r.out).toContain('valid-vector.edn: VALID (list-append, strict-serializable, 4 txns');
  });

  it('--consistency serializable allows what only real time forbids', async () => {
    expect((await run('--model', 'list-append', testdata('lost-append.jsonl'))).status).toBe(EXIT_INVALID);
    const r = await run('--model', 'list-append', '--consistency', 'serializable', '--json', testdata('lost-append.jsonl'));
    expect(r.status).toBe(EXIT_VALID);
    expect(JSON.parse(r.out)).toMatchObject({ valid: true, model: 'list-append', consistency: 'serializable', anomalyTypes: ['lost-append'], forbiddenTypes: [] });
    expect((await run('--model', 'list-append', '--consistency', 'snapshot', testdata('lost-append.jsonl'))).status).toBe(EXIT_USAGE);
  });

  it('--json lists the anomalies with their operations, --html writes the cycle picture', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-append-'));
    const html = join(dir, 'why.html');
    const r = await run('--model', 'list-append', '--json', '--html', html, testdata('elle-paper-g-single.edn'));
    expect(r.status).toBe(EXIT_INVALID);
    const j = JSON.parse(r.out) as { forbiddenTypes: string[]; anomalies: Record<string, { txns: { index: number }[]; steps: { kind: string }[] }[]>; html: string };
    expect(j.forbiddenTypes).toEqual(['G-single']);
    expect(j.anomalies['G-single']![0]!.txns.map((t) => t.index).sort()).toEqual([3, 5, 7]);
    expect(j.html).toBe(html);
    expect(readFileSync(html, 'utf8')).toContain('<svg');
  });

  it('exits 2 when the budget runs out, 64 on a history that is not list-append', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-append-'));
    const big = join(dir, 'big.jsonl');
    writeFileSync(big, toJsonLines(generateAppendHistory({ txns: 20_000, processes: 10, activeKeys: 10, seed: 1 })));
    const r = await run('--model', 'list-append', '--budget-s', '0.001', big);
    expect(r.status).toBe(EXIT_UNKNOWN);
    expect(r.out).toMatch(/UNKNOWN .*\n {2}unknown: the time budget \(1 ms\) ran out while/);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, JSON.stringify({ index: 0, time: 0, process: 0, type: 'invoke', f: 'txn', value: [['w', 'x', 1]] }) + '\n');
    const b = await run('--model', 'list-append', bad);
    expect(b.status).toBe(EXIT_USAGE);
    expect(b.err).toContain('bad.jsonl: op index 0: micro-op 0 ["w","x",1] is neither "append" nor "r"');
  });

  it('sets the process exit status when run as a command', () => {
    const cli = fileURLToPath(new URL('../cli.ts', import.meta.url));
    const tsx = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
    const r = spawnSync(tsx, [cli, '--model', 'list-append', testdata('elle-paper-g-single.edn')], { encoding: 'utf8' });
    expect(r.status).toBe(EXIT_INVALID);
    expect(r.stdout).toContain('INVALID (list-append');
    const ok = spawnSync(tsx, [cli, '--model', 'list-append', testdata('valid-vector.edn')], { encoding: 'utf8' });
    expect(ok.status).toBe(EXIT_VALID);
  }, 60_000);
});
