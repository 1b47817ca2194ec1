/**
 * Which etcd binary a run tests, and which release it is. A user's `--etcd-bin` is refused
 * before anything starts when it is missing, not a file, not executable, or not an etcd server
 * (each said plainly; UsageError, exit 64); without it the run uses Debian's etcd-server
 * (/usr/bin/etcd), and a missing one is a prerequisite (exit 69).
 *
 * The release: `etcd --version` prints one ("etcd Version: 3.5.17"), but that string is a
 * constant of the api/v3 module, and a binary built outside etcd's own build script has no
 * git SHA ("Not provided (use ./build instead of go build)"). A binary built from the module
 * proxy (scripts/build-etcd.sh) carries Go's module build info, which names the exact server
 * module it was built from (`dep go.etcd.io/etcd/server/v3 v3.5.17`): that is the release.
 * We read it from the binary's bytes ourselves (the text `go version -m` prints is stored
 * verbatim in the binary), so no Go toolchain is needed on the host. Debian's binary is built
 * from etcd's own tree (its main module is go.etcd.io/etcd, with no version), so its printed
 * version stands.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { PrerequisiteError, UsageError } from '../../errors.ts';

const BUILD_SCRIPT = resolve(import.meta.dirname, '../../../scripts/build-etcd.sh');

export const DEBIAN_ETCD = '/usr/bin/etcd';

export interface EtcdRelease {
  /** What `etcd --version` prints ("3.4.23"). */
  readonly version: string;
  /** The server module version from the binary's build info ("v3.5.17"), when it has one. */
  readonly module: string | null;
  /** The Go release it was built with ("go1.19.8"), as `--version` prints it. */
  readonly goVersion: string | null;
  /** The gofail version it was built with (scripts/build-etcd.sh --failpoints); null for a release build, which has no failpoints. */
  readonly gofail: string | null;
  readonly bin: string;
}

const SERVER_MODULE = 'go.etcd.io/etcd/server/v3';

/**
 * The server module's version in Go build info text (the `go version -m` lines: `path`,
 * `mod`, `dep`, `=>`, `build`), or null. A module replaced by another (`=>` on the next line)
 * is reported with its replacement, since the code is the replacement's.
 */
export function serverModuleFromBuildInfo(text: string): string | null {
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    const m = /^\t?(?:mod|dep)\t([^\t]+)\t([^\t]+)/.exec(line);
    if (m === null || m[1] !== SERVER_MODULE) continue;
    const version = m[2] as string;
    if (version === '(devel)') return null;
    const replaced = /^\t?=>\t([^\t]+)\t([^\t]+)/.exec(lines[i + 1] ?? '');
    return replaced === null ? version : `${version} => ${replaced[1] as string} ${replaced[2] as string}`;
  }
  return null;
}

/** The build info lines mentioning the server module, read from an executable's bytes (Go stores them as plain text). */
export function serverModuleOfBinary(bin: string): string | null {
  return serverModuleOfBytes(readFileSync(bin));
}

function serverModuleOfBytes(bytes: Buffer): string | null {
  const needle = Buffer.from(`\t${SERVER_MODULE}\t`);
  const at = bytes.indexOf(needle);
  if (at < 0) return null;
  // The line before the module path (mod/dep) and the one after (a possible `=>` replacement).
  const lineStart = bytes.lastIndexOf(0x0a, at) + 1;
  const text = bytes.subarray(lineStart, Math.min(bytes.length, at + 512)).toString('latin1');
  return serverModuleFromBuildInfo(text);
}

/** The gofail version in an executable's build info, or null. */
function gofailOfBytes(bytes: Buffer): string | null {
  const at = bytes.indexOf(Buffer.from('\tgo.etcd.io/gofail\t'));
  if (at < 0) return null;
  const m = /^\tgo\.etcd\.io\/gofail\t([^\t\n]+)/.exec(bytes.subarray(at, at + 200).toString('latin1'));
  return m?.[1] ?? null;
}

/** `etcd --version` of a binary, with the module it was built from, or UsageError saying why it is not an etcd server. */
export function etcdRelease(bin: string): EtcdRelease {
  let out: string;
  try {
    out = execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (e) {
    const err = e as { stderr?: string; signal?: string | null; code?: string };
    const why = err.code === 'ETIMEDOUT' || err.signal === 'SIGTERM' ? 'did not finish within 10 s' : `failed${(err.stderr ?? '').trim() !== '' ? `: ${(err.stderr ?? '').trim().split('\n')[0] ?? ''}` : ''}`;
    throw new UsageError(`--etcd-bin ${bin}: not an etcd server (\`${bin} --version\` ${why})`);
  }
  const version = /^etcd Version:\s*(\S+)/m.exec(out)?.[1];
  if (version === undefined) throw new UsageError(`--etcd-bin ${bin}: not an etcd server (\`--version\` printed ${JSON.stringify(out.trim().split('\n')[0] ?? '')}, not "etcd Version: ...")`);
  const bytes = readFileSync(bin);
  return { version, module: serverModuleOfBytes(bytes), goVersion: /Go Version:\s*(\S+)/.exec(out)?.[1] ?? null, gofail: gofailOfBytes(bytes), bin };
}

/**
 * The exact etcd release of a binary: the server module's version from its build info when it
 * has one (ours: "3.5.17"), otherwise what `etcd --version` prints (Debian's: "3.4.23").
 * Throws UsageError for a binary that is not an etcd server.
 */
export function etcdVersion(bin: string): string {
  const release = etcdRelease(bin);
  // A failpoint build replaces the module with a patched copy ("v3.5.4 => ./server (devel)"): still that release.
  return release.module !== null ? release.module.replace(/^v/, '').replace(/ => .*$/, '') : release.version;
}

/** Check a user's --etcd-bin: exists, is a file, is executable, is an etcd server. Throws UsageError saying which. */
export function checkEtcdBin(bin: string): EtcdRelease {
  if (!existsSync(bin)) throw new UsageError(`--etcd-bin ${bin}: no such file`);
  if (!statSync(bin).isFile()) throw new UsageError(`--etcd-bin ${bin}: not a file`);
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    throw new UsageError(`--etcd-bin ${bin}: not executable (chmod +x it)`);
  }
  return etcdRelease(bin);
}

/**
 * x.y.z (a leading v, and anything after the patch number, ignored) as a comparable triple;
 * null if it is not one. Written here: release numbers are all this compares, and `semver` is
 * only a dev tool's dependency.
 */
export function releaseTriple(version: string): [number, number, number] | null {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  return m === null ? null : [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Whether release triple `a` comes before `b`. */
export function releaseBelow(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return (a[i] ?? 0) < (b[i] ?? 0);
  return false;
}

/** A release `--etcd-version` accepts: what scripts/build-etcd.sh builds (v3.x.y, optionally -suffix). */
export function checkEtcdVersion(version: string): void {
  if (!/^v3\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$/.test(version)) throw new UsageError(`--etcd-version ${JSON.stringify(version)}: not an etcd v3 release (expected vX.Y.Z, e.g. v3.5.17)`);
}

/**
 * `--etcd-version`: the release built from the Go module proxy by scripts/build-etcd.sh (about
 * a minute the first time; later runs reuse the cached binary); with `failpoints`, built with
 * its gofail failpoints compiled in (a binary of its own). Its progress goes to `log`; a
 * failed build (no Go, no proxy, no such release) is a PrerequisiteError carrying the
 * script's own message.
 */
export async function buildEtcdRelease(version: string, log: (line: string) => void, failpoints = false): Promise<string> {
  checkEtcdVersion(version);
  return new Promise<string>((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT, version, ...(failpoints ? ['--failpoints'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      for (const line of d.split('\n')) if (line.trim() !== '') log(line.trimEnd());
    });
    child.on('error', (e) => reject(new PrerequisiteError(`--etcd-version ${version}: cannot run ${BUILD_SCRIPT}: ${e.message}`)));
    child.on('close', (code) => {
      const bin = stdout.trim().split('\n').at(-1) ?? '';
      if (code === 0 && bin !== '') return resolve(bin);
      // The script's own verdict ("building etcd vX failed at `go get …`:") and the last line of Go's error under it.
      const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
      const verdict = lines.filter((l) => l.startsWith('build-etcd:')).at(-1)?.replace(/^build-etcd:\s*/, '').replace(/:$/, '');
      const detail = lines.at(-1);
      const why = [verdict, detail !== undefined && !detail.startsWith('build-etcd:') ? detail : undefined].filter((x) => x !== undefined).join(': ');
      reject(new PrerequisiteError(`--etcd-version ${version}: ${why !== '' ? why : `scripts/build-etcd.sh exited with status ${String(code)}`}`));
    });
  });
}

/** The binary a run uses: the user's, checked, or Debian's. */
export function resolveEtcd(userBin: string | undefined): EtcdRelease {
  if (userBin !== undefined) return checkEtcdBin(userBin);
  if (!existsSync(DEBIAN_ETCD)) throw new PrerequisiteError(`etcd is not installed (${DEBIAN_ETCD}): run \`bash scripts/setup-host.sh\` (installs Debian's etcd-server), or give --etcd-bin PATH (scripts/build-etcd.sh vX.Y.Z builds any release)`);
  return etcdRelease(DEBIAN_ETCD);
}
