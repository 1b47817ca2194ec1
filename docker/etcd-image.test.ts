/**
 * The etcd image from a host binary: Debian's (dynamically linked: its libraries go in) and
 * any release scripts/build-etcd.sh built (static). It is built once per binary, `etcd
 * --version` works inside, and a single-member etcd started from it serves clients.
 * Containers carry the harness's run labels and are removed after.
 */
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { demuxDockerLog, listLabelled, removeLabelled, runLabels } from '../harness/runtime/docker-runtime.ts';
import { RUN_LABEL } from '../harness/runtime/runtime.ts';
import { freePorts } from '../harness/systems/etcd/testing/local-etcd.ts';
import { DEBIAN_ETCD, etcdVersion } from '../harness/systems/etcd/version.ts';
import { ensureEtcdImage } from './etcd-image.ts';

const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'jepsen-ts', 'etcd');
const built = (existsSync(cache) ? readdirSync(cache) : []).map((v) => join(cache, v, 'etcd')).filter((b) => existsSync(b)).slice(-1);
const bins = [...(existsSync(DEBIAN_ETCD) ? [DEBIAN_ETCD] : []), ...built];
if (bins.length === 0) console.warn(`etcd image tests SKIPPED: no etcd binary (${DEBIAN_ETCD}, or scripts/build-etcd.sh)`);

const docker = new Dockerode();
const runId = `etcd-image-${Date.now().toString(36)}`;

/** Run the image with `cmd` to completion; its exit code and output. */
async function runToEnd(image: string, cmd: string[]): Promise<{ code: number; output: string }> {
  const c = await docker.createContainer({ Image: image, Cmd: cmd, Labels: runLabels(runId) });
  await c.start();
  const { StatusCode } = (await c.wait()) as { StatusCode: number };
  const output = demuxDockerLog((await c.logs({ stdout: true, stderr: true })) as unknown as Buffer).toString('utf8');
  await c.remove({ force: true });
  return { code: StatusCode, output };
}

describe.skipIf(bins.length === 0)('etcd image', () => {
  afterAll(async () => {
    await removeLabelled(docker, `${RUN_LABEL}=${runId}`);
    expect(await listLabelled(docker, `${RUN_LABEL}=${runId}`)).toEqual([]);
  });

  it.each(bins)('from %s: built once, labelled, `etcd --version` inside names the release', async (bin) => {
    const tag = await ensureEtcdImage(docker, bin);
    expect(tag).toMatch(/^jepsen-ts\/etcd:[0-9a-f]{12}$/);
    const image = await docker.getImage(tag).inspect();
    expect(image.Config.Labels).toMatchObject({ 'jepsen-ts.image': 'true' });
    // Same binary, same tag, same image: nothing rebuilt.
    const lines: string[] = [];
    expect(await ensureEtcdImage(docker, bin, (l) => lines.push(l))).toBe(tag);
    expect(lines).toEqual([]);
    expect((await docker.getImage(tag).inspect()).Id).toBe(image.Id);
    const { code, output } = await runToEnd(tag, ['--version']);
    expect(code).toBe(0);
    expect(output).toContain(`etcd Version: ${etcdVersion(bin)}`);
  });

  it.each(bins)('from %s: a single member starts and is healthy', async (bin) => {
    const tag = await ensureEtcdImage(docker, bin);
    const [port] = await freePorts(1);
    const c = await docker.createContainer({
      Image: tag,
      Cmd: ['--name', 'e1', '--data-dir', '/data/etcd', '--listen-client-urls', 'http://0.0.0.0:2379', '--advertise-client-urls', `http://127.0.0.1:${port}`, '--listen-peer-urls', 'http://127.0.0.1:2380', '--initial-advertise-peer-urls', 'http://127.0.0.1:2380', '--initial-cluster', 'e1=http://127.0.0.1:2380'],
      Labels: runLabels(runId),
      ExposedPorts: { '2379/tcp': {} },
      HostConfig: { PortBindings: { '2379/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] } },
    });
    try {
      await c.start();
      let health: unknown = null;
      for (let i = 0; i < 100 && health === null; i++) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
          if (r.ok) health = await r.json();
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(health).toMatchObject({ health: 'true' });
    } finally {
      await c.remove({ force: true, v: true });
    }
  });
});
