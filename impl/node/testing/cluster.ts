/**
 * Real store-node processes on loopback for integration tests and the benchmark: random free
 * ports, temporary data dirs, and every process killed by `destroy()` (and on exit) even when
 * a test fails. Nodes run the esbuild bundle (built once per process into a temp dir), which
 * starts in a fraction of tsx's time and is exactly what the image ships.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

let bundlePromise: Promise<string> | null = null;

/** Build `impl/node/main.ts` into a temp bundle once per process (or use STORE_NODE_BUNDLE). */
export function nodeBundle(): Promise<string> {
  const given = process.env['STORE_NODE_BUNDLE'];
  if (given !== undefined && given !== '') return Promise.resolve(given);
  bundlePromise ??= (async () => {
    const { build } = await import('esbuild');
    const dir = mkdtempSync(join(tmpdir(), 'store-node-bundle-'));
    const outfile = join(dir, 'store-node.mjs');
    await build({
      entryPoints: [join(repoRoot, 'impl/node/main.ts')],
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      outfile,
      banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
      logLevel: 'error',
    });
    allTempDirs.add(dir);
    return outfile;
  })();
  return bundlePromise;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

const allProcesses = new Set<ChildProcess>();
const allTempDirs = new Set<string>();
process.once('exit', () => {
  for (const child of allProcesses) child.kill('SIGKILL');
  for (const dir of allTempDirs) rmSync(dir, { recursive: true, force: true });
});

export interface NodeSpec {
  readonly id: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
}

export interface ClusterOptions {
  readonly size?: number;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly snapshotEntries?: number;
  readonly storageFaultMode?: boolean;
  readonly secret?: string;
  readonly extraArgs?: readonly string[];
  /** Keep node stdout lines in memory (for assertions on logs). Default true. */
  readonly captureLogs?: boolean;
}

export class NodeProcess {
  child: ChildProcess | null = null;
  readonly logs: string[] = [];
  exitCode: number | null = null;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    readonly spec: NodeSpec,
    private readonly argsFor: (spec: NodeSpec, extra: readonly string[]) => string[],
    private readonly capture: boolean,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.spec.clientPort}`;
  }

  get running(): boolean {
    return this.child !== null && this.exitCode === null;
  }

  async start(extra: readonly string[] = []): Promise<void> {
    const bundle = await nodeBundle();
    // STORE_NODE_FLAGS: extra flags for node itself, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (profiling).
    const nodeFlags = (process.env['STORE_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');
    const child = spawn(process.execPath, [...nodeFlags, bundle, ...this.argsFor(this.spec, extra)], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exitCode = null;
    allProcesses.add(child);
    const collect = (chunk: Buffer): void => {
      if (!this.capture) return;
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') this.logs.push(line);
      if (this.logs.length > 20_000) this.logs.splice(0, 10_000);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise<void>((resolveExit) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal !== null ? 128 : -1);
        allProcesses.delete(child);
        resolveExit();
      });
    });
  }

  /** SIGKILL: no shutdown code runs (with storage fault mode, unsynced writes are lost). */
  async kill9(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }

  async waitExit(): Promise<number | null> {
    await this.exited;
    return this.exitCode;
  }
}

export class LocalCluster {
  readonly nodes: NodeProcess[] = [];
  private readonly root: string;
  readonly secret: string;

  private constructor(
    readonly options: ClusterOptions,
    specs: NodeSpec[],
    root: string,
  ) {
    this.root = root;
    this.secret = options.secret ?? 'integration-secret';
    for (const spec of specs) this.nodes.push(new NodeProcess(spec, (s, extra) => this.args(s, extra), options.captureLogs ?? true));
  }

  static async create(options: ClusterOptions = {}): Promise<LocalCluster> {
    const root = mkdtempSync(join(tmpdir(), 'store-cluster-'));
    allTempDirs.add(root);
    const specs: NodeSpec[] = [];
    for (let i = 1; i <= (options.size ?? 3); i++) specs.push(await LocalCluster.newSpec(root, `n${i}`));
    return new LocalCluster(options, specs, root);
  }

  static async newSpec(root: string, id: string): Promise<NodeSpec> {
    return { id, clientPort: await freePort(), peerPort: await freePort(), dataDir: join(root, id) };
  }

  /** A spec for a node that is not started with the cluster (to be added later). */
  async addSpec(id: string): Promise<NodeProcess> {
    const node = new NodeProcess(await LocalCluster.newSpec(this.root, id), (s, extra) => this.args(s, extra), this.options.captureLogs ?? true);
    this.nodes.push(node);
    return node;
  }

  node(id: string): NodeProcess {
    const node = this.nodes.find((n) => n.spec.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  private args(spec: NodeSpec, extra: readonly string[]): string[] {
    const others = this.nodes.filter((n) => n.spec.id !== spec.id);
    const o = this.options;
    const args = [
      '--id', spec.id,
      '--data-dir', spec.dataDir,
      '--client-host', '127.0.0.1',
      '--client-port', String(spec.clientPort),
      '--peer-host', '127.0.0.1',
      '--peer-port', String(spec.peerPort),
      '--advertise-client-url', `http://127.0.0.1:${spec.clientPort}`,
      '--cluster-secret', this.secret,
      '--tick-ms', String(o.tickMs ?? 10),
      '--election-ticks', String(o.electionTicks ?? 10),
      '--heartbeat-ticks', String(o.heartbeatTicks ?? 2),
      '--snapshot-entries', String(o.snapshotEntries ?? 10_000),
      '--log-level', 'info',
    ];
    if (others.length > 0) {
      args.push('--peers', others.map((n) => `${n.spec.id}=127.0.0.1:${n.spec.peerPort}`).join(','));
      args.push('--peer-client-urls', others.map((n) => `${n.spec.id}=${n.url}`).join(','));
    }
    if (o.storageFaultMode === true) args.push('--storage-fault-mode');
    args.push(...(o.extraArgs ?? []), ...extra);
    return args;
  }

  /** Start the initial members (those created with the cluster), bootstrapping together. */
  async start(): Promise<void> {
    const initial = this.nodes.map((n) => n.spec.id).join(',');
    await Promise.all(this.nodes.map((n) => n.start(['--initial-members', initial])));
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill9()));
    rmSync(this.root, { recursive: true, force: true });
    allTempDirs.delete(this.root);
  }

  running(): NodeProcess[] {
    return this.nodes.filter((n) => n.running);
  }

  /** Wait until the running nodes agree on one leader (among themselves) and it answers status. */
  async waitForLeader(timeoutMs = 15_000): Promise<NodeProcess> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const statuses = await Promise.all(this.running().map(async (n) => ({ n, s: await status(n).catch(() => null) })));
      const leaders = statuses.filter((x) => x.s?.role === 'leader');
      if (leaders.length === 1) {
        const leader = leaders[0]!;
        const agree = statuses.filter((x) => x.s?.leader === leader.n.spec.id).length;
        if (agree >= Math.floor(statuses.length / 2) + 1) return leader.n;
      }
      if (Date.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms: ${JSON.stringify(statuses.map((x) => ({ id: x.n.spec.id, s: x.s })))}`);
      await sleep(50);
    }
  }
}

export interface StatusBody {
  readonly id: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly members: { readonly voters: string[]; readonly learners: string[] };
  readonly unsafe: string[];
  readonly storageFaultMode: boolean;
}

export async function status(node: NodeProcess): Promise<StatusBody> {
  const res = await fetch(`${node.url}/v1/status`, { signal: AbortSignal.timeout(2_000) });
  return (await res.json()) as StatusBody;
}

export interface HttpReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export async function call(node: NodeProcess, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 5_000): Promise<HttpReply> {
  const init: RequestInit = { method, signal: AbortSignal.timeout(timeoutMs) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await fetch(`${node.url}${path}`, init);
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, body: parsed };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function eventually<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== null && value !== undefined && value !== false) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : JSON.stringify(err);
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last !== null ? `: ${last}` : ''}`);
    await sleep(everyMs);
  }
}

export { existsSync };
