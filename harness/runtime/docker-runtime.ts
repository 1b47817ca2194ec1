/**
 * The docker runtime: a private network, Toxiproxy in containers, one container per node of
 * the system under test with a named volume on its data directory (data survives a kill and
 * restart). Containers start through testcontainers; kill, pause, volumes, networks, data-file
 * access and cleanup go through dockerode.
 *
 * Two peer topologies, chosen by the system (`PreparedSystem.peerAddressing`):
 * - `per-peer` (the store: each node is told one address per peer): one Toxiproxy container
 *   carries every link, a proxy per ordered pair (`peer-<a>-<b>`, what a dials to reach b);
 * - `advertised` (etcd: each member advertises one peer URL that every other member dials):
 *   one Toxiproxy container per source node (`toxiproxy-<a>`), and node a's /etc/hosts maps
 *   every peer's name to its own proxy container, which listens on each peer's (unique) peer
 *   port and forwards to the real peer. So a→b is still one proxy of its own.
 * Either way a `client-<id>` proxy per node, published to the host, carries the clients.
 *
 * Nothing is ever pulled: images are built locally (docker/images.ts, and the system's own).
 * Every object carries the labels `jepsen-ts=true` and `jepsen-ts.run=<runId>` so `--cleanup`
 * can find leftovers.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import Dockerode from 'dockerode';
import { ensureToxiproxyImage, MissingToxiproxyError, toxiproxyBinary, toxiproxyModuleVersion } from '../../docker/images.ts';
import type { NodeAddressing, PreparedSystem } from '../systems/system.ts';
import { realClock } from '../time.ts';
import { realTransport } from './http-transport.ts';
import type { ClusterSpec, NodeHandle, NodeId, NodeState, Runtime, StartedCluster } from './runtime.ts';
import { LABEL, PrerequisiteError, RUN_LABEL } from './runtime.ts';
import type { LinkProxy, ProxySpec } from './topology.ts';
import { allLinks, clientProxyName, clientProxyPort, controlProxyName, controlProxyPort, peerProxyName, peerProxyPort } from './topology.ts';
import { ToxiproxyLinks } from './toxiproxy-links.ts';

// testcontainers offline: no Ryuk (its image cannot be pulled), reach mapped ports on loopback.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';

const TOXIPROXY_API_PORT = 8474;
const run = promisify(execFile);

export function runLabels(runId: string): Record<string, string> {
  return { [LABEL]: 'true', [RUN_LABEL]: runId };
}

export class DockerRuntime implements Runtime {
  readonly name = 'docker' as const;
  readonly clock = realClock;
  readonly docker = new Dockerode();

  async checkPrerequisites(): Promise<void> {
    try {
      await withTimeout(this.docker.ping(), 5000, 'docker ping');
    } catch (e) {
      throw new PrerequisiteError(`Docker engine unreachable (${errorText(e)}). Start it (as root: bash scripts/setup-host.sh), or use --runtime local.`);
    }
    if (toxiproxyBinary() === null) {
      throw new PrerequisiteError('toxiproxy-server not found (needed to build the Toxiproxy image). Install it: bash scripts/setup-host.sh');
    }
  }

  async start(spec: ClusterSpec, log: (line: string) => void): Promise<StartedCluster> {
    if (spec.system.image === undefined) throw new PrerequisiteError(`${spec.system.system.name} has no image for the docker runtime`);
    let toxiproxyImage: string;
    try {
      toxiproxyImage = await ensureToxiproxyImage(this.docker, log);
    } catch (e) {
      if (e instanceof MissingToxiproxyError) throw new PrerequisiteError(e.message);
      throw e;
    }
    const cluster = new DockerCluster(this.docker, spec);
    try {
      await cluster.up(spec.system.image, toxiproxyImage, log);
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
    private readonly dataDir: string,
    readonly controlUrl?: string,
  ) {}

  async waitForExit(timeoutMs: number): Promise<boolean> {
    // Bounded polling of the container's state (a failpoint's panic ends the process; Docker's
    // `wait` cannot be given a timeout).
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await this.container.inspect();
      if (!info.State.Running) {
        this.state = 'killed';
        return true;
      }
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, Math.min(100, Math.max(1, deadline - Date.now()))));
    }
  }

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

  /** Works on a stopped container too: the archive API reads the container's filesystem, volumes included. */
  async listDataFiles(): Promise<{ path: string; size: number }[]> {
    const archive = await this.container.getArchive({ path: `${this.dataDir}/.` });
    const listing = await pipeThrough(archive, 'tar', ['-tvf', '-']);
    const out: { path: string; size: number }[] = [];
    for (const line of listing.toString('utf8').split('\n')) {
      // -rw-r--r-- 0/0   1234 2026-12-04 03:40 ./wal/0000.wal
      const m = /^-\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+(.+)$/.exec(line.trim());
      if (m === null) continue;
      out.push({ path: (m[2] ?? '').replace(/^\.\//, ''), size: Number(m[1]) });
    }
    return out;
  }
  async readDataFile(path: string): Promise<Buffer> {
    const archive = await this.container.getArchive({ path: posix.join(this.dataDir, safeRelative(path)) });
    return pipeThrough(archive, 'tar', ['-xOf', '-']);
  }
  async writeDataFile(path: string, data: Buffer): Promise<void> {
    const rel = safeRelative(path);
    const tmp = mkdtempSync(join(tmpdir(), 'jepsen-datafile-'));
    try {
      mkdirSync(join(tmp, dirname(rel)), { recursive: true });
      writeFileSync(join(tmp, rel), data);
      const { stdout } = await run('tar', ['-C', tmp, '-cf', '-', rel], { encoding: 'buffer', maxBuffer: 1 << 30 });
      await this.container.putArchive(stdout, { path: this.dataDir });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
}

class DockerCluster implements StartedCluster {
  readonly runtime = 'docker' as const;
  readonly runId: string;
  readonly clock = realClock;
  readonly http = realTransport();
  nodes: DockerNode[] = [];
  private links: ToxiproxyLinks | null = null;
  private readonly proxyContainers: [string, Dockerode.Container][] = [];
  private tornDown = false;
  /** Whether the host reaches containers by their bridge IP (decided once, at the first container). */
  private direct: boolean | null = null;
  private readonly labels: Record<string, string>;
  private readonly networkName: string;
  private readonly system: PreparedSystem;

  constructor(
    private readonly docker: Dockerode,
    private readonly spec: ClusterSpec,
  ) {
    this.runId = spec.runId;
    this.system = spec.system;
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

  private async startToxiproxy(image: string, name: string, alias: string, exposed: number[]): Promise<{ api: string; container: Dockerode.Container; clientBase: (port: number) => string; ip: string }> {
    const { GenericContainer, Wait } = await import('testcontainers');
    const c = await new GenericContainer(image)
      .withName(`jepsen-${this.runId}-${name}`)
      .withNetworkMode(this.networkName)
      .withNetworkAliases(alias)
      .withLabels(this.labels)
      .withExposedPorts(TOXIPROXY_API_PORT, ...exposed)
      .withWaitStrategy(Wait.forHttp('/version', TOXIPROXY_API_PORT))
      .withStartupTimeout(30_000)
      .start();
    const container = this.docker.getContainer(c.getId());
    this.proxyContainers.push([name, container]);
    const ip = c.getIpAddress(this.networkName);
    // On Linux the host reaches a bridge network's containers directly: that skips
    // docker-proxy, the userland process behind published ports, which cost as much CPU
    // per request as the store's leader under load. Elsewhere (Docker Desktop) published ports.
    if (this.direct === null) this.direct = process.env.JEPSEN_DOCKER_PUBLISHED_PORTS !== '1' && (await reachable(`http://${ip}:${TOXIPROXY_API_PORT}/version`));
    const direct = this.direct;
    return {
      api: direct ? `http://${ip}:${TOXIPROXY_API_PORT}` : `http://127.0.0.1:${c.getMappedPort(TOXIPROXY_API_PORT)}`,
      container,
      clientBase: (p) => (direct ? `http://${ip}:${p}` : `http://127.0.0.1:${c.getMappedPort(p)}`),
      ip,
    };
  }

  async up(nodeImage: string, toxiproxyImage: string, log: (line: string) => void): Promise<void> {
    const { GenericContainer } = await import('testcontainers');
    const ids = this.spec.nodeIds;
    const sys = this.system;
    const advertised = sys.peerAddressing === 'advertised';
    await this.docker.createNetwork({ Name: this.networkName, Driver: 'bridge', Labels: this.labels, CheckDuplicate: true });

    // Advertised addressing needs a distinct peer port per node (a source's proxy container
    // tells destinations apart by port); per-peer addressing keeps the system's own port.
    const peerPort = (id: NodeId): number => (advertised ? sys.containerPorts.peer + ids.indexOf(id) + 1 : sys.containerPorts.peer);
    const clientPort = sys.containerPorts.client;

    const clientPorts = ids.map((id) => clientProxyPort(id, ids));
    const controlPort = sys.containerPorts.control;
    const controlPorts = controlPort === undefined ? [] : ids.map((id) => controlProxyPort(id, ids));
    log(`starting toxiproxy (${toxiproxyImage})${advertised ? `, and one per node for peer links` : ''}`);
    const main = await this.startToxiproxy(toxiproxyImage, 'toxiproxy', 'toxiproxy', [...clientPorts, ...controlPorts]);
    const perSource = new Map<NodeId, Awaited<ReturnType<DockerCluster['startToxiproxy']>>>();
    if (advertised) {
      const started = await Promise.all(ids.map((id) => this.startToxiproxy(toxiproxyImage, `toxiproxy-${id}`, `toxiproxy-${id}`, [])));
      ids.forEach((id, i) => perSource.set(id, started[i] as Awaited<ReturnType<DockerCluster['startToxiproxy']>>));
    }

    const proxies: LinkProxy[] = [];
    const byApi = new Map<string, ProxySpec[]>();
    const add = (api: string, p: ProxySpec, link: LinkProxy['link']): void => {
      byApi.set(api, [...(byApi.get(api) ?? []), p]);
      proxies.push({ api, name: p.name, listen: p.listen, upstream: p.upstream, link });
    };
    for (const id of ids) add(main.api, { name: clientProxyName(id), listen: `0.0.0.0:${clientProxyPort(id, ids)}`, upstream: `${id}:${clientPort}` }, null);
    if (controlPort !== undefined) for (const id of ids) add(main.api, { name: controlProxyName(id), listen: `0.0.0.0:${controlProxyPort(id, ids)}`, upstream: `${id}:${controlPort}` }, null);
    for (const link of allLinks(ids)) {
      if (advertised) {
        const src = perSource.get(link.from);
        if (src === undefined) throw new Error(`no proxy container for ${link.from}`);
        add(src.api, { name: peerProxyName(link), listen: `0.0.0.0:${peerPort(link.to)}`, upstream: `${link.to}:${peerPort(link.to)}` }, link);
      } else {
        add(main.api, { name: peerProxyName(link), listen: `0.0.0.0:${peerProxyPort(link, ids)}`, upstream: `${link.to}:${peerPort(link.to)}` }, link);
      }
    }
    this.links = new ToxiproxyLinks(proxies);
    await this.links.populate();

    const clientUrls = new Map(ids.map((id) => [id, main.clientBase(clientProxyPort(id, ids))]));
    const controlUrl = (id: NodeId): string | undefined => (controlPort === undefined ? undefined : main.clientBase(controlProxyPort(id, ids)));
    log(`starting ${ids.length} ${sys.system.name} nodes (${nodeImage})`);
    const started = await Promise.all(
      ids.map(async (id) => {
        const volume = `jepsen-${this.runId}-${id}-data`;
        await this.docker.createVolume({ Name: volume, Labels: this.labels });
        const clientUrl = clientUrls.get(id) as string;
        const addr: NodeAddressing = {
          id,
          members: ids,
          dataDir: sys.containerDataDir,
          clientListen: { host: '0.0.0.0', port: clientPort },
          peerListen: { host: '0.0.0.0', port: peerPort(id) },
          advertisedClientUrl: clientUrl,
          clientUrls,
          peerAddress: (to) => (advertised ? { host: to, port: peerPort(to) } : { host: 'toxiproxy', port: peerProxyPort({ from: id, to }, ids) }),
          advertisedPeer: (of) => ({ host: of, port: peerPort(of) }),
        };
        const program = sys.nodeProgram(addr);
        let container = new GenericContainer(nodeImage)
          .withName(`jepsen-${this.runId}-${id}`)
          .withHostname(id)
          .withNetworkMode(this.networkName)
          .withNetworkAliases(id)
          .withLabels(this.labels)
          .withBindMounts([{ source: volume, target: sys.containerDataDir, mode: 'rw' }])
          .withCommand([...program.args])
          .withEnvironment({ ...program.env })
          .withStartupTimeout(30_000);
        const source = perSource.get(id);
        if (source !== undefined) {
          // Every peer's name resolves, in this node only, to this node's own proxy container.
          container = container.withExtraHosts(ids.filter((p) => p !== id).map((p) => ({ host: p, ipAddress: source.ip })));
        }
        const c = await container.start();
        return new DockerNode(id, clientUrl, this.docker.getContainer(c.getId()), sys.containerDataDir, controlUrl(id));
      }),
    );
    this.nodes = started;
  }

  async collectLogs(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    const targets: [string, Dockerode.Container][] = [...this.nodes.map((n): [string, Dockerode.Container] => [n.id, n.container]), ...this.proxyContainers];
    await Promise.all(
      targets.map(async ([name, c]) => {
        try {
          const buf = (await withTimeout(c.logs({ stdout: true, stderr: true, follow: false, timestamps: false }), 30_000, `logs of ${name}`)) as unknown as Buffer;
          writeFileSync(join(dir, `${name}.log`), demuxDockerLog(buf));
        } catch (e) {
          writeFileSync(join(dir, `${name}.log`), `could not collect logs: ${errorText(e)}\n`);
        }
        if (name.startsWith('toxiproxy')) return;
        try {
          const archive = await c.getArchive({ path: posix.join(this.system.containerDataDir, 'events.jsonl') });
          writeFileSync(join(dir, `${name}.events.jsonl`), await pipeThrough(archive, 'tar', ['-xO']));
        } catch {
          // No events file: the node never changed role, never started, or the system keeps none.
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

async function reachable(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

/** Pipe a stream through a command (tar) and collect its stdout. */
function pipeThrough(input: NodeJS.ReadableStream, cmd: string, args: string[]): Promise<Buffer> {
  return new Promise((resolveDone, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolveDone(Buffer.concat(out)) : reject(new Error(`${cmd} exited ${code}: ${err.trim()}`))));
    input.pipe(p.stdin);
  });
}

/** A data-file path must stay inside the data directory. */
export function safeRelative(path: string): string {
  const norm = posix.normalize(path).replace(/^\/+/, '');
  if (norm === '' || norm === '.' || norm.startsWith('..')) throw new Error(`data file path ${JSON.stringify(path)} is outside the data directory`);
  return norm;
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
