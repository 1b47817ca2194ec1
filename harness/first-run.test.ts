/**
 * The README's first command on a clean clone: no `dist/`, no earlier test run, nothing built
 * by hand. The clone holds the repository's files (tracked and new, as `git ls-files` lists
 * them, so uncommitted work is tested too) and shares this checkout's `node_modules` (what
 * `npm ci` would install). A regression here is what every new user hits first: the
 * prerequisites check once looked for the node bundle before the harness built it (exit 69).
 */
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../docker/images.ts';

function cleanClone(): string {
  const dir = mkdtempSync(join(tmpdir(), 'jepsen-first-run-'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '' && existsSync(join(REPO_ROOT, f)));
  for (const f of files) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    copyFileSync(join(REPO_ROOT, f), join(dir, f));
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    p.on('close', (code) => resolve({ code, output }));
  });
}

let clone: string | null = null;

describe('first run from a clean clone', () => {
  afterAll(() => {
    if (clone !== null) rmSync(clone, { recursive: true, force: true });
  });

  it('`npm run jepsen -- --nemesis partition` builds what it needs, runs and exits 0', async () => {
    clone = cleanClone();
    expect(existsSync(join(clone, 'dist'))).toBe(false);
    expect(existsSync(join(clone, 'results', 'latest'))).toBe(false);
    // Shortened so the suite stays fast; the flags do not touch the set-up path under test.
    const out = await run('npm', ['run', 'jepsen', '--', '--nemesis', 'partition', '--nodes', '3', '--time-limit', '8', '--recovery', '1', '--quiet'], clone, {
      ...process.env,
      // Tests never write into the user's results database.
      JEPSEN_DATABASE_URL: '',
    });
    expect(out.output).not.toMatch(/is missing: run `npm run build:node`/);
    expect(out.code, out.output).toBe(0);
    expect(existsSync(join(clone, 'dist', 'store-node.mjs'))).toBe(true);
    const results = JSON.parse(readFileSync(join(clone, 'results', 'latest', 'results.json'), 'utf8')) as { valid: unknown };
    expect(results.valid).toBe(true);
  });
});
