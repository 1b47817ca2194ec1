/**
 * One test run, in Jepsen's phases: set-up (the system prepared, the cluster up, a leader
 * elected), main (clients and faults for `timeLimitS`), heal (every fault undone), recovery
 * (the cluster settles), final reads, then collection (logs, consistency digests, role logs)
 * and checking. The history is on disk as it happens; the cluster is torn down whatever
 * happens.
 *
 * Nothing here knows which system is under test: its nodes, client and hooks come from
 * harness/systems/<name>, and every clock read and timer goes through the cluster's clock
 * (virtual in simulation).
 */
import { execFileSync } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { appendFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { CheckResult, Validity } from '../checkers/checker.ts';
import { mergeValidity } from '../checkers/checker.ts';
import type { NodeEvent } from '../checkers/history/types.ts';
import type { ClientOptions, ReadConsistency, SystemClient } from '../workloads/client.ts';
import { opStream } from '../workloads/workload.ts';
import type { ClientContext, OpSpec, Outcome, Workload } from '../workloads/workload.ts';
import { workloadByName } from '../workloads/index.ts';
import { HarnessError, UsageError } from './errors.ts';
import { HistoryWriter } from './history-writer.ts';
import { healAll, parseNemeses, runSchedule } from './nemesis/index.ts';
import { planComposedSchedule, planSchedule, runPlannedSchedule, scheduleProblems } from './nemesis/planned.ts';
import type { PlannedFault } from './nemesis/planned.ts';
import { replayCommand } from './explore/replay.ts';
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
import { systemByName } from './systems/index.ts';
import type { PreparedSystem, System, SystemRunOptions } from './systems/system.ts';
import { validateRun } from './validate.ts';

export { HarnessError };

export const REPO_ROOT = resolve(import.meta.dirname, '..');

export interface RunConfig {
  /** The system under test (harness/systems): `raftstore` (default) or `etcd`. */
  readonly system?: string;
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
  /** Nodes lose what they had not fsynced when killed (the store's `--storage-fault-mode`). */
  readonly storageFaultMode?: boolean;
  /**
   * The nodes' snapshot interval in entries (the store's `--snapshot-entries`, etcd's
   * `--snapshot-count`): small by default in runs, so compaction, snapshot transfer and
   * snapshot install happen under faults, not only in unit tests.
   */
  readonly snapshotEntries?: number;
  readonly opTimeoutMs: number;
  readonly nemesisIntervalS: number;
  /** Nemesis knobs (`--knob name=value`); defaults for any not given. */
  readonly knobs?: NemesisKnobs;
  readonly recoveryS: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** How reads are served (`--read-consistency`). */
  readonly readConsistency?: ReadConsistency;
  /** `--client single-attempt` (Jepsen) or `retrying` (the system's own client library). */
  readonly clientMode?: ClientOptions['mode'];
  /** System-specific options (`--etcd-bin`, the store's `--bundle`...), by name. */
  readonly systemOptions?: Readonly<Record<string, string>>;
  /** Client operations of the main phase, at most (`--max-ops`); none when absent. Shrinking lowers it. */
  readonly maxOps?: number;
  /**
   * The fault schedule as a value (`--replay-schedule FILE`, harness/nemesis/planned.ts).
   * Absent: the simulation plans one from the seed; the other runtimes draw faults as they go.
   */
  readonly schedule?: readonly PlannedFault[];
  /** Where `schedule` was read from (the replay command names it). */
  readonly scheduleFile?: string;
  /** `--compose`: faults of different nemeses overlap, each nemesis on its own timeline (planned.ts). */
  readonly compose?: boolean;
}

export interface RunOutcome {
  readonly valid: Validity;
  readonly dir: string;
  readonly runId: string;
  readonly results: readonly CheckResult[];
  readonly counts: { readonly ok: number; readonly fail: number; readonly info: number };
  /** Client operations invoked in the main phase (final reads not counted). */
  readonly mainOps: number;
  /** The planned fault schedule the run used (null: faults drawn as it went). */
  readonly schedule: readonly PlannedFault[] | null;
  /** The command that reproduces this run bit for bit (simulation only). */
  readonly replay: string | null;
}

/** Hooks for callers (the CLI's signal handlers, tests that look at the cluster mid-run). */
export interface RunHooks {
  readonly signal?: AbortSignal;
  readonly quiet?: boolean;
  /** Called once the cluster is up (the CLI tears it down on Ctrl-C). */
  readonly onCluster?: (cluster: StartedCluster, runtime: Runtime) => void;
  /** Called after every nemesis start, with what it did (tests probe the fault here). */
  readonly onFault?: (f: string, value: unknown, cluster: StartedCluster, system: PreparedSystem) => Promise<void>;
  /** The runtime to use instead of `makeRuntime(config.runtime)` (the simulator passes its own). */
  readonly runtime?: Runtime;
  /** The run's results directory, exactly (default: `<resultsDir>/<workload>-<nemesis>/<UTC stamp>`). */
  readonly dir?: string;
  /** Write report.html and record the run in the database (default true; exploration publishes only failures). */
  readonly publish?: boolean;
  /** The shell command that replays this run, for run.json and the log (default: built from the config). */
  readonly replay?: string;
}

/** A stable hex string from the seed and a label: what a simulated run uses where others draw random bytes. */
function seededHex(seed: number, label: string, chars: number): string {
  return createHash('sha256').update(`${label}:${seed}`).digest('hex').slice(0, chars);
}

/** `base`, or `base-2`, `base-3`...: the first that does not exist yet (parallel runs in one second). */
function freshDir(parent: string, base: string): string {
  mkdirSync(parent, { recursive: true });
  for (let i = 1; ; i++) {
    const dir = join(parent, i === 1 ? base : `${base}-${i}`);
    try {
      mkdirSync(dir);
      return dir;
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
    }
  }
}

function utcStamp(d: Date): string {
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

/** Wait until every node answers and exactly one of them leads (set-up phase). */
export async function waitForCluster(cluster: StartedCluster, system: PreparedSystem, timeoutMs: number): Promise<NodeId> {
  const clock = cluster.clock;
  const deadline = clock.now() + timeoutMs;
  let last = 'no answer yet';
  while (clock.now() < deadline) {
    const all = await Promise.all(cluster.nodes.map((n) => system.status(n, 1000, cluster)));
    const leaders = all.map((s, i) => ({ s, id: cluster.nodes[i]?.id })).filter((x) => x.s?.role === 'leader');
    if (all.every((s) => s !== null) && leaders.length === 1 && typeof leaders[0]?.id === 'string') return leaders[0].id;
    last = all.map((s, i) => `${cluster.nodes[i]?.id}=${s === null ? 'down' : `${s.role}@${s.term}`}`).join(' ');
    await clock.sleep(100);
  }
  throw new HarnessError(`cluster not ready after ${timeoutMs} ms: ${last}`);
}

/** The current leader (highest term among nodes that say they lead), or null. */
async function currentLeader(cluster: StartedCluster, system: PreparedSystem): Promise<NodeId | null> {
  const all = await Promise.all(cluster.nodes.filter((n) => n.state === 'running').map(async (n) => ({ id: n.id, s: await system.status(n, 800, cluster) })));
  const leaders = all.filter((x) => x.s?.role === 'leader').sort((a, b) => (b.s?.term ?? 0) - (a.s?.term ?? 0));
  return leaders[0]?.id ?? null;
}

export async function runTest(config: RunConfig, hooks: RunHooks = {}): Promise<RunOutcome> {
  const workload = workloadByName(config.workload);
  const system: System = systemByName(config.system ?? 'raftstore');
  const nemeses = parseNemeses(config.nemesis, config.knobs, system.supports);
  const readConsistency = config.readConsistency ?? 'linearizable';
  const clientMode = config.clientMode ?? 'single-attempt';
  validateRun({ system, workload, nemeses, config: { ...config, readConsistency, clientMode } });

  const runtime = hooks.runtime ?? makeRuntime(config.runtime, { seed: config.seed, storageFaultMode: config.storageFaultMode === true });
  // A simulated run is a function of its seed: whatever a real run draws at random and the
  // history or the nodes see (the cluster secret, the client id tag) comes from the seed.
  const simulated = runtime.name === 'sim';
  const composed = config.compose === true;
  const plan = composed ? planComposedSchedule : planSchedule;
  // Planned up front in simulation (replay, shrinking) and whenever faults are composed.
  const schedule = config.schedule ?? (simulated || composed ? plan(config.seed, nemeses, config.nemesisIntervalS * 1000, config.timeLimitS * 1000) : null);
  if (config.schedule !== undefined) {
    const problems = scheduleProblems(config.schedule, nemeses, 'schedule');
    if (problems.length > 0) throw new UsageError(problems.join('; '));
  }
  const wallStart = new Date();
  const runId = `${utcStamp(wallStart).toLowerCase().replace(/[^0-9a-z]/g, '')}${randomBytes(3).toString('hex')}`;
  const runsDir = join(config.resultsDir, `${config.workload}-${config.nemesis.replace(/,/g, '+')}`);
  let dir: string;
  if (hooks.dir !== undefined) {
    dir = hooks.dir;
    mkdirSync(dir, { recursive: true });
  } else if (simulated) {
    // Simulated runs go by the dozen per second (--runs): named by seed, never shared.
    dir = freshDir(runsDir, `${utcStamp(wallStart)}-seed${config.seed}`);
  } else {
    dir = join(runsDir, utcStamp(wallStart));
    mkdirSync(dir, { recursive: true });
  }
  const total = config.timeLimitS + config.recoveryS + 10;
  const progress = new Progress(total, process.stderr, hooks.quiet === true, runtime.clock, simulated ? { ttyMs: 1000, plainMs: 10_000, virtual: true } : {});
  const log = (line: string): void => progress.log(line);
  const clusterSecret = simulated ? seededHex(config.seed, 'cluster-secret', 24) : randomBytes(12).toString('hex');
  const runTag = simulated ? seededHex(config.seed, 'run-tag', 6) : randomBytes(3).toString('hex');
  const replay = simulated ? (hooks.replay ?? replayCommand(config)) : null;
  const systemName = system.name;
  const runJson = {
    runId,
    config: { ...config, system: systemName, readConsistency, clientMode },
    system: systemName,
    seed: config.seed,
    startedAt: wallStart.toISOString(),
    workload: { name: workload.name, description: workload.description },
    nemeses: nemeses.map((n) => n.name),
    versions: { harness: packageVersion(), node: process.version, git: gitRevision() } as Record<string, string | null>,
    command: process.argv.slice(1).join(' '),
    ...(replay !== null ? { replay } : {}),
    ...(schedule !== null ? { schedule } : {}),
  };
  const writeRunJson = (extra: Record<string, unknown> = {}): void => writeFileSync(join(dir, 'run.json'), `${JSON.stringify({ ...runJson, ...extra }, null, 2)}\n`);
  writeRunJson();
  if (schedule !== null) writeFileSync(join(dir, 'schedule.json'), `${JSON.stringify(schedule, null, 1)}\n`);
  linkLatest(config.resultsDir, dir);

  await runtime.checkPrerequisites();
  const runtimeVersions = await runtime.versions().catch(() => ({}));
  Object.assign(runJson.versions, runtimeVersions);
  const ids = nodeIds(config.nodes);
  const systemOptions: SystemRunOptions = {
    nodeIds: ids,
    clusterSecret,
    logLevel: config.logLevel,
    unsafe: config.unsafe,
    storageFaultMode: config.storageFaultMode === true,
    ...(config.snapshotEntries !== undefined ? { snapshotEntries: config.snapshotEntries } : {}),
    enableFaultInjection: nemeses.some(needsFaultInjection),
    systemOptions: config.systemOptions ?? {},
  };
  const prepared = await system.prepare(runtime.name, systemOptions, log);
  Object.assign(runJson.versions, prepared.versions);
  writeRunJson();
  log(`run ${runId}: ${systemName} ${workload.name} with nemesis ${config.nemesis} on ${config.nodes} nodes (${runtime.name}), seed ${config.seed}`);
  log(`results in ${dir}`);

  let cluster: StartedCluster | null = null;
  // In simulation a virtual second passes in a few wall milliseconds: flush and fsync by virtual time, less often.
  const history = new HistoryWriter(join(dir, 'history.jsonl'), simulated ? { clock: runtime.clock, flushEveryMs: 1000, fsyncEveryMs: 60_000 } : { clock: runtime.clock });
  const h = history;
  const events: NodeEvent[] = [];
  const eventsPath = join(dir, 'events.jsonl');
  const addEvent = (e: NodeEvent): void => {
    events.push(e);
    appendFileSync(eventsPath, `${JSON.stringify(e)}\n`);
  };
  const collectionProblems: string[] = [];
  const recoveryNotes: string[] = [];

  // Whatever happens to this process from here on, the run's containers/processes go.
  const stopReaper = runtime.name === 'sim' ? () => {} : startReaper(REPO_ROOT, runId, runtime.name);
  const abort = new AbortController();
  // Removed when the run's cluster is gone: one caller's signal serves run after run (the nightly, exploration).
  const onCallerAbort = (): void => abort.abort();
  hooks.signal?.addEventListener('abort', onCallerAbort, { once: true });
  const rng = new Rng(config.seed);
  let sampler: { cancel(): void } | null = null;
  let mainOps = 0;
  // The part that talks to the cluster runs where the cluster lives (in simulation: inside its
  // scheduler, in virtual time); checking and publishing run afterwards, on the real clock.
  const within = <T,>(fn: () => Promise<T>): Promise<T> => (runtime.runWithin !== undefined ? runtime.runWithin(fn) : fn());
  try {
    await within(async () => {
      try {
        const t0 = runtime.clock.now();
        cluster = await runtime.start({ runId, nodeIds: ids, system: prepared }, log);
        hooks.onCluster?.(cluster, runtime);
        const c = cluster;
        const clock = c.clock;
        let firstLeader: NodeId;
        try {
          firstLeader = await waitForCluster(c, prepared, 30_000);
        } catch (e) {
          // A node that exited at once (bad flag, bad data dir) says why in its log.
          await c.collectLogs(join(dir, 'nodes')).catch(() => {});
          throw new HarnessError(`${(e as Error).message}; node logs in ${join(dir, 'nodes')}`);
        }
        log(`cluster ready in ${Math.round(runtime.clock.now() - t0)} ms${simulated ? ' (virtual)' : ''}, leader ${firstLeader}`);
        progress.state.leader = firstLeader;
        progress.start();

        // Status sampling: NodeEvent 'status' for the election/replica checkers, and the leader shown.
        sampler = clock.every(1000, () => {
          void Promise.all(
            c.nodes
              .filter((n) => n.state === 'running')
              .map(async (n) => {
                const s = await prepared.status(n, 800, c);
                if (s === null) return;
                addEvent({ kind: 'status', time: h.now(), node: n.id, role: s.role, term: s.term, leader: s.leader, commit: s.commit, applied: s.applied, ...(s.termIsApplied === true ? { termSource: 'applied' as const } : {}) });
                if (s.role === 'leader') progress.state.leader = n.id;
              }),
          );
        });

        const ctx: NemesisContext = {
          cluster: c,
          system: prepared,
          rng: rng.fork(1),
          clusterSecret,
          log,
          // A killed or paused node leads nothing from here on: end its leader interval now
          // (checkers/election/README.md), not at its next event, which may be long after.
          nodeDown: (id) => addEvent({ kind: 'role', time: h.now(), node: id, role: 'down', term: 0, leader: null }),
          leader: () => currentLeader(c, prepared),
        };

        // --- main phase ---------------------------------------------------------------------
        progress.state.phase = 'main';
        const mainStart = clock.now();
        const mainDeadline = mainStart + config.timeLimitS * 1000;
        const clientsStop = new AbortController();
        abort.signal.addEventListener('abort', () => clientsStop.abort(), { once: true });
        const clientOptions: ClientOptions = { opTimeoutMs: config.opTimeoutMs, readConsistency, mode: clientMode };
        const pool = new ClientPool(c, prepared, workload, h, config, clientOptions, progress, runTag);
        const clients = pool.run(clientsStop.signal);
        const onActive = (a: string | null): void => {
          progress.state.activeFault = a;
        };
        const nemesisDone =
          schedule !== null
            ? runPlannedSchedule({ faults: schedule, nemeses: wrapWithHook(nemeses, hooks, c, prepared), ctx, history: h, start: mainStart, deadline: mainDeadline, signal: abort.signal, onActive, composed })
            : runSchedule({ nemeses: wrapWithHook(nemeses, hooks, c, prepared), ctx, history: h, intervalMs: config.nemesisIntervalS * 1000, deadline: mainDeadline, signal: abort.signal, onActive });
        const mainTimer = clock.after(config.timeLimitS * 1000, () => clientsStop.abort());
        await clients;
        mainTimer.cancel();
        mainOps = pool.invoked;
        // The schedule ends on its own by the deadline; a fault still active then is stopped by the heal.
        const active = await nemesisDone;

        // --- heal and recovery --------------------------------------------------------------
        progress.state.phase = 'heal';
        await healAll(ctx, h, active);
        progress.state.activeFault = null;
        if (abort.signal.aborted) throw new HarnessError('interrupted');
        progress.state.phase = 'recovery';
        await clock.sleep(config.recoveryS * 1000, abort.signal);

        // --- final reads --------------------------------------------------------------------
        progress.state.phase = 'final-reads';
        const finals = await pool.finalReads(workload.finalReads(), abort.signal);
        if (finals.refused !== null) {
          // Not a recovery problem: the system answered, and refused the request itself.
          recoveryNotes.push(
            `the final reads were refused by the system, so what the cluster holds could not be read: ${finals.refused} (${finals.failed.length} of ${finals.total} final reads; a system setting may be too small for this workload)`,
          );
          log(`warning: ${recoveryNotes.at(-1) ?? ''}`);
        } else if (finals.failed.length > 0) {
          const leader = await currentLeader(c, prepared);
          recoveryNotes.push(
            `the cluster never recovered after the heal: ${finals.failed.length} of ${finals.total} final reads failed ${FINAL_READ_ATTEMPTS} times each (last error: ${finals.lastError}); ${leader === null ? 'no node says it leads' : `node ${leader} says it leads`}`,
          );
          log(`warning: ${recoveryNotes.at(-1) ?? ''}`);
        }

        // --- collection ---------------------------------------------------------------------
        progress.state.phase = 'collect';
        sampler.cancel();
        sampler = null;
        // One last status sample of every node, after the final reads: the election checker's
        // evidence of whether (and how) the cluster recovered, however short --recovery was.
        await Promise.all(
          c.nodes.map(async (n) => {
            const s = n.state === 'running' ? await prepared.status(n, 2000, c) : null;
            if (s !== null) addEvent({ kind: 'status', time: h.now(), node: n.id, role: s.role, term: s.term, leader: s.leader, commit: s.commit, applied: s.applied, ...(s.termIsApplied === true ? { termSource: 'applied' as const } : {}) });
          }),
        );
        const nodesDir = join(dir, 'nodes');
        try {
          await c.collectLogs(nodesDir);
        } catch (e) {
          collectionProblems.push(`node logs: ${(e as Error).message}`);
        }
        try {
          const collected = await prepared.collect(c, nodesDir, { startedAtMs: h.startedAtMs, now: () => h.now() });
          for (const e of collected.events) addEvent(e);
          collectionProblems.push(...collected.problems);
        } catch (e) {
          collectionProblems.push(`collection failed: ${(e as Error).message}`);
        }
        for (const p of collectionProblems) log(`warning: could not collect: ${p}`);
        progress.stop();
      } finally {
        sampler?.cancel();
        progress.stop();
        if (cluster !== null) await cluster.teardown();
      }
    });
  } finally {
    // (Assigned inside the closure above: TypeScript cannot see it.)
    (sampler as { cancel(): void } | null)?.cancel();
    progress.stop();
    history.close();
    await (cluster as StartedCluster | null)?.teardown();
    stopReaper();
    hooks.signal?.removeEventListener('abort', onCallerAbort);
  }

  // --- checking -------------------------------------------------------------------------
  log('checking');
  const ops = history.ops;
  const results: CheckResult[] = [];
  for (const checker of workload.checkers({ readConsistency })) {
    try {
      results.push(await checker.check({ history: ops, events, collectionProblems, clusterSize: config.nodes }));
    } catch (e) {
      results.push({ checker: checker.name, valid: 'unknown', summary: `checker failed: ${e instanceof Error ? e.message : String(e)}` });
    }
  }
  if (recoveryNotes.length > 0) results.push({ checker: 'recovery', valid: 'unknown', summary: recoveryNotes.join('; ') });
  const valid = mergeValidity(results.map((r) => r.valid));
  const counts = countCompletions(ops);
  writeFileSync(
    join(dir, 'results.json'),
    `${JSON.stringify({ valid, runId, counts, ...(collectionProblems.length > 0 ? { collectionProblems } : {}), checkers: Object.fromEntries(results.map((r) => [r.checker, r])) }, null, 2)}\n`,
  );
  writeRunJson({ finishedAt: new Date().toISOString(), valid });
  for (const r of results) log(`  ${r.checker}: ${String(r.valid)} — ${r.summary}`);
  // report.html, and the run recorded in PostgreSQL for comparisons across releases. Never
  // throws: the verdict on disk decides the exit status; failures are warning lines.
  if (hooks.publish !== false) await publishRun(dir, log, withDefaultDatabase(process.env));
  log(`valid: ${String(valid)}  (${counts.ok} ok, ${counts.fail} fail, ${counts.info} info)  ${dir}`);
  if (replay !== null && valid !== true) log(`replay: ${replay}`);
  return { valid, dir, runId, results, counts, mainOps, schedule, replay };
}

function wrapWithHook(nemeses: readonly Nemesis[], hooks: RunHooks, cluster: StartedCluster, system: PreparedSystem): Nemesis[] {
  const onFault = hooks.onFault;
  if (onFault === undefined) return [...nemeses];
  return nemeses.map((n) => ({
    ...n,
    start: async (ctx: NemesisContext) => {
      const v = await n.start(ctx);
      await onFault(`start-${n.name}`, v, cluster, system);
      return v;
    },
  }));
}

function countCompletions(ops: readonly { process: unknown; type: string }[]): { ok: number; fail: number; info: number } {
  const c = { ok: 0, fail: 0, info: 0 };
  for (const op of ops) {
    if (op.process === 'nemesis') continue;
    if (op.type === 'ok' || op.type === 'fail' || op.type === 'info') c[op.type]++;
  }
  return c;
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

/** Final reads: each op by a fresh process, retried (as new ops) until ok, at most this many times. */
const FINAL_READ_ATTEMPTS = 20;
/** Error codes by which a system refuses a request itself, whatever the cluster's state: retrying the same request cannot help. */
const REQUEST_REFUSED: ReadonlySet<string> = new Set(['too-large', 'bad-request']);

/** The logical client processes: each draws ops from its own seeded stream. */
class ClientPool {
  private nextValue = 1;
  /** Client operations invoked in the main phase so far (`--max-ops` bounds it). */
  invoked = 0;

  constructor(
    private readonly cluster: StartedCluster,
    private readonly system: PreparedSystem,
    private readonly workload: Workload,
    private readonly history: HistoryWriter,
    private readonly config: RunConfig,
    private readonly clientOptions: ClientOptions,
    private readonly progress: Progress,
    /** Part of lease holder names and client ids; unique per real run, the seed's in simulation. */
    private readonly runTag: string,
  ) {}

  private context(process: number, node: NodeId): ClientContext {
    const client: SystemClient = this.system.openClient(process, this.cluster.node(node), this.clientOptions, this.cluster);
    return {
      process,
      client,
      holder: `p${process}-${this.runTag}`,
      uniqueValue: () => this.nextValue++,
      memory: new Map(),
    };
  }

  private record(process: number, op: OpSpec, outcome: Outcome, node: NodeId): void {
    const base = { process, f: op.f, ...(op.key !== undefined ? { key: op.key } : {}), node: outcome.node ?? node };
    if (outcome.type === 'ok') this.history.record({ ...base, type: 'ok', value: outcome.value });
    else this.history.record({ ...base, type: outcome.type, value: op.value, error: outcome.error });
    this.progress.state[outcome.type]++;
  }

  private async once(ctx: ClientContext, spec: OpSpec): Promise<Outcome> {
    const op = this.workload.prepare(ctx, spec);
    this.history.record({ process: ctx.process, type: 'invoke', f: op.f, ...(op.key !== undefined ? { key: op.key } : {}), value: op.value, node: ctx.client.node });
    let outcome: Outcome;
    try {
      outcome = await this.workload.invoke(ctx, op);
    } catch (e) {
      outcome = { type: 'info', error: `client error: ${e instanceof Error ? e.message : String(e)}` };
    }
    this.record(ctx.process, op, outcome, ctx.client.node);
    return outcome;
  }

  async run(stop: AbortSignal): Promise<void> {
    const { concurrency, seed, rate } = this.config;
    const clock = this.cluster.clock;
    const ids = this.cluster.nodes.map((n) => n.id);
    const arb = this.workload.operations();
    const perWorkerGapMs = rate === null ? 0 : (concurrency * 1000) / rate;
    // Every process sleeps on `stop` between ops: one listener each at a time, not a leak (Node warns past 10).
    setMaxListeners(concurrency + 10, stop);
    await Promise.all(
      Array.from({ length: concurrency }, async (_, slot) => {
        const next = opStream(arb, seed, slot);
        let process = slot;
        const home = ids[slot % ids.length] as NodeId;
        let ctx = this.context(process, home);
        // Stagger the first ops so processes do not move in lockstep.
        let nextAt = clock.now() + (perWorkerGapMs * slot) / concurrency;
        const maxOps = this.config.maxOps ?? Number.POSITIVE_INFINITY;
        while (!stop.aborted) {
          const wait = nextAt - clock.now();
          if (wait > 0) await clock.sleep(wait, stop);
          if (stop.aborted || this.invoked >= maxOps) break;
          this.invoked++;
          nextAt = Math.max(nextAt + perWorkerGapMs, clock.now());
          const outcome = await this.once(ctx, next());
          if (outcome.type === 'info') {
            // Jepsen: a process that may still have an op in flight is never reused.
            void ctx.client.close().catch(() => {});
            process += concurrency;
            ctx = this.context(process, home);
          }
        }
        await ctx.client.close().catch(() => {});
      }),
    );
  }

  /**
   * Each final op by fresh processes, retried (as new ops) until ok. A definite refusal of the
   * request itself (too large, malformed) is not retried: the same request would be refused
   * again, and it says nothing about whether the cluster recovered (`refused` names it).
   */
  async finalReads(ops: readonly OpSpec[], signal: AbortSignal): Promise<{ total: number; failed: OpSpec[]; lastError: string; refused: string | null }> {
    const ids = this.cluster.nodes.map((n) => n.id);
    const failed: OpSpec[] = [];
    let lastError = '';
    let refused: string | null = null;
    let process = 1_000_000;
    for (const [i, op] of ops.entries()) {
      let done = false;
      for (let attempt = 0; attempt < FINAL_READ_ATTEMPTS && !done && !signal.aborted; attempt++) {
        const ctx = this.context(process++, ids[(i + attempt) % ids.length] as NodeId);
        const outcome = await this.once(ctx, op);
        await ctx.client.close().catch(() => {});
        if (outcome.type === 'ok') done = true;
        else {
          lastError = typeof outcome.error === 'string' ? outcome.error : outcome.error.code;
          if (outcome.type === 'fail' && typeof outcome.error !== 'string' && REQUEST_REFUSED.has(outcome.error.code)) {
            refused ??= `${outcome.error.code}${outcome.error.message !== undefined ? `: ${outcome.error.message}` : ''}`;
            break;
          }
          await this.cluster.clock.sleep(250, signal);
        }
      }
      if (!done) failed.push(op);
    }
    return { total: ops.length, failed, lastError, refused };
  }
}
