/**
 * Local image builds for a host that reaches no container registry. Three images, each tagged
 * by a hash of what went into it, so a rebuild is skipped when nothing changed:
 *
 * - `jepsen-ts/node-base:20-<hash>`: `docker import` of a minimal root filesystem holding the
 *   host's Node runtime and the shared libraries `ldd` lists for it.
 * - `jepsen-ts/store-node:<hash>`: `store-node.Dockerfile` over that base (or over
 *   `node:20-bookworm-slim` when that is already present locally; nothing is ever pulled).
 * - `jepsen-ts/toxiproxy:<hash>`: `toxiproxy.Dockerfile` around the host's `toxiproxy-server`.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';

const DOCKER_DIR = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(DOCKER_DIR, '..');
export const STORE_NODE_BUNDLE = join(REPO_ROOT, 'dist', 'store-node.mjs');
const OFFICIAL_NODE_BASE = 'node:20-bookworm-slim';

export interface BuiltImages {
  readonly storeNode: string;
  readonly toxiproxy: string;
  readonly base: string;
}

export type ImageLog = (line: string) => void;

/** Build (or find already built) every image a docker run needs. */
export async function ensureImages(docker: Dockerode, log: ImageLog = () => {}, bundle = STORE_NODE_BUNDLE): Promise<BuiltImages> {
  const base = (await imageExists(docker, OFFICIAL_NODE_BASE)) ? OFFICIAL_NODE_BASE : await ensureNodeBase(docker, log);
  const storeNode = await ensureStoreNodeImage(docker, base, log, bundle);
  const toxiproxy = await ensureToxiproxyImage(docker, log);
  return { storeNode, toxiproxy, base };
}

export async function imageExists(docker: Dockerode, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch {
    return false;
  }
}

/** Absolute paths of the shared libraries (and the loader) a dynamic executable needs. */
export function sharedLibraries(binary: string): string[] {
  let out: string;
  try {
    out = execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return []; // "not a dynamic executable": a static binary needs nothing
  }
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const arrow = /=>\s+(\/\S+)/.exec(line);
    const bare = /^\s*(\/\S+)\s+\(/.exec(line);
    const path = arrow?.[1] ?? bare?.[1];
    if (path !== undefined) libs.push(path);
  }
  return libs;
}

/** Copy `file` into `root` at the same absolute path, following symlinks to the real file. */
function copyInto(root: string, file: string, mode?: number): void {
  const target = join(root, file);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(realpathSync(file), target);
  if (mode !== undefined) chmodSync(target, mode);
}

function fingerprint(parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 12);
}

function statTag(file: string): string {
  const st = statSync(realpathSync(file));
  return `${file}:${st.size}:${st.mtimeMs}`;
}

function hostNodeBinary(): string {
  return realpathSync(process.execPath);
}

export async function ensureNodeBase(docker: Dockerode, log: ImageLog): Promise<string> {
  const node = hostNodeBinary();
  const libs = sharedLibraries(node);
  const tag = `jepsen-ts/node-base:20-${fingerprint([process.version, statTag(node), ...libs.map(statTag)])}`;
  if (await imageExists(docker, tag)) return tag;
  log(`building ${tag} from the host's ${node} (${process.version})`);
  const root = mkdtempSync(join(tmpdir(), 'jepsen-node-base-'));
  try {
    // The image runs `node` from /usr/bin whatever the host's path was.
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    copyFileSync(node, join(root, 'usr/bin/node'));
    chmodSync(join(root, 'usr/bin/node'), 0o755);
    for (const lib of libs) copyInto(root, lib);
    mkdirSync(join(root, 'etc'), { recursive: true });
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/usr/bin/node\nnode:x:1000:1000:node:/home/node:/usr/bin/node\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnode:x:1000:\n');
    writeFileSync(join(root, 'etc/nsswitch.conf'), 'hosts: files dns\n');
    writeFileSync(join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
    for (const dir of ['tmp', 'data', 'root', 'home/node', 'app', 'proc', 'sys', 'dev']) mkdirSync(join(root, dir), { recursive: true });
    chmodSync(join(root, 'tmp'), 0o1777);
    const tarball = join(root, '..', `${root.split('/').pop() ?? 'rootfs'}.tar`);
    execFileSync('tar', ['-C', root, '-cf', tarball, '.']);
    try {
      const [repo, version] = tag.split(':') as [string, string];
      const stream = await docker.importImage(tarball, { repo, tag: version, changes: ['ENV PATH=/usr/local/bin:/usr/bin:/bin', 'CMD ["node"]'] } as object);
      await followProgress(docker, stream, tag);
    } finally {
      rmSync(tarball, { force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return tag;
}

export async function ensureStoreNodeImage(docker: Dockerode, base: string, log: ImageLog, bundlePath = STORE_NODE_BUNDLE): Promise<string> {
  if (!existsSync(bundlePath)) {
    throw new MissingBundleError(`${bundlePath} is missing: run \`npm run build:node\` first`);
  }
  const dockerfile = readFileSync(join(DOCKER_DIR, 'store-node.Dockerfile'));
  const bundle = readFileSync(bundlePath);
  const baseId = (await docker.getImage(base).inspect()).Id;
  const tag = `jepsen-ts/store-node:${createHash('sha256').update(dockerfile).update(bundle).update(baseId).digest('hex').slice(0, 12)}`;
  if (await imageExists(docker, tag)) return tag;
  log(`building ${tag} on ${base}`);
  const ctx = mkdtempSync(join(tmpdir(), 'jepsen-store-node-ctx-'));
  try {
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
    writeFileSync(join(ctx, 'store-node.mjs'), bundle);
    await build(docker, ctx, ['Dockerfile', 'store-node.mjs'], tag, { BASE_IMAGE: base });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return tag;
}

export function toxiproxyBinary(): string | null {
  const fromEnv = process.env.TOXIPROXY_SERVER;
  if (fromEnv !== undefined && fromEnv !== '' && existsSync(fromEnv)) return fromEnv;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir, 'toxiproxy-server');
    if (dir !== '' && existsSync(p)) return p;
  }
  return existsSync('/usr/local/bin/toxiproxy-server') ? '/usr/local/bin/toxiproxy-server' : null;
}

/** The Toxiproxy module version embedded in the binary (`go version -m`), or 'unknown'. */
export function toxiproxyModuleVersion(): string {
  const bin = toxiproxyBinary();
  if (bin === null) return 'missing';
  try {
    const out = execFileSync('go', ['version', '-m', bin], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return /\bmod\s+github\.com\/Shopify\/toxiproxy\/v2\s+(\S+)/.exec(out)?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function ensureToxiproxyImage(docker: Dockerode, log: ImageLog): Promise<string> {
  const bin = toxiproxyBinary();
  if (bin === null) throw new MissingToxiproxyError('toxiproxy-server not found on PATH: run `bash scripts/setup-host.sh` (as root)');
  const dockerfile = readFileSync(join(DOCKER_DIR, 'toxiproxy.Dockerfile'));
  const libs = sharedLibraries(bin);
  const tag = `jepsen-ts/toxiproxy:${fingerprint([dockerfile.toString(), statTag(bin), ...libs.map(statTag)])}`;
  if (await imageExists(docker, tag)) return tag;
  log(`building ${tag} from ${bin}`);
  const ctx = mkdtempSync(join(tmpdir(), 'jepsen-toxiproxy-ctx-'));
  try {
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
    copyFileSync(realpathSync(bin), join(ctx, 'toxiproxy-server'));
    chmodSync(join(ctx, 'toxiproxy-server'), 0o755);
    const rootfs = join(ctx, 'rootfs');
    mkdirSync(join(rootfs, 'tmp'), { recursive: true });
    for (const lib of libs) copyInto(rootfs, lib);
    await build(docker, ctx, ['Dockerfile', 'toxiproxy-server', 'rootfs'], tag, { BASE_IMAGE: 'scratch' });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return tag;
}

export class MissingBundleError extends Error {
  override readonly name = 'MissingBundleError';
}
export class MissingToxiproxyError extends Error {
  override readonly name = 'MissingToxiproxyError';
}

/** Build `tag` from a context directory holding `src`, labelled as the project's image. */
export async function buildImage(docker: Dockerode, context: string, src: string[], tag: string, buildargs: Record<string, string>): Promise<void> {
  return build(docker, context, src, tag, buildargs);
}

async function build(docker: Dockerode, context: string, src: string[], tag: string, buildargs: Record<string, string>): Promise<void> {
  const stream = await docker.buildImage({ context, src }, { t: tag, buildargs, labels: { 'jepsen-ts.image': 'true' } });
  await followProgress(docker, stream, tag);
}

/** Wait for a build/import stream to end, failing with the engine's own error message. */
function followProgress(docker: Dockerode, stream: NodeJS.ReadableStream, what: string): Promise<void> {
  return new Promise((resolveDone, reject) => {
    docker.modem.followProgress(stream, (err: Error | null, output: { error?: string; errorDetail?: { message?: string } }[]) => {
      if (err !== null) return reject(new Error(`building ${what}: ${err.message}`));
      const failed = output.find((o) => o.error !== undefined);
      if (failed !== undefined) return reject(new Error(`building ${what}: ${failed.errorDetail?.message ?? failed.error}`));
      resolveDone();
    });
  });
}
