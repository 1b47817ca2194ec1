/**
 * The project's own Raft config store as a system under test (impl/API.md): the first system
 * behind the seam, and the default. Nodes run the esbuild bundle of impl/node/main.ts (built
 * by `npm run build:node` unless `--bundle` names another), in an image built locally from the
 * host's Node runtime (docker) or as `node <bundle>` (local).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import Dockerode from 'dockerode';
import { ensureNodeBase, ensureStoreNodeImage, imageExists, MissingBundleError, REPO_ROOT, STORE_NODE_BUNDLE } from '../../../docker/images.ts';
import type { NodeEvent } from '../../../checkers/history/types.ts';
import type { OpName } from '../../../workloads/client.ts';
import { PrerequisiteError, UsageError } from '../../errors.ts';
import type { NodeHandle, RuntimeName, StartedCluster } from '../../runtime/runtime.ts';
import type { ClockChange, Collected, HistoryClock, NodeAddressing, NodeProgram, NodeStatusSample, PreparedSystem, System, SystemRunOptions } from '../system.ts';
import { RaftstoreClient } from './client.ts';
import { RetryingRaftstoreClient } from './retrying-client.ts';
import type { HttpEnv } from './http.ts';
import { call } from './http.ts';
import { readRoleEvents } from './role-events.ts';
import { DEFAULT_MAX_INFLIGHT_BYTES } from '../../../impl/raft/index.ts';

export const RAFTSTORE_UNSAFE = ['stale-reads', 'ack-before-commit', 'no-fsync', 'lease-no-wait'] as const;

const OPS: readonly OpName[] = ['read', 'put', 'create', 'delete', 'range', 'set-add', 'set-read', 'lease-acquire', 'lease-renew', 'lease-release', 'watch', 'txn-append'];

/** `--client retrying`: StoreClient's attempts per request (`--system-option retry-attempts`). */
const MAX_RETRY_ATTEMPTS = 1000;
const DEFAULT_RETRY_ATTEMPTS = 8;
/** `--system-option max-append-bytes` / `max-proposal-bytes`: the nodes' flags' range. */
const MIN_BYTES_OPTION = 256;
/** Byte-size system options, each passed on as the node flag of the same name. */
const BYTE_OPTIONS = ['max-append-bytes', 'max-proposal-bytes'] as const;

/** Container ports and data directory, as docker/store-node.Dockerfile declares them. */
const CONTAINER = { client: 8000, peer: 7000, dataDir: '/data' } as const;

export const raftstore: System = {
  name: 'raftstore',
  description: "this project's Raft config store (impl/)",
  supports: {
    ops: new Set(OPS),
    runtimes: new Set<RuntimeName>(['docker', 'local', 'sim']),
    features: new Set(['clock', 'membership', 'storage-fault-mode', 'unsafe', 'data-files', 'retrying-client']),
    readConsistency: new Set(['linearizable', 'serializable']),
    unsafe: RAFTSTORE_UNSAFE,
  },
  optionHelp: {
    bundle: 'store node bundle to run (default dist/store-node.mjs, built by `npm run build:node`)',
    build: '"false" to skip `npm run build:node`',
    'retry-attempts': `--client retrying: StoreClient's attempts per request (1..${MAX_RETRY_ATTEMPTS}; default ${DEFAULT_RETRY_ATTEMPTS})`,
    'max-append-bytes': `nodes' --max-append-bytes: most bytes of entries per append message (${MIN_BYTES_OPTION}..${DEFAULT_MAX_INFLIGHT_BYTES}; default 1 MiB); small values split appends, which exposes commit-rule mistakes`,
    'max-proposal-bytes': `nodes' --max-proposal-bytes: most bytes of one replicated write, larger ones are refused with too-large (${MIN_BYTES_OPTION}..${DEFAULT_MAX_INFLIGHT_BYTES}; default 1 MiB)`,
  },
  checkOptions: (o) => {
    byteOptionFlags(o);
  },
  prepare: prepareRaftstore,
};

/** The node flags for the byte-size system options given; a UsageError naming the option when one is out of range. */
function byteOptionFlags(systemOptions: Readonly<Record<string, string>>): string[] {
  const flags: string[] = [];
  for (const name of BYTE_OPTIONS) {
    const raw = systemOptions[name];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < MIN_BYTES_OPTION || n > DEFAULT_MAX_INFLIGHT_BYTES) {
      throw new UsageError(`--system-option ${name}: expected an integer from ${MIN_BYTES_OPTION} to ${DEFAULT_MAX_INFLIGHT_BYTES}, got "${raw}"`);
    }
    flags.push(`--${name}`, String(n));
  }
  return flags;
}

function retryAttemptsOf(options: SystemRunOptions): number {
  const raw = options.systemOptions['retry-attempts'];
  if (raw === undefined) return DEFAULT_RETRY_ATTEMPTS;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > MAX_RETRY_ATTEMPTS) throw new UsageError(`--system-option retry-attempts: expected an integer from 1 to ${MAX_RETRY_ATTEMPTS}, got "${raw}"`);
  return n;
}

function bundleOf(options: SystemRunOptions): string {
  return options.systemOptions.bundle ?? STORE_NODE_BUNDLE;
}

async function prepareRaftstore(runtime: RuntimeName, options: SystemRunOptions, log: (line: string) => void): Promise<PreparedSystem> {
  for (const u of options.unsafe) if (!(RAFTSTORE_UNSAFE as readonly string[]).includes(u)) throw new UsageError(`--unsafe: unknown switch "${u}" (raftstore knows: ${RAFTSTORE_UNSAFE.join(', ')})`);
  let bundleVersion: string;
  if (runtime === 'sim') {
    // The simulation runs the node's source (impl/node/start-node.ts) in this process: there
    // is no bundle to build or choose, and no image.
    if (options.systemOptions.bundle !== undefined) throw new UsageError('--bundle: --runtime sim runs the store from source in this process, not a bundle');
    if (options.systemOptions.build === 'false') throw new UsageError('--no-build: --runtime sim builds nothing (it runs the store from source in this process)');
    bundleVersion = 'source (in-process simulation)';
  } else {
    const bundle = bundleOf(options);
    if (options.systemOptions.bundle === undefined && options.systemOptions.build !== 'false') buildBundle(log);
    if (!existsSync(bundle)) throw new PrerequisiteError(`${bundle} is missing: run \`npm run build:node\``);
    bundleVersion = `bundle ${createHash('sha256').update(readFileSync(bundle)).digest('hex').slice(0, 12)}`;
  }

  let image: string | undefined;
  if (runtime === 'docker') {
    const docker = new Dockerode();
    const base = (await imageExists(docker, 'node:20-bookworm-slim')) ? 'node:20-bookworm-slim' : await ensureNodeBase(docker, log);
    try {
      image = await ensureStoreNodeImage(docker, base, log, bundleOf(options));
    } catch (e) {
      if (e instanceof MissingBundleError) throw new PrerequisiteError(e.message);
      throw e;
    }
  }

  const retryAttempts = retryAttemptsOf(options);
  const env = (cluster: StartedCluster): HttpEnv => ({ http: cluster.http, clock: cluster.clock });
  const runTag = options.clusterSecret.slice(0, 6);

  const prepared: PreparedSystem = {
    system: raftstore,
    peerAddressing: 'per-peer',
    ...(image !== undefined ? { image } : {}),
    localCommand: [process.execPath, bundleOf(options)],
    containerPorts: { client: CONTAINER.client, peer: CONTAINER.peer },
    containerDataDir: CONTAINER.dataDir,
    versions: { raftstore: bundleVersion },
    nodeProgram: (addr) => nodeProgram(addr, options),
    status(node: NodeHandle, timeoutMs: number, cluster: StartedCluster): Promise<NodeStatusSample | null> {
      return statusOf(node.clientUrl, timeoutMs, env(cluster));
    },
    openClient(process, node, clientOptions, cluster) {
      const o = { ...clientOptions, process, node: node.id, urls: new Map(cluster.nodes.map((n) => [n.id, n.clientUrl])), runTag };
      // --client retrying: the store's own StoreClient, with its retries and exactly-once ids.
      if (clientOptions.mode === 'retrying') return new RetryingRaftstoreClient({ ...o, maxAttempts: retryAttempts }, env(cluster));
      return new RaftstoreClient(o, env(cluster));
    },
    collect: (cluster, logsDir, history) => collect(cluster, logsDir, history, env(cluster)),
    clock: {
      async set(node: NodeHandle, change: ClockChange, cluster: StartedCluster) {
        const out = await call(node.clientUrl, '/v1/test/clock', { method: 'POST', body: change, headers: { 'x-cluster-secret': options.clusterSecret }, timeoutMs: 3000 }, env(cluster));
        return out.kind === 'ok' ? 'ok' : out.code;
      },
    },
    membership: {
      async remove(cluster, leader, target) {
        const out = await call(leader.clientUrl, '/v1/members/remove', { method: 'POST', body: { id: target }, timeoutMs: 5000 }, env(cluster));
        return { ok: out.kind === 'ok', detail: out.kind === 'ok' ? out.body : out.code };
      },
      async add(cluster, leader, target) {
        const out = await call(leader.clientUrl, '/v1/members/add', { method: 'POST', body: { id: target }, timeoutMs: 5000 }, env(cluster));
        return { ok: out.kind === 'ok', detail: out.kind === 'ok' ? out.body : out.code };
      },
    },
    // impl/storage/FORMAT.md: WAL segments and the snapshot files.
    dataFiles: { log: [/^wal\/[0-9a-f]{16}\.wal$/], snapshot: [/^snap\/[0-9a-f]{16}-[0-9a-f]{16}\.snap$/] },
  };
  return prepared;
}

function buildBundle(log: (line: string) => void): void {
  const pkg = JSON.parse(readFileSync(`${REPO_ROOT}/package.json`, 'utf8')) as { scripts?: Record<string, string> };
  if (pkg.scripts?.['build:node'] === undefined) return;
  log('building the store node bundle (npm run build:node)');
  try {
    execFileSync('npm', ['run', '--silent', 'build:node'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new PrerequisiteError(`\`npm run build:node\` failed${stderr !== '' ? `: ${stderr}` : ''}`);
  }
}

export function nodeProgram(addr: NodeAddressing, options: SystemRunOptions): NodeProgram {
  const peers = addr.members
    .filter((p) => p !== addr.id)
    .map((p) => {
      const a = addr.peerAddress(p);
      return `${p}=${a.host}:${a.port}`;
    })
    .join(',');
  return {
    args: [
      '--id', addr.id,
      '--peers', peers,
      '--data-dir', addr.dataDir,
      '--client-host', addr.clientListen.host,
      '--client-port', String(addr.clientListen.port),
      '--peer-host', addr.peerListen.host,
      '--peer-port', String(addr.peerListen.port),
      '--cluster-secret', options.clusterSecret,
      '--advertise-client-url', addr.advertisedClientUrl,
      '--log-level', options.logLevel,
      ...(options.enableFaultInjection ? ['--enable-fault-injection'] : []),
      ...(options.unsafe.length > 0 ? ['--unsafe', options.unsafe.join(',')] : []),
      ...(options.storageFaultMode ? ['--storage-fault-mode'] : []),
      ...(options.snapshotEntries !== undefined ? ['--snapshot-entries', String(options.snapshotEntries)] : []),
      ...byteOptionFlags(options.systemOptions),
    ],
  };
}

interface StatusBody {
  id?: string;
  role?: string;
  term?: number;
  leader?: string | null;
  commit?: number;
  applied?: number;
}

export async function statusOf(url: string, timeoutMs: number, env: HttpEnv): Promise<NodeStatusSample | null> {
  const out = await call(url, '/v1/status', { timeoutMs }, env);
  if (out.kind !== 'ok') return null;
  const s = out.body as StatusBody;
  if (typeof s.term !== 'number') return null;
  return { role: s.role ?? 'unknown', term: s.term, leader: s.leader ?? null, commit: s.commit ?? 0, applied: s.applied ?? 0 };
}

/** Entries per /v1/digest request (the store's limit is 10,000). */
const DIGEST_PAGE = 10_000;

/**
 * Each node's applied-log digest (for the replicas checker), page by page with retries, and
 * the nodes' role logs. What cannot be collected is said, per node, in `problems`, so the
 * replicas checker's verdict names it and the other checkers' verdicts still stand.
 */
async function collect(cluster: StartedCluster, logsDir: string, history: HistoryClock, env: HttpEnv): Promise<Collected> {
  const events: NodeEvent[] = [];
  const problems: string[] = [];
  await Promise.all(
    cluster.nodes.map(async (n) => {
      if (n.state !== 'running') {
        problems.push(`${n.id}: not running at collection (${n.state})`);
        return;
      }
      let status: NodeStatusSample | null = null;
      for (let attempt = 0; attempt < 5 && status === null; attempt++) {
        status = await statusOf(n.clientUrl, 3000, env);
        if (status === null) await env.clock.sleep(500);
      }
      if (status === null) {
        problems.push(`${n.id}: /v1/status did not answer (5 tries, 3 s each)`);
        return;
      }
      const entries: { index: number; term: number; hash: string }[] = [];
      for (let from = 1; from <= status.applied; from += DIGEST_PAGE) {
        const to = Math.min(status.applied, from + DIGEST_PAGE - 1);
        let page: unknown = null;
        let last = '';
        for (let attempt = 0; attempt < 5 && page === null; attempt++) {
          const out = await call(n.clientUrl, `/v1/digest?from=${from}&to=${to}`, { timeoutMs: 10_000 }, env);
          if (out.kind === 'ok' && Array.isArray(out.body.entries)) page = out.body.entries;
          else {
            last = out.kind === 'ok' ? 'no entries in the answer' : out.code;
            await env.clock.sleep(500);
          }
        }
        if (page === null) {
          problems.push(`${n.id}: /v1/digest from ${from} to ${to} failed (5 tries): ${last}`);
          break;
        }
        entries.push(...(page as { index: number; term: number; hash: string }[]));
      }
      if (entries.length > 0) events.push({ kind: 'digest', time: history.now(), node: n.id, entries });
    }),
  );
  for (const n of cluster.nodes) events.push(...readRoleEvents(`${logsDir}/${n.id}.events.jsonl`, history.startedAtMs));
  return { events, problems };
}
