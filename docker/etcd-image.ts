/**
 * The etcd image, built locally from whichever etcd binary a run tests (no registry here):
 * the binary, the shared libraries `ldd` lists for it (Debian's links libc; a CGO_ENABLED=0
 * build from scripts/build-etcd.sh needs none), and a minimal /etc and /tmp, over `scratch`
 * (etcd.Dockerfile's BASE_IMAGE build argument lets online users pick a base). Tagged
 * `jepsen-ts/etcd:<hash>` by a hash of everything that goes into it, so an unchanged binary is
 * never rebuilt, and labelled like the project's other images (docker/images.ts buildImage).
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type Dockerode from 'dockerode';
import { buildImage, imageExists, sharedLibraries } from './images.ts';

/** What a resolver and user lookup need in an image with no distribution under it. */
const ETC_FILES: Readonly<Record<string, string>> = {
  'etc/nsswitch.conf': 'hosts: files dns\n',
  'etc/passwd': 'root:x:0:0:root:/root:/bin/false\n',
};

/**
 * The image's tag for etcd binary `bin` (built now unless it exists). `baseImage`: what the
 * image is built FROM; `scratch` needs nothing pulled (a base named here must be present or
 * pullable).
 */
export async function ensureEtcdImage(docker: Dockerode, bin: string, log: (line: string) => void = () => {}, baseImage = 'scratch'): Promise<string> {
  const dockerfile = readFileSync(join(import.meta.dirname, 'etcd.Dockerfile'));
  const real = realpathSync(bin);
  const binary = readFileSync(real);
  const libs = sharedLibraries(real);
  const hash = createHash('sha256').update(dockerfile).update(baseImage).update(binary);
  for (const [path, text] of Object.entries(ETC_FILES)) hash.update(path).update(text);
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
    for (const [path, text] of Object.entries(ETC_FILES)) writeFileSync(join(rootfs, path), text);
    for (const lib of libs) {
      const target = join(rootfs, lib);
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(realpathSync(lib), target);
    }
    await buildImage(docker, ctx, ['Dockerfile', 'etcd', 'rootfs'], tag, { BASE_IMAGE: baseImage });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return tag;
}
