/**
 * Which etcd binary a run tests, and which release it is. A user's `--etcd-bin` is refused
 * before anything starts when it is missing, not executable, or not an etcd server (each said
 * plainly, exit 64); without it the run uses Debian's etcd-server (/usr/bin/etcd), and a
 * missing one is a prerequisite (exit 69).
 *
 * The release: `etcd --version` prints it ("etcd Version: 3.5.17"); for binaries built from
 * the module proxy (scripts/build-etcd.sh) `go version -m` also names the exact server module
 * version, which is recorded beside it.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { PrerequisiteError, UsageError } from '../../errors.ts';

export const DEBIAN_ETCD = '/usr/bin/etcd';

export interface EtcdRelease {
  /** "3.4.23" */
  readonly version: string;
  /** The server module version from the binary's build info ("v3.5.17"), when it has one. */
  readonly module: string | null;
  readonly goVersion: string | null;
  readonly bin: string;
}

/** `etcd --version` of a binary, or the reason it is not an etcd server. */
export function etcdRelease(bin: string): EtcdRelease {
  let out: string;
  try {
    out = execFileSync(bin, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim() ?? '';
    throw new UsageError(`--etcd-bin ${bin}: not an etcd server (\`${bin} --version\` failed${stderr !== '' ? `: ${stderr.split('\n')[0] ?? ''}` : ''})`);
  }
  const version = /etcd Version:\s*(\S+)/.exec(out)?.[1];
  if (version === undefined) throw new UsageError(`--etcd-bin ${bin}: not an etcd server (\`--version\` printed ${JSON.stringify(out.trim().split('\n')[0] ?? '')}, not "etcd Version: ...")`);
  let module: string | null = null;
  try {
    const info = execFileSync('go', ['version', '-m', bin], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 });
    module = /\bgo\.etcd\.io\/etcd\/server\/v3\s+(v\S+)/.exec(info)?.[1] ?? null;
  } catch {
    // No Go toolchain, or no build info (Debian's binary): the printed version stands.
  }
  return { version, module, goVersion: /Go Version:\s*(\S+)/.exec(out)?.[1] ?? null, bin };
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

/** The binary a run uses: the user's, checked, or Debian's. */
export function resolveEtcd(userBin: string | undefined): EtcdRelease {
  if (userBin !== undefined) return checkEtcdBin(userBin);
  if (!existsSync(DEBIAN_ETCD)) throw new PrerequisiteError(`etcd is not installed (${DEBIAN_ETCD}): run \`bash scripts/setup-host.sh\` (installs Debian's etcd-server), or give --etcd-bin PATH (scripts/build-etcd.sh vX.Y.Z builds any release)`);
  return etcdRelease(DEBIAN_ETCD);
}
