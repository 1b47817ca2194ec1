/**
 * The docker runtime: a private network, one Toxiproxy container, N store-node containers
 * with named volumes (data survives a kill and restart). Containers start through
 * testcontainers; kill, pause, volumes, networks and cleanup go through dockerode.
 *
 * Nothing is ever pulled: images are built locally (docker/images.ts). Every object carries
 * the labels `jepsen-ts=true` and `jepsen-ts.run=<runId>` so `--cleanup` can find leftovers.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { ensureImages, MissingBundleError, MissingToxiproxyError, toxiproxyBinary, toxiproxyModuleVersion, STORE_NODE_BUNDLE } from '../../docker/images.ts';
import type { ClusterSpec, NodeHandle, NodeId, NodeState, Runtime, StartedCluster } from './runtime.ts';
import { LABEL, PrerequisiteError, RUN_LABEL } from './runtime.ts';
import type { ProxySpec } from './topology.ts';
import { allLinks, clientProxyName, clientProxyPort, peerProxyName, peerProxyPort } from './topology.ts';
import { ToxiproxyLinks } from './toxiproxy-links.ts';
import { existsSync } from 'node:fs';

// testcontainers offline: no Ryuk (its image cannot be pulled), reach mapped ports on loopback.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';

const NODE_CLIENT_PORT = 8000;
const NODE_PEER_PORT = 7000;
const TOXIPROXY_API_PORT = 8474;

export function runLabels(runId: string): Record<string, string> {
  return { [LABEL]: 'true', [RUN_LABEL]: runId };
}

export class DockerRuntime implements Runtime {
  readonly name = 'docker' as const;
  readonly docker = new Dockerode();

  /** `bundle`: the store node bundle to run (the runtime's own plumbing test passes a stand-in). */
  constructor(private readonly bundle: string = STORE_NODE_BUNDLE) {}

  async checkPrerequisites(): Promise<void> {
    try {
      await withTimeout(this.docker.ping(), 5000, 'docker ping');
    } catch (e) {
      throw new PrerequisiteError(
        `Docker engine unreachable (${errorText(e)}). Start it (as root: bash scripts/setup-host.sh), or use --runtime local.`,
      );
    }
    if (toxiproxyBinary() === null) {
      throw new PrerequisiteError('toxiproxy-server not found (needed to build the Toxiproxy image). Install it: bash scripts/setup-host.sh');
    }
    if (!existsSync(this.bundle)) {
      throw new PrerequisiteError(`${this.bundle} is missing: run \`npm run build:node\``);
    }
  }

  async start(spec: ClusterSpec, log: (line: string) => void): Promise<StartedCluster> {
    let images;
    try {
      images = await ensureImages(this.docker, log, this.bundle);
    } catch (e) {
      if (e instanceof MissingBundleError || e instanceof MissingToxiproxyError) throw new PrerequisiteError(e.message);
      throw e;
    }
    const cluster = new DockerCluster(this.docker, spec);
    try {
      await cluster.up(images.storeNode, images.toxiproxy, log);
    } catch (e) {
      await cluster.teardown().catch(() => {});
      throw e;
    }
    return cluster;
  }

  async versions(): Promise<Record<string, string>> {
    const v = await this.docker.version();
    return { docker: v.Version, dockerApi: v.ApiVersion, toxiproxy: toxiproxyModuleVersion() };
  }

  cleanupLeftovers(runId?: string): Promise<string[]> {
    return removeLabelled(this.docker, runId === undefined ? `${LABEL}=true` : `${RUN_LABEL}=${runId}`);
  }
}

/** Remove containers, then volumes and networks, carrying `label` (key=value). */
export async function removeLabelled(docker: Dockerode, label: string): Promise<string[]> {
  const removed: string[] = [];
  const filters = { label: [label] };
  const containers = await docker.listContainers({ all: true, filters });
  await Promise.all(
    containers.map(async (c) => {
      const ct = docker.getContainer(c.Id);
      if (c.State === 'paused') await ct.unpause().catch(() => {});
      await ct.remove({ force: true, v: true }).catch(() => {});
      removed.push(`container ${c.Names[0]?.replace(/^\//, '') ?? c.Id}`);
    }),
  );
  const { Volumes } = await docker.listVolumes({ filters });
  for (const v of Volumes ?? []) {
    await docker.getVolume(v.Name).remove().catch(() => {});
    removed.push(`volume ${v.Name}`);
  }
  for (const n of await docker.listNetworks({ filters })) {
    await docker.getNetwork(n.Id).remove().catch(() => {});
    removed.push(`network ${n.Name}`);
  }
  return removed;
}

/** What is still labelled with `label` (for tests: nothing must be left behind). */
export async function listLabelled(docker: Dockerode, label: string): Promise<string[]> {
  const filters = { label: [label] };
  const out: string[] = [];
  for (const c of await docker.listContainers({ all: true, filters })) out.push(`container ${c.Names[0] ?? c.Id}`);
  for (const v of (await docker.listVolumes({ filters })).Volumes ?? []) out.push(`volume ${v.Name}`);
  for (const n of await docker.listNetworks({ filters })) out.push(`network ${n.Name}`);
  return out;
}

class DockerNode implements NodeHandle {
  state: NodeState = 'running';
  constructor(
    readonly id: NodeId,
    readonly clientUrl: string,
    readonly container: Dockerode.Container,
  ) {}

  async kill(): Promise<void> {
    if (this.state === 'paused') await this.container.unpause();
    await this.container.kill({ signal: 'SIGKILL' }).catch((e: unknown) => {
      if (!/is not running/.test(errorText(e))) throw e;
    });
    await this.container.wait();
    this.state = 'killed';
  }
  async start(): Promise<void> {
    await this.container.start();
    this.state = 'running';
  }
  async pause(): Promise<void> {
    await this.container.pause();
    this.state = 'paused';
  }
  async resume(): Promise<void> {
    await this.container.unpause();
    this.state = 'running';
  }
}

class DockerCluster implements StartedCluster {
  readonly runtime = 'docker' as const;
  readonly runId: string;
  nodes: DockerNode[] = [];
  private links: ToxiproxyLinks | null = null;
  private toxiproxyContainer: Dockerode.Container | null = null;
  private tornDown = false;
  private readonly labels: Record<string, string>;
  private readonly networkName: string;

  constructor(
    private readonly docker: Dockerode,
    private readonly spec: ClusterSpec,
  ) {
    this.runId = spec.runId;
    this.labels = runLabels(spec.runId);
    this.networkName = `jepsen-${spec.runId}`;
  }

  get network(): ToxiproxyLinks {
    if (this.links === null) throw new Error('cluster not started');
    return this.links;
  }

  node(id: NodeId): DockerNode {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`unknown node ${id}`);
    return n;
  }

  async up(storeNodeImage: string, toxiproxyImage: string, log: (line: string) => void): Promise<void> {
    const { GenericContainer, Wait } = await import('testcontainers');
    const ids = this.spec.nodeIds;
    await this.docker.createNetwork({ Name: this.networkName, Driver: 'bridge', Labels: this.labels, CheckDuplicate: true });

    const clientPorts = ids.map((id) => clientProxyPort(id, ids));
    log(`starting toxiproxy (${toxiproxyImage})`);
    const toxi = await new GenericContainer(toxiproxyImage)
      .withName(`jepsen-${this.runId}-toxiproxy`)
      .withNetworkMode(this.networkName)
      .withNetworkAliases('toxiproxy')
      .withLabels(this.labels)
      .withExposedPorts(TOXIPROXY_API_PORT, ...clientPorts)
      .withWaitStrategy(Wait.forHttp('/version', TOXIPROXY_API_PORT))
      .withStartupTimeout(30_000)
      .start();
    this.toxiproxyContainer = this.docker.getContainer(toxi.getId());
    const host = '127.0.0.1';

    const proxies = new Map<string, ProxySpec>();
    for (const id of ids) {
      const name = clientProxyName(id);
      proxies.set(name, { name, listen: `0.0.0.0:${clientProxyPort(id, ids)}`, upstream: `${id}:${NODE_CLIENT_PORT}` });
    }
    for (const link of allLinks(ids)) {
      const name = peerProxyName(link);
      proxies.set(name, { name, listen: `0.0.0.0:${peerProxyPort(link, ids)}`, upstream: `${link.to}:${NODE_PEER_PORT}` });
    }
    this.links = new ToxiproxyLinks(`http://${host}:${toxi.getMappedPort(TOXIPROXY_API_PORT)}`, proxies);
    await this.links.populate();

    log(`starting ${ids.length} nodes (${storeNodeImage})`);
    const started = await Promise.all(
      ids.map(async (id) => {
        const volume = `jepsen-${this.runId}-${id}-data`;
        await this.docker.createVolume({ Name: volume, Labels: this.labels });
        const clientUrl = `http://${host}:${toxi.getMappedPort(clientProxyPort(id, ids))}`;
        const peers = ids
          .filter((p) => p !== id)
          .map((p) => `${p}=toxiproxy:${peerProxyPort({ from: id, to: p }, ids)}`)
          .join(',');
        const args = [
          '--id', id,
          '--peers', peers,
          '--data-dir', '/data',
          '--client-port', String(NODE_CLIENT_PORT),
          '--peer-port', String(NODE_PEER_PORT),
          '--cluster-secret', this.spec.clusterSecret,
          '--advertise-client-url', clientUrl,
          '--log-level', this.spec.logLevel,
          ...(this.spec.enableFaultInjection ? ['--enable-fault-injection'] : []),
          ...(this.spec.unsafe.length > 0 ? ['--unsafe', this.spec.unsafe.join(',')] : []),
          ...this.spec.extraNodeArgs,
        ];
        const c = await new GenericContainer(storeNodeImage)
          .withName(`jepsen-${this.runId}-${id}`)
          .withNetworkMode(this.networkName)
          .withNetworkAliases(id)
          .withLabels(this.labels)
          .withBindMounts([{ source: volume, target: '/data', mode: 'rw' }])
          .withCommand(args)
          .withStartupTimeout(30_000)
          .start();
        return new DockerNode(id, clientUrl, this.docker.getContainer(c.getId()));
      }),
    );
    this.nodes = started;
  }

  async collectLogs(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    const targets: [string, Dockerode.Container][] = this.nodes.map((n) => [n.id, n.container]);
    if (this.toxiproxyContainer !== null) targets.push(['toxiproxy', this.toxiproxyContainer]);
    await Promise.all(
      targets.map(async ([name, c]) => {
        try {
          const buf = (await c.logs({ stdout: true, stderr: true, follow: false, timestamps: false })) as unknown as Buffer;
          writeFileSync(join(dir, `${name}.log`), demuxDockerLog(buf));
        } catch (e) {
          writeFileSync(join(dir, `${name}.log`), `could not collect logs: ${errorText(e)}\n`);
        }
        if (name === 'toxiproxy') return;
        try {
          const archive = await c.getArchive({ path: '/data/events.jsonl' });
          writeFileSync(join(dir, `${name}.events.jsonl`), await untarSingleFile(archive));
        } catch {
          // No events file: the node never changed role, or never started.
        }
      }),
    );
  }

  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    await removeLabelled(this.docker, `${RUN_LABEL}=${this.runId}`);
  }
}

/** Docker's multiplexed log format: 8-byte header [stream, 0, 0, 0, size u32 BE] per frame. */
export function demuxDockerLog(buf: Buffer): Buffer {
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const kind = buf[i];
    if (kind !== 0 && kind !== 1 && kind !== 2) return buf; // not multiplexed (TTY)
    const size = buf.readUInt32BE(i + 4);
    parts.push(buf.subarray(i + 8, i + 8 + size));
    i += 8 + size;
  }
  return Buffer.concat(parts);
}

function untarSingleFile(archive: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolveDone, reject) => {
    const tar = spawn('tar', ['-xO'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    tar.stdout.on('data', (d: Buffer) => out.push(d));
    tar.on('error', reject);
    tar.on('close', (code) => (code === 0 ? resolveDone(Buffer.concat(out)) : reject(new Error(`tar exited ${code}`))));
    archive.pipe(tar.stdin);
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]);
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
