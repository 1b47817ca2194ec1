/**
 * One test run, in Jepsen's phases: set-up (cluster up, a leader elected), main (clients and
 * faults for `timeLimitS`), heal (every fault undone), recovery (the cluster settles), final
 * reads, then collection (digests, logs, events) and checking. The history is on disk as it
 * happens; the cluster is torn down whatever happens.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { CheckResult, Validity } from '../checkers/checker.ts';
import { mergeValidity } from '../checkers/checker.ts';
import type { NodeEvent } from '../checkers/history/types.ts';
import { opStream } from '../workloads/workload.ts';
import type { ClientSession, OpSpec, Outcome, Workload } from '../workloads/workload.ts';
import { workloadByName } from '../workloads/index.ts';
import { HistoryWriter } from './history-writer.ts';
import { healAll, parseNemeses, runSchedule } from './nemesis/index.ts';
import type { NemesisKnobs } from './nemesis/index.ts';
import type { Nemesis, NemesisContext } from './nemesis/nemesis.ts';
import { needsFaultInjection } from './nemesis/nemesis.ts';
import { Progress } from './progress.ts';
import { publishRun } from './report/publish.ts';
import { withDefaultDatabase } from './results-db/db.ts';
import { startReaper } from './reaper.ts';
import { Rng } from './rng.ts';
import { makeRuntime } from './runtime/index.ts';
import type { NodeId, Runtime, RuntimeName, StartedCluster } from './runtime/runtime.ts';
import { nodeIds } from './runtime/topology.ts';
import { call } from './store-http.ts';
import type { CallOptions } from './store-http.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..');

export interface RunConfig {
  readonly workload: string;
  readonly nemesis: string;
  readonly nodes: number;
  readonly concurrency: number;
  readonly timeLimitS: number;
  /** Total ops/s over all processes; null for as fast as they go. */
  readonly rate: number | null;
  readonly seed: number;
  readonly runtime: RuntimeName;
  readonly resultsDir: string;
  readonly unsafe: readonly string[];
  /** Start nodes with `--storage-fault-mode` (impl/API.md): a kill loses what was not fsynced. */
  readonly storageFaultMode?: boolean;
  /**
   * Nodes' `--snapshot-entries`: small by default in runs, so compaction, snapshot transfer
   * and snapshot install happen under faults (a killed or cut-off node comes back behind
   * the compacted log), not only in unit tests.
   */
  readonly snapshotEntries?: number;
  readonly opTimeoutMs: number;
  readonly nemesisIntervalS: number;
  /** Nemesis knobs (`--knob name=value`); defaults for any not given. */
  readonly knobs?: NemesisKnobs;
  readonly recoveryS: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** The store node bundle to run (default dist/store-node.mjs). */
  readonly storeNodeBundle?: string;
}

export interface RunOutcome {
  readonly valid: Validity;
  readonly dir: string;
  readonly runId: string;
  readonly results: readonly CheckResult[];
  readonly counts: { readonly ok: number; readonly fail: number; readonly info: number };
}

/** Hooks for callers (the CLI's signal handlers, tests that look at the cluster mid-run). */
export interface RunHooks {
  readonly signal?: AbortSignal;
  readonly quiet?: boolean;
  /** Called once the cluster is up (the CLI tears it down on Ctrl-C). */
  readonly onCluster?: (cluster: StartedCluster, runtime: Runtime) => void;
  /** Called after every nemesis start, with what it did (tests probe the fault here). */
  readonly onFault?: (f: string, value: unknown, cluster: StartedCluster) => Promise<void>;
}

export class HarnessError extends Error {
  override readonly name = 'HarnessError';
}

function utcStamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function gitRevision(): string | null {
  try {
    const rev = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${rev}-dirty` : rev;
  } catch {
    return null;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface StatusBody {
  id?: string;
  role?: string;
  term?: number;
  leader?: string | null;
  commit?: number;
  applied?: number;
}

async function status(url: string, timeoutMs = 1000): Promise<StatusBody | null> {
  const out = await call(url, '/v1/status', { timeoutMs });
  return out.kind === 'ok' ? (out.body as StatusBody) : null;
}

/** Wait until every node answers and one of them leads (set-up phase). */
export async function waitForCluster(cluster: StartedCluster, timeoutMs: number): Promise<NodeId> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const all = await Promise.all(cluster.nodes.map((n) => status(n.clientUrl)));
    const leaders = all.filter((s) => s?.role === 'leader');
    if (all.every((s) => s !== null) && leaders.length === 1 && typeof leaders[0]?.id === 'string') return leaders[0].id;
    last = all.map((s, i) => `${cluster.nodes[i]?.id}=${s === null ? 'down' : `${s.role}@${s.term}`}`).join(' ');
    await sleep(100);
  }
  throw new HarnessError(`cluster not ready after ${timeoutMs} ms: ${last}`);
}

export async function runTest(config: RunConfig, hooks: RunHooks = {}): Promise<RunOutcome> {
  const workload = workloadByName(config.workload);
  const nemeses = parseNemeses(config.nemesis, config.knobs);
  const runtime = makeRuntime(config.runtime, config.storeNodeBundle);
  const runId = `${utcStamp().toLowerCase().replace(/[^0-9a-z]/g, '')}${randomBytes(3).toString('hex')}`;
  const dir = join(config.resultsDir, `${config.workload}-${config.nemesis.replace(/,/g, '+')}`, utcStamp());
  mkdirSync(dir, { recursive: true });
  const total = config.timeLimitS + config.recoveryS + 10;
  const progress = new Progress(total, process.stderr, hooks.quiet === true);
  const log = (line: string): void => progress.log(line);
  const clusterSecret = randomBytes(12).toString('hex');
  const runJson = {
    runId,
    config,
    seed: config.seed,
    startedAt: new Date().toISOString(),
    workload: { name: workload.name, description: workload.description },
    nemeses: nemeses.map((n) => n.name),
    versions: { harness: packageVersion(), node: process.version, git: gitRevision() } as Record<string, string | null>,
    command: process.argv.slice(1).join(' '),
  };
  writeFileSync(join(dir, 'run.json'), `${JSON.stringify(runJson, null, 2)}\n`);
  linkLatest(config.resultsDir, dir);

  await runtime.checkPrerequisites();
  const runtimeVersions = await runtime.versions().catch(() => ({}));
  Object.assign(runJson.versions, runtimeVersions);
  writeFileSync(join(dir, 'run.json'), `${JSON.stringify(runJson, null, 2)}\n`);
  log(`run ${runId}: ${workload.name} with nemesis ${config.nemesis} on ${config.nodes} nodes (${config.runtime}), seed ${config.seed}`);
  log(`results in ${dir}`);

  const history = new HistoryWriter(join(dir, 'history.jsonl'));
  const events: NodeEvent[] = [];
  const eventsPath = join(dir, 'events.jsonl');
  const addEvent = (e: NodeEvent): void => {
    events.push(e);
    appendFileSync(eventsPath, `${JSON.stringify(e)}\n`);
  };

  let cluster: StartedCluster | null = null;
  // Whatever happens to this process from here on, the run's containers/processes go.
  const stopReaper = startReaper(REPO_ROOT, runId, config.runtime);
  const abort = new AbortController();
  hooks.signal?.addEventListener('abort', () => abort.abort(), { once: true });
  const rng = new Rng(config.seed);
  let sampler: NodeJS.Timeout | null = null;
  try {
    const t0 = Date.now();
    cluster = await runtime.start(
      {
        runId,
        nodeIds: nodeIds(config.nodes),
        clusterSecret,
        unsafe: config.unsafe,
        enableFaultInjection: nemeses.some(needsFaultInjection),
        logLevel: config.logLevel,
        extraNodeArgs: [
          ...(config.storageFaultMode === true ? ['--storage-fault-mode'] : []),
          ...(config.snapshotEntries !== undefined ? ['--snapshot-entries', String(config.snapshotEntries)] : []),
        ],
      },
      log,
    );
    hooks.onCluster?.(cluster, runtime);
    let firstLeader: NodeId;
    try {
      firstLeader = await waitForCluster(cluster, 30_000);
    } catch (e) {
      // A node that exited at once (bad flag, bad data dir) says why in its log.
      await cluster.collectLogs(join(dir, 'nodes')).catch(() => {});
      throw new HarnessError(`${(e as Error).message}; node logs in ${join(dir, 'nodes')}`);
    }
    const c = cluster;
    log(`cluster ready in ${Date.now() - t0} ms, leader ${firstLeader}`);
    progress.state.leader = firstLeader;
    progress.start();

    // Status sampling: NodeEvent 'status' for the election/replica checkers, and the leader shown.
    sampler = setInterval(() => {
      void (async () => {
        await Promise.all(
          c.nodes
            .filter((n) => n.state === 'running')
            .map(async (n) => {
              const s = await status(n.clientUrl, 800);
              if (s === null || typeof s.term !== 'number') return;
              addEvent({ kind: 'status', time: history.now(), node: n.id, role: s.role ?? 'unknown', term: s.term, leader: s.leader ?? null, commit: s.commit ?? 0, applied: s.applied ?? 0 });
              if (s.role === 'leader') progress.state.leader = n.id;
            }),
        );
      })();
    }, 1000);

    const ctx: NemesisContext = {
      cluster: c,
      rng: rng.fork(1),
      clusterSecret,
      log,
      // A killed or paused node leads nothing from here on: end its leader interval now
      // (checkers/election/README.md), not at its next event, which may be long after.
      nodeDown: (id) => addEvent({ kind: 'role', time: history.now(), node: id, role: 'down', term: 0, leader: null }),
      leader: async () => {
        const all = await Promise.all(c.nodes.filter((n) => n.state === 'running').map(async (n) => ({ id: n.id, s: await status(n.clientUrl, 800) })));
        const leaders = all.filter((x) => x.s?.role === 'leader').sort((a, b) => (b.s?.term ?? 0) - (a.s?.term ?? 0));
        return leaders[0]?.id ?? null;
      },
    };

    // --- main phase ---------------------------------------------------------------------
    progress.state.phase = 'main';
    const mainDeadline = Date.now() + config.timeLimitS * 1000;
    const clientsStop = new AbortController();
    abort.signal.addEventListener('abort', () => clientsStop.abort(), { once: true });
    const pool = new ClientPool(c, workload, history, config, progress);
    const clients = pool.run(clientsStop.signal);
    const nemesisDone = runSchedule({
      nemeses: wrapWithHook(nemeses, hooks, c),
      ctx,
      history,
      intervalMs: config.nemesisIntervalS * 1000,
      deadline: mainDeadline,
      signal: abort.signal,
      onActive: (a) => {
        progress.state.activeFault = a;
      },
    });
    const mainTimer = setTimeout(() => clientsStop.abort(), config.timeLimitS * 1000);
    await clients;
    clearTimeout(mainTimer);
    // The schedule ends on its own by the deadline; a fault still active then is stopped by the heal.
    const active = await nemesisDone;

    // --- heal and recovery --------------------------------------------------------------
    progress.state.phase = 'heal';
    await healAll(ctx, history, active);
    progress.state.activeFault = null;
    if (abort.signal.aborted) throw new HarnessError('interrupted');
    progress.state.phase = 'recovery';
    await sleep(config.recoveryS * 1000);

    // --- final reads --------------------------------------------------------------------
    progress.state.phase = 'final-reads';
    await pool.finalReads(workload.finalReads());

    // --- collection ---------------------------------------------------------------------
    progress.state.phase = 'collect';
    if (sampler !== null) clearInterval(sampler);
    sampler = null;
    await collectDigests(c, history, addEvent);
    const nodesDir = join(dir, 'nodes');
    await c.collectLogs(nodesDir);
    for (const id of c.nodes.map((n) => n.id)) {
      for (const e of readRoleEvents(join(nodesDir, `${id}.events.jsonl`), history.startedAtMs)) addEvent(e);
    }
    progress.stop();
  } finally {
    if (sampler !== null) clearInterval(sampler);
    progress.stop();
    history.close();
    if (cluster !== null) {
      await cluster.teardown();
    }
    stopReaper();
  }

  // --- checking -------------------------------------------------------------------------
  log('checking');
  const results: CheckResult[] = [];
  for (const checker of workload.checkers()) {
    try {
      results.push(await checker.check({ history: history.ops, events }));
    } catch (e) {
      results.push({ checker: checker.name, valid: 'unknown', summary: `checker failed: ${e instanceof Error ? e.message : String(e)}` });
    }
  }
  const valid = mergeValidity(results.map((r) => r.valid));
  const counts = countCompletions(history);
  writeFileSync(
    join(dir, 'results.json'),
    `${JSON.stringify({ valid, runId, counts, checkers: Object.fromEntries(results.map((r) => [r.checker, r])) }, null, 2)}\n`,
  );
  writeFileSync(join(dir, 'run.json'), `${JSON.stringify({ ...runJson, finishedAt: new Date().toISOString(), valid }, null, 2)}\n`);
  for (const r of results) log(`  ${r.checker}: ${String(r.valid)} — ${r.summary}`);
  // report.html, and the run recorded in PostgreSQL for comparisons across releases. Never
  // throws: the verdict on disk decides the exit status; failures are warning lines.
  await publishRun(dir, log, withDefaultDatabase(process.env));
  log(`valid: ${String(valid)}  (${counts.ok} ok, ${counts.fail} fail, ${counts.info} info)  ${dir}`);
  return { valid, dir, runId, results, counts };
}

function wrapWithHook(nemeses: readonly Nemesis[], hooks: RunHooks, cluster: StartedCluster): Nemesis[] {
  const onFault = hooks.onFault;
  if (onFault === undefined) return [...nemeses];
  return nemeses.map((n) => ({
    name: n.name,
    start: async (ctx: NemesisContext) => {
      const v = await n.start(ctx);
      await onFault(`start-${n.name}`, v, cluster);
      return v;
    },
    stop: (ctx: NemesisContext) => n.stop(ctx),
  }));
}

function countCompletions(history: HistoryWriter): { ok: number; fail: number; info: number } {
  const c = { ok: 0, fail: 0, info: 0 };
  for (const op of history.ops) {
    if (op.process === 'nemesis') continue;
    if (op.type === 'ok' || op.type === 'fail' || op.type === 'info') c[op.type]++;
  }
  return c;
}

async function collectDigests(cluster: StartedCluster, history: HistoryWriter, addEvent: (e: NodeEvent) => void): Promise<void> {
  await Promise.all(
    cluster.nodes.map(async (n) => {
      const s = await status(n.clientUrl, 2000);
      const applied = s?.applied ?? 0;
      if (applied < 1) return;
      const out = await call(n.clientUrl, `/v1/digest?from=1&to=${applied}`, { timeoutMs: 5000 });
      if (out.kind !== 'ok' || !Array.isArray(out.body.entries)) return;
      addEvent({ kind: 'digest', time: history.now(), node: n.id, entries: out.body.entries as { index: number; term: number; hash: string }[] });
    }),
  );
}

/** The node's own role log (`{"kind":"role","ts":<unix ms>,...}`) on the history's clock. */
export function readRoleEvents(path: string, startedAtMs: number): NodeEvent[] {
  if (!existsSync(path)) return [];
  const out: NodeEvent[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const e = JSON.parse(line) as { kind?: string; ts?: number; node?: string; role?: string; term?: number; leader?: string | null };
      if (e.kind !== 'role' || typeof e.ts !== 'number' || typeof e.node !== 'string' || typeof e.term !== 'number') continue;
      out.push({ kind: 'role', time: (e.ts - startedAtMs) * 1e6, node: e.node, role: e.role ?? 'unknown', term: e.term, leader: e.leader ?? null });
    } catch {
      // A torn last line from a killed node: skip it.
    }
  }
  return out;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function linkLatest(resultsDir: string, dir: string): void {
  const latest = join(resultsDir, 'latest');
  try {
    rmSync(latest, { force: true });
    symlinkSync(relative(resultsDir, dir), latest);
  } catch {
    // Best effort: a results dir on a filesystem without symlinks still holds the run.
  }
}

/** The logical client processes: each draws ops from its own seeded stream. */
class ClientPool {
  private nextValue = 1;
  private readonly urls: Map<NodeId, string>;

  constructor(
    private readonly cluster: StartedCluster,
    private readonly workload: Workload,
    private readonly history: HistoryWriter,
    private readonly config: RunConfig,
    private readonly progress: Progress,
  ) {
    this.urls = new Map(cluster.nodes.map((n) => [n.id, n.clientUrl]));
  }

  session(process: number, node: NodeId): ClientSession {
    let seq = 0;
    const timeoutMs = this.config.opTimeoutMs;
    return {
      process,
      clientId: `p${process}-${randomBytes(3).toString('hex')}`,
      nextSeq: () => ++seq,
      node,
      opTimeoutMs: timeoutMs,
      uniqueValue: () => this.nextValue++,
      memory: new Map(),
      urlOf: (id: NodeId) => this.urls.get(id) ?? this.cluster.node(id).clientUrl,
      request: async (path: string, opts: Omit<CallOptions, 'timeoutMs'>) => {
        const deadline = Date.now() + timeoutMs;
        let target = node;
        for (let hop = 0; ; hop++) {
          const url = this.urls.get(target) ?? this.cluster.node(target).clientUrl;
          const outcome = await call(url, path, { ...opts, timeoutMs: Math.max(1, deadline - Date.now()) });
          if (outcome.kind === 'error' && outcome.code === 'not-leader' && outcome.leaderHint !== null && this.urls.has(outcome.leaderHint) && hop < 2 && Date.now() < deadline) {
            target = outcome.leaderHint;
            continue;
          }
          return { outcome, node: target };
        }
      },
    };
  }

  private record(process: number, op: OpSpec, outcome: Outcome): void {
    const base = { process, f: op.f, ...(op.key !== undefined ? { key: op.key } : {}), node: outcome.node };
    if (outcome.type === 'ok') this.history.record({ ...base, type: 'ok', value: outcome.value });
    else this.history.record({ ...base, type: outcome.type, value: op.value, error: outcome.error });
    this.progress.state[outcome.type]++;
  }

  private async once(session: ClientSession, spec: OpSpec): Promise<Outcome> {
    const op = this.workload.prepare(session, spec);
    this.history.record({ process: session.process, type: 'invoke', f: op.f, ...(op.key !== undefined ? { key: op.key } : {}), value: op.value, node: session.node });
    let outcome: Outcome;
    try {
      outcome = await this.workload.invoke(session, op);
    } catch (e) {
      outcome = { type: 'info', error: `client error: ${e instanceof Error ? e.message : String(e)}`, node: session.node };
    }
    this.record(session.process, op, outcome);
    return outcome;
  }

  async run(stop: AbortSignal): Promise<void> {
    const { concurrency, seed, rate } = this.config;
    const ids = this.cluster.nodes.map((n) => n.id);
    const arb = this.workload.operations();
    const perWorkerGapMs = rate === null ? 0 : (concurrency * 1000) / rate;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, slot) => {
        const next = opStream(arb, seed, slot);
        let process = slot;
        let session = this.session(process, ids[slot % ids.length] as NodeId);
        // Stagger the first ops so processes do not move in lockstep.
        let nextAt = Date.now() + (perWorkerGapMs * slot) / concurrency;
        while (!stop.aborted) {
          const wait = nextAt - Date.now();
          if (wait > 0) await sleep(wait);
          if (stop.aborted) break;
          nextAt = Math.max(nextAt + perWorkerGapMs, Date.now());
          const outcome = await this.once(session, next());
          if (outcome.type === 'info') {
            // Jepsen: a process that may still have an op in flight is never reused.
            process += concurrency;
            session = this.session(process, ids[slot % ids.length] as NodeId);
          }
        }
      }),
    );
  }

  /** Each final op by a fresh process, retried (as new ops) until ok, at most 20 tries. */
  async finalReads(ops: readonly OpSpec[]): Promise<void> {
    const ids = this.cluster.nodes.map((n) => n.id);
    let process = 1_000_000;
    for (const [i, op] of ops.entries()) {
      for (let attempt = 0; attempt < 20; attempt++) {
        const session = this.session(process++, ids[(i + attempt) % ids.length] as NodeId);
        const outcome = await this.once(session, op);
        if (outcome.type === 'ok') break;
        await sleep(250);
      }
    }
  }
}

