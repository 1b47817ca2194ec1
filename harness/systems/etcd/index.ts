/**
 * etcd as a system under test: the real `etcd` server binary (Debian's etcd-server by default,
 * any release through `--etcd-bin`, built by scripts/build-etcd.sh), in an image built locally
 * from that binary, behind the docker runtime's advertised-address topology (each member
 * advertises one peer URL; every node's peers resolve, in that node only, to its own Toxiproxy).
 *
 * Hooks: `status` is Maintenance.Status (leader, raft term and indexes); `collect` hashes the
 * key space at one revision on every member (Maintenance.HashKV: the replicas checker's
 * counterpart for etcd) and reads role changes from the members' raft logs; `admin` is
 * compaction and defragmentation; `dataFiles` name the WAL, snapshots and the bbolt database.
 * `failpoints`: with the `failpoint` nemesis the release is built with etcd's gofail failpoints
 * (scripts/build-etcd.sh --failpoints), each member serves them on a control port
 * (GOFAIL_HTTP), and the nemesis crashes members at them, as etcd's robustness tests do.
 * No clock hook, no membership hook (a removed member must be wiped and re-added with
 * `--initial-cluster-state existing`: not built), no unsafe switches, no fault mode.
 */
import { readFileSync, existsSync } from 'node:fs';
import Dockerode from 'dockerode';
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import type { NodeEvent } from '../../../checkers/history/types.ts';
import { ensureEtcdImage } from '../../../docker/etcd-image.ts';
import type { OpName } from '../../../workloads/client.ts';
import { PrerequisiteError, UsageError } from '../../errors.ts';
import { PANIC_FAILPOINTS } from '../../nemesis/failpoint.ts';
import type { NodeHandle, NodeId, RuntimeName, StartedCluster } from '../../runtime/runtime.ts';
import type { Collected, FailpointControl, HistoryClock, NodeAddressing, NodeProgram, NodeStatusSample, PreparedSystem, System, SystemRunOptions } from '../system.ts';
import { EtcdClient } from './client.ts';
import { hashKV } from './hashkv.ts';
import { knownBugsOf } from './known-bugs.ts';
import { buildEtcdRelease, checkEtcdBin, checkEtcdVersion, releaseBelow, releaseTriple, resolveEtcd } from './version.ts';

const OPS: readonly OpName[] = ['read', 'put', 'create', 'delete', 'range', 'set-add', 'set-read', 'lease-acquire', 'lease-renew', 'lease-release', 'watch', 'txn-append'];

/** Inside the container: etcd's data under the volume (etcd wants its own 0700 directory). */
const VOLUME = '/data';
const DATA_DIR = `${VOLUME}/etcd`;
const CLIENT_PORT = 2379;
const PEER_PORT = 2380;
/** gofail's HTTP endpoint in a member built with failpoints (GOFAIL_HTTP), reached through the node's control proxy. */
const FAILPOINT_PORT = 22381;

export const etcd: System = {
  name: 'etcd',
  description: 'etcd (the real server; Debian etcd-server by default, --etcd-version or --etcd-bin for any release)',
  supports: {
    ops: new Set(OPS),
    runtimes: new Set<RuntimeName>(['docker']),
    features: new Set(['admin', 'data-files', 'failpoints']),
    readConsistency: new Set(['linearizable', 'serializable']),
    unsafe: [],
  },
  optionHelp: {
    etcdBin: 'the etcd server binary (--etcd-bin)',
    etcdVersion: 'the release to build and test (--etcd-version)',
    failpoints: `the failpoints the failpoint nemesis may arm, comma-separated, of ${PANIC_FAILPOINTS.join(', ')} (default: those the build has that ordinary traffic reaches, and the defragmentation and compaction ones, which the nemesis triggers)`,
    compactionBatchLimit: "most revisions a compaction deletes per batch (etcd's --experimental-compaction-batch-limit, 3.6+: --compaction-batch-limit; default etcd's 1000): small, a compaction spans several batches and commits, as in etcd's robustness scenario for etcd#19179",
  },
  checkOptions: (o, run) => {
    const userBin = o.etcdBin !== undefined ? checkEtcdBin(o.etcdBin) : null;
    if (o.etcdVersion !== undefined) checkEtcdVersion(o.etcdVersion);
    if (o.failpoints !== undefined) failpointNames(o.failpoints);
    if (o.compactionBatchLimit !== undefined) compactionBatchLimit(o.compactionBatchLimit);
    if (run.faultInjection) {
      if (userBin !== null && userBin.gofail === null) {
        throw new UsageError(`--nemesis failpoint: ${o.etcdBin} has no failpoints (build one with \`scripts/build-etcd.sh vX.Y.Z --failpoints\`, or give --etcd-version vX.Y.Z)`);
      }
      if (o.etcdBin === undefined && o.etcdVersion === undefined) {
        throw new UsageError('--nemesis failpoint: etcd needs a build with failpoints: give --etcd-version vX.Y.Z (it is built with them), or --etcd-bin of a `scripts/build-etcd.sh vX.Y.Z --failpoints` binary');
      }
    }
  },
  preflight: async (o, log, run) => {
    if (o.etcdVersion !== undefined) await buildEtcdRelease(o.etcdVersion, log, run.faultInjection);
  },
  prepare: prepareEtcd,
};

/** `--system-option compactionBatchLimit=N`: a positive integer, or UsageError. */
export function compactionBatchLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--system-option compactionBatchLimit: expected a positive integer, got "${value}"`);
  return n;
}

/** `--system-option failpoints=a,b`: names the failpoint nemesis knows, or UsageError naming the unknown one. */
function failpointNames(spec: string): string[] {
  const names = spec.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (names.length === 0) throw new UsageError('--system-option failpoints: empty list');
  const unknown = names.filter((n) => !PANIC_FAILPOINTS.includes(n));
  if (unknown.length > 0) throw new UsageError(`--system-option failpoints: unknown failpoint ${unknown.map((u) => JSON.stringify(u)).join(', ')} (known: ${PANIC_FAILPOINTS.join(', ')})`);
  return names;
}

/**
 * gofail's HTTP API on each member's control port: GET / lists `name=value` lines, PUT /name
 * with the term (`panic`, `sleep(ms)`) arms one, DELETE /name disarms it.
 */
function gofailControl(allowed: ReadonlySet<string> | null, admin: Admin): FailpointControl {
  const url = (node: NodeHandle, path: string): string => {
    if (node.controlUrl === undefined) throw new Error(`node ${node.id} has no control port`);
    return `${node.controlUrl}${path}`;
  };
  const call = async (node: NodeHandle, method: string, path: string, timeoutMs: number, body?: string): Promise<string> => {
    const res = await fetch(url(node, path), { method, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    if (!res.ok) throw new Error(`gofail ${method} ${path} on ${node.id}: HTTP ${res.status} ${text.trim()}`);
    return text;
  };
  return {
    named: allowed !== null,
    async available(node, timeoutMs) {
      const text = await call(node, 'GET', '/', timeoutMs);
      const names = text.split('\n').map((l) => l.split('=')[0]?.trim() ?? '').filter((n) => n !== '');
      return names.filter((n) => allowed === null || allowed.has(n));
    },
    async arm(node, name, action, timeoutMs) {
      await call(node, 'PUT', `/${encodeURIComponent(name)}`, timeoutMs, action);
    },
    async disarm(node, name, timeoutMs) {
      await call(node, 'DELETE', `/${encodeURIComponent(name)}`, timeoutMs);
    },
    // The defragmentation failpoints (backend.defrag) run only during a defrag: ask the member
    // for one, as etcd's robustness tests' triggerDefrag does.
    triggerFor(name) {
      if (name.startsWith('defrag')) {
        return async (node, timeoutMs) => {
          await admin.client(node).maintenance.defragment({ deadline: Date.now() + timeoutMs });
          return 'defragment';
        };
      }
      // The compaction failpoints (mvcc's compaction) run only in a compaction: compact up to
      // the current revision, as etcd's robustness tests' compaction trigger does. Every member
      // compacts (it is a raft entry); the armed one is the one that matters.
      if (name.startsWith('compact')) {
        return async (node, timeoutMs) => {
          const c = admin.client(node);
          const revision = await currentRevision(c, timeoutMs);
          try {
            await c.kv.compact({ revision, physical: true }, { deadline: Date.now() + timeoutMs });
          } catch (e) {
            // A panic in the compaction cuts the call off: keep the revision in the record.
            throw new Error(`compact ${revision}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
          }
          return `compact ${revision}`;
        };
      }
      return null;
    },
  };
}

/** The member's current revision (the header of a one-key range). */
async function currentRevision(c: Etcd3, timeoutMs: number): Promise<number> {
  const r = await c.kv.range({ key: Buffer.from('\0'), limit: 1 }, { deadline: Date.now() + timeoutMs });
  return Number(r.header.revision);
}

/** One no-retry etcd3 client per member for the harness's own calls (status, hashes, admin). */
class Admin {
  private readonly clients = new Map<string, Etcd3>();
  private memberNames: Map<string, string> | null = null;

  client(node: NodeHandle): Etcd3 {
    let c = this.clients.get(node.clientUrl);
    if (c === undefined) {
      c = new Etcd3({ hosts: [node.clientUrl], faultHandling: { host: () => noop, global: noop }, grpcOptions: { 'grpc.enable_retries': 0 } });
      this.clients.set(node.clientUrl, c);
    }
    return c;
  }

  /** Member id (decimal string, as etcd3 gives uint64s) → node name. */
  async names(cluster: StartedCluster, timeoutMs: number): Promise<Map<string, string>> {
    if (this.memberNames !== null) return this.memberNames;
    for (const n of cluster.nodes.filter((x) => x.state === 'running')) {
      try {
        const r = await this.client(n).cluster.memberList({}, { deadline: Date.now() + timeoutMs });
        this.memberNames = new Map(r.members.map((m) => [m.ID, m.name]));
        return this.memberNames;
      } catch {
        // try the next member
      }
    }
    return new Map();
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

async function prepareEtcd(runtime: RuntimeName, options: SystemRunOptions, log: (line: string) => void): Promise<PreparedSystem> {
  const wanted = options.systemOptions.etcdVersion;
  // Fault injection on etcd means failpoints: the clock nemesis is not supported.
  const failpoints = options.enableFaultInjection;
  const release = resolveEtcd(wanted !== undefined ? await buildEtcdRelease(wanted, log, failpoints) : options.systemOptions.etcdBin);
  const { gofail } = release;
  log(`etcd ${release.version}${release.module !== null ? ` (module ${release.module})` : ''}${gofail !== null ? ` with failpoints (gofail ${gofail})` : ''} from ${release.bin}`);
  // Name the upstream bugs this release is known to have, before a verdict shows them.
  for (const bug of knownBugsOf(release.version)) log(`etcd ${release.version} has ${bug.issue}: ${bug.shows}`);
  if (failpoints && gofail === null) throw new UsageError(`--nemesis failpoint: ${release.bin} has no failpoints (scripts/build-etcd.sh vX.Y.Z --failpoints builds one)`);
  const allowed = options.systemOptions.failpoints !== undefined ? new Set(failpointNames(options.systemOptions.failpoints)) : null;
  if (runtime !== 'docker') throw new PrerequisiteError(`etcd runs on the docker runtime only`);
  const image = await ensureEtcdImage(new Dockerode(), release.bin, log);
  const admin = new Admin();
  const token = `jepsen-${options.clusterSecret.slice(0, 8)}`;

  const prepared: PreparedSystem = {
    system: etcd,
    peerAddressing: 'advertised',
    image,
    containerPorts: { client: CLIENT_PORT, peer: PEER_PORT, ...(failpoints ? { control: FAILPOINT_PORT } : {}) },
    containerDataDir: VOLUME,
    versions: {
      etcd: release.version,
      etcdBin: release.bin,
      ...(release.module !== null ? { etcdModule: release.module } : {}),
      ...(release.goVersion !== null ? { etcdGo: release.goVersion } : {}),
      ...(gofail !== null ? { etcdGofail: gofail } : {}),
    },
    nodeProgram: (addr) => {
      const program = nodeProgram(addr, options, token, release.version);
      return failpoints ? { ...program, env: { ...program.env, GOFAIL_HTTP: `0.0.0.0:${FAILPOINT_PORT}` } } : program;
    },
    ...(failpoints ? { failpoints: gofailControl(allowed, admin) } : {}),
    async status(node, timeoutMs, cluster): Promise<NodeStatusSample | null> {
      try {
        const s = await admin.client(node).maintenance.status({ deadline: Date.now() + timeoutMs });
        const names = await admin.names(cluster, timeoutMs);
        const self = s.header.member_id;
        const leader = s.leader === '0' ? null : (names.get(s.leader) ?? s.leader);
        // raftTerm is the term of the last applied entry (etcdserver's Term()), not the current
        // term: the election checker takes who leads which term from the raft logs instead.
        return { role: s.leader === self ? 'leader' : s.leader === '0' ? 'candidate' : 'follower', term: Number(s.raftTerm), leader, commit: Number(s.raftIndex), applied: Number(s.raftAppliedIndex ?? s.raftIndex), termIsApplied: true };
      } catch {
        return null;
      }
    },
    openClient(_process, node, clientOptions) {
      return new EtcdClient({ ...clientOptions, node: node.id, url: node.clientUrl });
    },
    async collect(cluster, logsDir, history) {
      try {
        return await collect(cluster, logsDir, history, admin);
      } finally {
        admin.close();
      }
    },
    async admin(node, _cluster, choose) {
      const c = admin.client(node);
      const what = choose(3);
      if (what < 2) {
        // Compaction by revision: keep the last 100 revisions, or compact up to the current one
        // (as etcd's robustness traffic does): every watcher not connected then resumes from the
        // compaction revision itself, where etcd#18089 dropped a delete.
        const revision = Math.max(1, (await currentRevision(c, 3000)) - (what === 0 ? 100 : 0));
        await c.kv.compact({ revision, physical: true }, { deadline: Date.now() + 10_000 });
        return { compacted: revision };
      }
      const t0 = performance.now();
      await c.maintenance.defragment({ deadline: Date.now() + 30_000 });
      return { defragmented: node.id, ms: Math.round(performance.now() - t0) };
    },
    // etcd's layout (server/storage/wal, snap): WAL segments, raft snapshots, the bbolt database.
    dataFiles: { log: [/^etcd\/member\/wal\/[0-9a-f]{16}-[0-9a-f]{16}\.wal$/], snapshot: [/^etcd\/member\/snap\/[0-9a-f]{16}-[0-9a-f]{16}\.snap$/, /^etcd\/member\/snap\/db$/] },
  };
  return prepared;
}

/** The compaction batch flag's name in a release: 3.6 dropped the experimental prefix (and 3.7 the old name). */
function batchLimitFlag(release: string): string {
  const v = releaseTriple(release);
  return v !== null && !releaseBelow(v, [3, 6, 0]) ? '--compaction-batch-limit' : '--experimental-compaction-batch-limit';
}

export function nodeProgram(addr: NodeAddressing, options: SystemRunOptions, token: string, release = ''): NodeProgram {
  const peerUrl = (id: NodeId): string => {
    const a = addr.advertisedPeer(id);
    return `http://${a.host}:${a.port}`;
  };
  return {
    args: [
      '--name', addr.id,
      '--data-dir', DATA_DIR,
      '--listen-client-urls', `http://${addr.clientListen.host}:${addr.clientListen.port}`,
      '--advertise-client-urls', `http://${addr.id}:${addr.clientListen.port}`,
      '--listen-peer-urls', `http://${addr.peerListen.host}:${addr.peerListen.port}`,
      '--initial-advertise-peer-urls', peerUrl(addr.id),
      '--initial-cluster', addr.members.map((m) => `${m}=${peerUrl(m)}`).join(','),
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', token,
      '--logger', 'zap',
      '--log-outputs', 'stderr',
      '--log-level', options.logLevel === 'debug' ? 'debug' : options.logLevel === 'error' ? 'error' : options.logLevel === 'warn' ? 'warn' : 'info',
      ...(options.snapshotEntries !== undefined ? ['--snapshot-count', String(options.snapshotEntries)] : []),
      ...(options.systemOptions.compactionBatchLimit !== undefined ? [batchLimitFlag(release), String(compactionBatchLimit(options.systemOptions.compactionBatchLimit))] : []),
    ],
  };
}

/**
 * The key space's hash on every member at one revision (the lowest any member reports now,
 * so every member has it), and each member's role changes from its raft log lines.
 */
async function collect(cluster: StartedCluster, logsDir: string, history: HistoryClock, admin: Admin): Promise<Collected> {
  const events: NodeEvent[] = [];
  const problems: string[] = [];
  const running = cluster.nodes.filter((n) => n.state === 'running');
  for (const n of cluster.nodes) if (n.state !== 'running') problems.push(`${n.id}: not running at collection (${n.state})`);
  const revisions = await Promise.all(
    running.map(async (n) => {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          const s = await admin.client(n).maintenance.status({ deadline: Date.now() + 3000 });
          return Number(s.header.revision);
        } catch {
          await cluster.clock.sleep(500);
        }
      }
      problems.push(`${n.id}: Maintenance.Status did not answer (5 tries)`);
      return null;
    }),
  );
  const known = revisions.filter((r): r is number => r !== null);
  if (known.length > 0) {
    const revision = Math.min(...known);
    // Compaction changes the hash at a fixed revision, and each member applies a compaction on
    // its own schedule: hash again (a few times) until every member reports the same compact
    // revision, as etcd's own corruption check only compares such members.
    let hashes: (Extract<NodeEvent, { kind: 'kv-hash' }> | null)[] = [];
    for (let round = 0; round < 5; round++) {
      hashes = await Promise.all(
        running.map(async (n) => {
          let last = '';
          for (let attempt = 0; attempt < 5; attempt++) {
            try {
              const h = await hashKV(n.clientUrl, revision, 10_000);
              return { kind: 'kv-hash' as const, time: history.now(), node: n.id, revision, compactRevision: h.compactRevision, hash: String(h.hash) };
            } catch (e) {
              last = (e as Error).message;
              await cluster.clock.sleep(500);
            }
          }
          if (round === 4) problems.push(`${n.id}: HashKV at revision ${revision} failed (5 tries): ${last}`);
          return null;
        }),
      );
      const got = hashes.filter((h): h is NonNullable<typeof h> => h !== null);
      if (got.length === running.length && new Set(got.map((h) => h.compactRevision)).size === 1) break;
      await cluster.clock.sleep(1000);
    }
    for (const h of hashes) if (h !== null) events.push(h);
  }
  for (const n of cluster.nodes) events.push(...raftRoleEvents(`${logsDir}/${n.id}.log`, n.id, history.startedAtMs));
  return { events, problems };
}

/** etcd's raft logs role changes as "<id> became leader at term N" (zap JSON lines, `ts` ISO 8601 or epoch seconds). */
export function raftRoleEvents(path: string, node: string, startedAtMs: number): NodeEvent[] {
  if (!existsSync(path)) return [];
  const out: NodeEvent[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.includes(' became ')) continue;
    let e: { ts?: unknown; msg?: unknown };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      continue;
    }
    const m = typeof e.msg === 'string' ? /\bbecame (leader|follower|candidate|pre-candidate) at term (\d+)/.exec(e.msg) : null;
    if (m === null) continue;
    const tsMs = typeof e.ts === 'number' ? e.ts * 1000 : typeof e.ts === 'string' ? Date.parse(e.ts) : NaN;
    if (!Number.isFinite(tsMs)) continue;
    const role = m[1] as string;
    out.push({ kind: 'role', time: (tsMs - startedAtMs) * 1e6, node, role, term: Number(m[2]), leader: role === 'leader' ? node : null });
  }
  return out;
}
