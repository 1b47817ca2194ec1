/**
 * Which etcd a binary is (Debian's, and releases scripts/build-etcd.sh built, when present),
 * and the refusals of a bad --etcd-bin, each naming what is wrong.
 */
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PrerequisiteError, UsageError } from '../../errors.ts';
import { buildEtcdRelease, checkEtcdBin, checkEtcdVersion, DEBIAN_ETCD, etcdRelease, etcdVersion, serverModuleFromBuildInfo, serverModuleOfBinary } from './version.ts';

const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'jepsen-ts', 'etcd');
const built = (existsSync(cache) ? readdirSync(cache) : [])
  .filter((v) => /^v3\.\d+\.\d+$/.test(v))
  .map((v) => ({ v, bin: join(cache, v, 'etcd') }))
  .filter((b) => existsSync(b.bin));
if (built.length === 0) console.warn(`etcd version tests of built releases SKIPPED: none in ${cache} (scripts/build-etcd.sh v3.5.17)`);
const builtWithFailpoints = (existsSync(cache) ? readdirSync(cache) : [])
  .filter((d) => /^v3\.\d+\.\d+-failpoints$/.test(d))
  .map((d) => ({ v: d.replace(/-failpoints$/, ''), bin: join(cache, d, 'etcd') }))
  .filter((b) => existsSync(b.bin));
const haveDebian = existsSync(DEBIAN_ETCD);

describe('serverModuleFromBuildInfo', () => {
  it('reads the server module from `go version -m` text and from the raw build info', () => {
    expect(serverModuleFromBuildInfo('x: go1.26.8\n\tpath\tjepsen-ts/etcd-build\n\tdep\tgo.etcd.io/etcd/server/v3\tv3.5.17\th1:abc=\n')).toBe('v3.5.17');
    expect(serverModuleFromBuildInfo('path\tjepsen-ts/etcd-build\ndep\tgo.etcd.io/etcd/api/v3\tv3.5.18\th1:x=\ndep\tgo.etcd.io/etcd/server/v3\tv3.5.17\th1:y=\n')).toBe('v3.5.17');
  });
  it('says when the module was replaced, and knows nothing of a devel or absent one', () => {
    expect(serverModuleFromBuildInfo('dep\tgo.etcd.io/etcd/server/v3\tv3.5.17\n=>\t../etcd/server\t(devel)\n')).toBe('v3.5.17 => ../etcd/server (devel)');
    expect(serverModuleFromBuildInfo('mod\tgo.etcd.io/etcd/server/v3\t(devel)\t\n')).toBeNull();
    expect(serverModuleFromBuildInfo('path\tgo.etcd.io/etcd\nbuild\t-compiler=gc\n')).toBeNull();
  });
});

describe.skipIf(!haveDebian)("Debian's etcd", () => {
  it('is 3.4.23 by its --version; no module build info', () => {
    const r = etcdRelease(DEBIAN_ETCD);
    expect(r).toMatchObject({ version: '3.4.23', module: null, bin: DEBIAN_ETCD });
    expect(r.goVersion).toMatch(/^go1\./);
    expect(etcdVersion(DEBIAN_ETCD)).toBe('3.4.23');
  });
});

describe.skipIf(built.length === 0)('releases built from the module proxy', () => {
  it.each(built)('$v: the exact release from the server module in its build info', ({ v, bin }) => {
    expect(serverModuleOfBinary(bin)).toBe(v);
    const r = checkEtcdBin(bin);
    expect(r.module).toBe(v);
    expect(r.version).toBe(v.slice(1));
    expect(etcdVersion(bin)).toBe(v.slice(1));
  });
  it.each(built)('--etcd-version $v reuses the cached build (the script is idempotent) and says so', async ({ v, bin }) => {
    const lines: string[] = [];
    expect(await buildEtcdRelease(v, (l) => lines.push(l))).toBe(bin);
    expect(lines[0]).toBe(`build-etcd: ${v} already built`);
  });
});

describe.skipIf(builtWithFailpoints.length === 0)('releases built with failpoints (scripts/build-etcd.sh --failpoints)', () => {
  it.each(builtWithFailpoints)('$v: still that release (its server module is a patched copy), with gofail in its build info', ({ v, bin }) => {
    expect(serverModuleOfBinary(bin)).toBe(`${v} => ./server (devel)`);
    expect(etcdVersion(bin)).toBe(v.slice(1));
    expect(etcdRelease(bin).gofail).toMatch(/^v0\.\d+\.\d+$/);
    const plain = built.find((b) => b.v === v);
    if (plain !== undefined) expect(etcdRelease(plain.bin).gofail).toBeNull();
  });
  it.each(builtWithFailpoints)('$v with failpoints: reused from the cache, apart from the plain release', async ({ v, bin }) => {
    const lines: string[] = [];
    expect(await buildEtcdRelease(v, (l) => lines.push(l), true)).toBe(bin);
    expect(lines[0]).toBe(`build-etcd: ${v}-failpoints already built`);
  });
});

describe('--etcd-version', () => {
  it('refuses what is not an etcd v3 release before building anything', () => {
    for (const bad of ['3.5.2', 'v2.3.8', 'v3.5', 'latest', 'v3.5.2; rm -rf /']) {
      expect(() => checkEtcdVersion(bad)).toThrow(UsageError);
      expect(() => checkEtcdVersion(bad)).toThrow(`--etcd-version ${JSON.stringify(bad)}: not an etcd v3 release (expected vX.Y.Z, e.g. v3.5.17)`);
    }
    expect(() => checkEtcdVersion('v3.5.2')).not.toThrow();
    expect(() => checkEtcdVersion('v3.6.0-rc.1')).not.toThrow();
  });
  it('a release the module proxy does not have is a missing prerequisite, naming the version and why', async () => {
    // Without Go, or without the proxy, the script fails earlier; each way it is a PrerequisiteError saying so.
    const build = buildEtcdRelease('v3.99.0', () => {});
    await expect(build).rejects.toThrow(PrerequisiteError);
    await expect(build).rejects.toThrow(/^--etcd-version v3\.99\.0: \S/);
  }, 120_000);
});

describe('--etcd-bin refusals', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jepsen-etcd-bin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const refused = (bin: string): string => {
    try {
      checkEtcdBin(bin);
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      return (e as Error).message;
    }
    throw new Error(`${bin} was accepted`);
  };

  it('a missing file', () => {
    expect(refused(join(dir, 'nope'))).toBe(`--etcd-bin ${join(dir, 'nope')}: no such file`);
  });
  it('a directory', () => {
    expect(refused(dir)).toBe(`--etcd-bin ${dir}: not a file`);
  });
  it('a file that is not executable', () => {
    const f = join(dir, 'etcd-noexec');
    if (haveDebian) copyFileSync(DEBIAN_ETCD, f);
    else writeFileSync(f, '');
    chmodSync(f, 0o644);
    expect(refused(f)).toBe(`--etcd-bin ${f}: not executable (chmod +x it)`);
  });
  it('a program that is not etcd (prints something else; fails)', () => {
    const other = join(dir, 'other');
    writeFileSync(other, '#!/bin/sh\necho "etcdctl version: 3.4.23"\n');
    chmodSync(other, 0o755);
    expect(refused(other)).toBe(`--etcd-bin ${other}: not an etcd server (\`--version\` printed "etcdctl version: 3.4.23", not "etcd Version: ...")`);
    const failing = join(dir, 'failing');
    writeFileSync(failing, '#!/bin/sh\necho "unknown flag --version" >&2\nexit 2\n');
    chmodSync(failing, 0o755);
    expect(refused(failing)).toBe(`--etcd-bin ${failing}: not an etcd server (\`${failing} --version\` failed: unknown flag --version)`);
  });
});
