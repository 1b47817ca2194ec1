/**
 * scripts/build-etcd.sh's contract, short of a full build (a minute of CPU; the release tests
 * in version.test.ts check the binaries it built): exit 64 for a bad version or arguments,
 * 69 naming the version and Go's error for a release the module proxy does not have, and an
 * already-built release answered at once with its path on the last line.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = join(import.meta.dirname, '../../../scripts/build-etcd.sh');
const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'jepsen-ts', 'etcd');
// Plain releases only: a failpoints build sits in `vX.Y.Z-failpoints`, which is not a version to ask for.
const built = (existsSync(cache) ? readdirSync(cache) : []).filter((v) => /^v\d+\.\d+\.\d+$/.test(v) && existsSync(join(cache, v, 'etcd')));
const haveGo = ['/usr/local/go/bin/go', '/usr/lib/go/bin/go', '/usr/bin/go'].some((p) => existsSync(p));

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('bash', [SCRIPT, ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

describe('scripts/build-etcd.sh', () => {
  const out = mkdtempSync(join(tmpdir(), 'jepsen-build-etcd-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it.each([['3.5.17'], ['v3.5'], ['v2.3.8'], ['latest'], ['v3.5.17/../x']])('exit 64 for the version %j', async (version) => {
    const r = await run([version, '--out', out]);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(`"${version}" is not an etcd v3 release version`);
  });

  it('exit 64 for no version, or an unknown option', async () => {
    expect((await run([])).code).toBe(64);
    const bogus = await run(['v3.5.17', '--bogus']);
    expect(bogus.code).toBe(64);
    expect(bogus.stderr).toContain('usage: scripts/build-etcd.sh vX.Y.Z [--out DIR]');
  });

  it.skipIf(!haveGo)('exit 69 naming the version and Go\'s error for a release that does not exist; nothing left in --out', async () => {
    const dir = join(out, 'none');
    const r = await run(['v3.99.0', '--out', dir]);
    expect(r.code).toBe(69);
    expect(r.stderr).toContain('building etcd v3.99.0 failed at `go get go.etcd.io/etcd/server/v3@v3.99.0`');
    expect(r.stderr).toMatch(/go: go\.etcd\.io\/etcd\/server\/v3@v3\.99\.0: /);
    expect(existsSync(dir)).toBe(false);
  });

  it.skipIf(!haveGo || built.length === 0)('an already-built release: its path on the last line, no build', async () => {
    const version = built[0] as string;
    const r = await run([version]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toBe(join(cache, version, 'etcd'));
    expect(r.stderr).toContain(`${version} already built`);
    expect(r.stderr).not.toContain('go mod init');
  });
});
