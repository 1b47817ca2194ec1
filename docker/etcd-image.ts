/**
 * The etcd image, built locally from whichever etcd binary a run tests (no registry here):
 * the binary, the shared libraries `ldd` lists for it, and a minimal /etc and /tmp, over
 * `scratch` (BASE_IMAGE for online users). Tagged by a hash of the binary and the Dockerfile,
 * so an unchanged binary is never rebuilt.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type Dockerode from 'dockerode';
import { buildImage, imageExists, sharedLibraries } from './images.ts';

export async function ensureEtcdImage(docker: Dockerode, bin: string, log: (line: string) => void = () => {}): Promise<string> {
  const dockerfile = readFileSync(join(import.meta.dirname, 'etcd.Dockerfile'));
  const real = realpathSync(bin);
  const binary = readFileSync(real);
  const libs = sharedLibraries(real);
  const hash = createHash('sha256').update(dockerfile).update(binary);
  for (const lib of libs) hash.update(lib).update(readFileSync(realpathSync(lib)));
  const tag = `jepsen-ts/etcd:${hash.digest('hex').slice(0, 12)}`;
  if (await imageExists(docker, tag)) return tag;
  log(`building ${tag} from ${bin}`);
  const ctx = mkdtempSync(join(tmpdir(), 'jepsen-etcd-ctx-'));
  try {
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
    writeFileSync(join(ctx, 'etcd'), binary);
    chmodSync(join(ctx, 'etcd'), 0o755);
    const rootfs = join(ctx, 'rootfs');
    for (const dir of ['tmp', 'data', 'etc']) mkdirSync(join(rootfs, dir), { recursive: true });
    chmodSync(join(rootfs, 'tmp'), 0o1777);
    writeFileSync(join(rootfs, 'etc/nsswitch.conf'), 'hosts: files dns\n');
    writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/false\n');
    for (const lib of libs) {
      const target = join(rootfs, lib);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(realpathSync(lib), target);
    }
    await buildImage(docker, ctx, ['Dockerfile', 'etcd', 'rootfs'], tag, { BASE_IMAGE: 'scratch' });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return tag;
}
