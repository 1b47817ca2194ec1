/**
 * The local runtime: the docker topology as child processes on loopback ports. One
 * `toxiproxy-server` child carries every link (a client proxy per node, a peer proxy per
 * ordered pair); nodes run as the system's local command (the store: `node
 * dist/store-node.mjs`) with their own data dirs; process faults are signals (SIGKILL,
 * SIGSTOP/SIGCONT). Only systems that take one address per peer (`peerAddressing:
 * 'per-peer'`) can run here: on one loopback there is no per-node name resolution.
 *
 * Every process carries the run's label in its environment (`JEPSEN_TS_RUN=<runId>`) and is
 * listed in `<state dir>/pids.json`, so `--cleanup` can find what a crashed run left without
 * ever touching a process it did not start.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { toxiproxyBinary, toxiproxyModuleVersion } from '../../docker/images.ts';
import type { NodeAddressing } from '../systems/system.ts';
import { realClock } from '../time.ts';
import { realTransport } from './http-transport.ts';
import { safeRelative } from './docker-runtime.ts';
import type { ClusterSpec, NodeHandle, NodeId, NodeState, Runtime, StartedCluster } from './runtime.ts';
import { PrerequisiteError } from './runtime.ts';
import type { LinkProxy } from './topology.ts';
import { allLinks, clientProxyName, clientProxyPort, peerProxyName, peerProxyPort } from './topology.ts';
import { ToxiproxyLinks } from './toxiproxy-links.ts';

export const LOCAL_STATE_ROOT = join(tmpdir(), 'jepsen-ts');
const RUN_ENV = 'JEPSEN_TS_RUN';

/** Loopback port plan from one base: the Toxiproxy API, proxies, and the nodes' own ports. */
export function localPorts(base: number, ids: readonly NodeId[]): { api: number; client: (id: NodeId) => number; nodeClient: (id: NodeId) => number; nodePeer: (id: NodeId) => number; peerProxy: (from: NodeId, to: NodeId) => number; all: number[] } {
  const ord = (id: NodeId): number => ids.indexOf(id) + 1;
  const plan = {
    api: base,
    client: (id: NodeId) => clientProxyPort(id, ids, base),
    nodeClient: (id: NodeId) => base + 100 + ord(id),
    nodePeer: (id: NodeId) => base + 200 + ord(id),
    peerProxy: (from: NodeId, to: NodeId) => peerProxyPort({ from, to }, ids, base + 1000),
  };
  const all = [plan.api, ...ids.flatMap((id) => [plan.client(id), plan.nodeClient(id), plan.nodePeer(id)]), ...allLinks(ids).map((l) => plan.peerProxy(l.from, l.to))];
  return { ...plan, all };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export class LocalRuntime implements Runtime {
  readonly name = 'local' as const;
  readonly clock = realClock;

  constructor(private readonly basePort: number = Number(process.env.JEPSEN_LOCAL_BASE_PORT ?? 31000)) {}

  checkPrerequisites(): Promise<void> {
    if (toxiproxyBinary() === null) return Promise.reject(new PrerequisiteError('toxiproxy-server not found on PATH. Install it: bash scripts/setup-host.sh'));
    return Promise.resolve();
  }

  async start(spec: ClusterSpec, log: (line: string) => void): Promise<StartedCluster> {
    if (spec.system.localCommand === undefined || spec.system.peerAddressing !== 'per-peer') {
      throw new PrerequisiteError(`${spec.system.system.name} cannot run on the local runtime (it needs one address per member and per-node name resolution): use --runtime docker`);
    }
    const ports = localPorts(this.basePort, spec.nodeIds);
    const busy: number[] = [];
    for (const p of ports.all) if (!(await portFree(p))) busy.push(p);
    if (busy.length > 0) {
      throw new PrerequisiteError(`ports busy on 127.0.0.1: ${busy.slice(0, 10).join(', ')}${busy.length > 10 ? ', ...' : ''} (set JEPSEN_LOCAL_BASE_PORT to move the range, or run --cleanup)`);
    }
    const cluster = new LocalCluster(spec, ports);
    try {
      await cluster.up(log);
    } catch (e) {
      await cluster.teardown();
      throw e;
    }
    return cluster;
  }

  versions(): Promise<Record<string, string>> {
    return Promise.resolve({ toxiproxy: toxiproxyModuleVersion() });
  }

  cleanupLeftovers(runId?: string): Promise<string[]> {
    return Promise.resolve(this.cleanupSync(runId));
  }

  private cleanupSync(runId?: string): string[] {
    if (!existsSync(LOCAL_STATE_ROOT)) return [];
    const removed: string[] = [];
    for (const run of readdirSync(LOCAL_STATE_ROOT)) {
      if (runId !== undefined && run !== runId) continue;
      const dir = join(LOCAL_STATE_ROOT, run);
      for (const pid of readPids(dir)) if (killLabelled(pid, run)) removed.push(`process ${pid} (run ${run})`);
      rmSync(dir, { recursive: true, force: true });
      removed.push(`directory ${dir}`);
    }
    return removed;
  }
}

function readPids(dir: string): number[] {
  try {
    return JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as number[];
  } catch {
    return [];
  }
}

/** SIGKILL `pid` only if its environment carries our run label (pids get reused). */
export function killLabelled(pid: number, runId: string): boolean {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
    if (!env.split('\0').includes(`${RUN_ENV}=${runId}`)) return false;
    process.kill(pid, 'SIGCONT');
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false;
  }
}

/** Processes still alive with the run's label (tests: nothing must be left behind). */
export function listLabelledProcesses(runId: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const env = readFileSync(`/proc/${entry}/environ`, 'utf8');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (env.split('\0').includes(`${RUN_ENV}=${runId}`) && !/\) Z /.test(stat)) out.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

class LocalNode implements NodeHandle {
  state: NodeState = 'killed';
  proc: ChildProcess | null = null;
  constructor(
    readonly id: NodeId,
    readonly clientUrl: string,
    private readonly dataDir: string,
    private readonly launch: () => ChildProcess,
  ) {}

  start(): Promise<void> {
    this.proc = this.launch();
    this.state = 'running';
    return Promise.resolve();
  }
  async kill(): Promise<void> {
    const p = this.proc;
    if (p === null || p.exitCode !== null || p.signalCode !== null) {
      this.state = 'killed';
      return;
    }
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGCONT');
    p.kill('SIGKILL');
    await exited;
    this.state = 'killed';
  }
  pause(): Promise<void> {
    this.proc?.kill('SIGSTOP');
    this.state = 'paused';
    return Promise.resolve();
  }
  resume(): Promise<void> {
    this.proc?.kill('SIGCONT');
    this.state = 'running';
    return Promise.resolve();
  }
  listDataFiles(): Promise<{ path: string; size: number }[]> {
    const out: { path: string; size: number }[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const full = join(dir, e.name);
        if (e.isDirectory()) walk(full);
        else if (e.isFile()) out.push({ path: relative(this.dataDir, full), size: statSync(full).size });
      }
    };
    if (existsSync(this.dataDir)) walk(this.dataDir);
    return Promise.resolve(out);
  }
  async readDataFile(path: string): Promise<Buffer> {
    return readFile(join(this.dataDir, safeRelative(path)));
  }
  async writeDataFile(path: string, data: Buffer): Promise<void> {
    const target = join(this.dataDir, safeRelative(path));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, data);
  }
}

class LocalCluster implements StartedCluster {
  readonly runtime = 'local' as const;
  readonly runId: string;
  readonly clock = realClock;
  readonly http = realTransport();
  nodes: LocalNode[] = [];
  private links: ToxiproxyLinks | null = null;
  private toxiproxy: ChildProcess | null = null;
  private readonly dir: string;
  private readonly pids = new Set<number>();
  private tornDown = false;

  constructor(
    private readonly spec: ClusterSpec,
    private readonly ports: ReturnType<typeof localPorts>,
  ) {
    this.runId = spec.runId;
    this.dir = join(LOCAL_STATE_ROOT, spec.runId);
  }

  get network(): ToxiproxyLinks {
    if (this.links === null) throw new Error('cluster not started');
    return this.links;
  }

  node(id: NodeId): LocalNode {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`unknown node ${id}`);
    return n;
  }

  private spawnLabelled(cmd: string, args: readonly string[], logName: string, env: Readonly<Record<string, string>> = {}): ChildProcess {
    const out = createWriteStream(join(this.dir, `${logName}.log`), { flags: 'a' });
    const p = spawn(cmd, args, { env: { ...process.env, ...env, [RUN_ENV]: this.runId }, stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout?.pipe(out, { end: false });
    p.stderr?.pipe(out, { end: false });
    if (p.pid !== undefined) this.pids.add(p.pid);
    writeFileSync(join(this.dir, 'pids.json'), JSON.stringify([...this.pids]));
    return p;
  }

  async up(log: (line: string) => void): Promise<void> {
    const ids = this.spec.nodeIds;
    const sys = this.spec.system;
    const [program, ...leading] = sys.localCommand ?? [];
    if (program === undefined) throw new Error(`${sys.system.name} has no local command`);
    mkdirSync(this.dir, { recursive: true });
    const bin = toxiproxyBinary() as string;
    log(`starting toxiproxy-server on 127.0.0.1:${this.ports.api}`);
    this.toxiproxy = this.spawnLabelled(bin, ['-host', '127.0.0.1', '-port', String(this.ports.api)], 'toxiproxy');
    const apiUrl = `http://127.0.0.1:${this.ports.api}`;
    await waitFor(async () => (await fetch(`${apiUrl}/version`, { signal: AbortSignal.timeout(500) })).ok, 10_000, 'toxiproxy-server');

    const proxies: LinkProxy[] = [];
    for (const id of ids) {
      proxies.push({ api: apiUrl, name: clientProxyName(id), listen: `127.0.0.1:${this.ports.client(id)}`, upstream: `127.0.0.1:${this.ports.nodeClient(id)}`, link: null });
    }
    for (const l of allLinks(ids)) {
      proxies.push({ api: apiUrl, name: peerProxyName(l), listen: `127.0.0.1:${this.ports.peerProxy(l.from, l.to)}`, upstream: `127.0.0.1:${this.ports.nodePeer(l.to)}`, link: l });
    }
    this.links = new ToxiproxyLinks(proxies);
    await this.links.populate();

    const clientUrls = new Map(ids.map((id) => [id, `http://127.0.0.1:${this.ports.client(id)}`]));
    log(`starting ${ids.length} ${sys.system.name} nodes (local processes)`);
    for (const id of ids) {
      const dataDir = join(this.dir, `${id}-data`);
      mkdirSync(dataDir, { recursive: true });
      const addr: NodeAddressing = {
        id,
        members: ids,
        dataDir,
        clientListen: { host: '127.0.0.1', port: this.ports.nodeClient(id) },
        peerListen: { host: '127.0.0.1', port: this.ports.nodePeer(id) },
        advertisedClientUrl: clientUrls.get(id) as string,
        clientUrls,
        peerAddress: (to) => ({ host: '127.0.0.1', port: this.ports.peerProxy(id, to) }),
        advertisedPeer: (of) => ({ host: '127.0.0.1', port: this.ports.nodePeer(of) }),
      };
      const nodeProgram = sys.nodeProgram(addr);
      const node = new LocalNode(id, addr.advertisedClientUrl, dataDir, () => this.spawnLabelled(program, [...leading, ...nodeProgram.args], id, nodeProgram.env));
      this.nodes.push(node);
      await node.start();
    }
  }

  collectLogs(dir: string): Promise<void> {
    mkdirSync(dir, { recursive: true });
    for (const name of [...this.nodes.map((n) => n.id), 'toxiproxy']) {
      const src = join(this.dir, `${name}.log`);
      if (existsSync(src)) copyFileSync(src, join(dir, `${name}.log`));
      const events = join(this.dir, `${name}-data`, 'events.jsonl');
      if (existsSync(events)) copyFileSync(events, join(dir, `${name}.events.jsonl`));
    }
    return Promise.resolve();
  }

  async teardown(): Promise<void> {
    if (this.tornDown) return;
    this.tornDown = true;
    await Promise.all(this.nodes.map((n) => n.kill().catch(() => {})));
    if (this.toxiproxy !== null && this.toxiproxy.exitCode === null) {
      const p = this.toxiproxy;
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGKILL');
      await exited;
    }
    for (const pid of this.pids) killLabelled(pid, this.runId);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
