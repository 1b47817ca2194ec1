/**
 * `npm run jepsen -- [options]`: run a test, or `--cleanup` what crashed runs left.
 *
 * Exit status: 0 valid, 1 invalid, 2 unknown, 64 usage, 69 missing prerequisites,
 * 70 harness failure (sysexits.h).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomInt } from 'node:crypto';
import { Command, CommanderError, Option } from 'commander';
import { READ_CONSISTENCIES } from '../workloads/client.ts';
import type { ReadConsistency } from '../workloads/client.ts';
import { PrerequisiteError, UsageError } from './errors.ts';
import { describeKnobs, NEMESIS_NAMES, parseKnobs, parseNemeses } from './nemesis/index.ts';
import { explore } from './explore/explore.ts';
import { replayCommand } from './explore/replay.ts';
import { shrinkRun } from './explore/shrink.ts';
import { scheduleProblems } from './nemesis/planned.ts';
import type { PlannedFault } from './nemesis/planned.ts';
import { publishRun } from './report/publish.ts';
import { withDefaultDatabase } from './results-db/db.ts';
import { REPO_ROOT, runTest } from './run.ts';
import type { RunConfig } from './run.ts';
import { makeRuntime, RUNTIME_NAMES } from './runtime/index.ts';
import type { Runtime, RuntimeName, StartedCluster } from './runtime/runtime.ts';
import { DEFAULT_SYSTEM, SYSTEMS, systemByName } from './systems/index.ts';
import { WORKLOADS, workloadByName } from '../workloads/index.ts';
import { validateRun } from './validate.ts';

export const EXIT = { valid: 0, invalid: 1, unknown: 2, usage: 64, prerequisites: 69, harness: 70 } as const;

export { UsageError };

function int(flag: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    if (!/^\d+$/.test(v.trim())) throw new UsageError(`${flag}: expected an integer from ${min} to ${max}, got "${v}"`);
    const n = Number(v);
    if (n < min || n > max) throw new UsageError(`${flag}: expected an integer from ${min} to ${max}, got ${n}`);
    return n;
  };
}

export function buildProgram(): Command {
  return new Command('jepsen')
    .description('Run a system as a cluster behind Toxiproxy, inject faults, record and check the history.')
    .addOption(new Option('--system <name>', `the system under test (${Object.keys(SYSTEMS).join(', ')})`).default(DEFAULT_SYSTEM))
    .addOption(new Option('--workload <name>', `what clients do (${Object.keys(WORKLOADS).join(', ')})`).default('register'))
    .addOption(new Option('--nemesis <list>', `faults, comma-separated (${NEMESIS_NAMES.join(', ')})`).default('partition'))
    .addOption(new Option('--nodes <n>', 'cluster size').default(5).argParser(int('--nodes', 1, 15)))
    .addOption(new Option('--concurrency <n>', 'logical client processes').default(10).argParser(int('--concurrency', 1, 1000)))
    .addOption(new Option('--time-limit <s>', 'seconds of the main phase (clients and faults)').default(60).argParser(int('--time-limit', 1, 86_400)))
    .addOption(new Option('--rate <ops/s>', 'total operations per second over all processes; 0 = as fast as they go').default(100).argParser(int('--rate', 0, 1_000_000)))
    .addOption(new Option('--seed <n>', 'seed for operations and the fault schedule (default: random, printed)').argParser(int('--seed', 0, 2 ** 31 - 1)))
    .addOption(new Option('--runtime <name>', 'where the cluster runs').choices(RUNTIME_NAMES).default('docker'))
    .addOption(new Option('--results-dir <dir>', 'where runs are written').default(join(REPO_ROOT, 'results')))
    .addOption(new Option('--unsafe <names>', 'break the system on purpose (the store: stale-reads, ack-before-commit, no-fsync, lease-no-wait), to prove the checkers catch it'))
    .addOption(new Option('--read-consistency <level>', 'how reads are served: linearizable, or serializable (a member\'s local, possibly stale state)').choices(READ_CONSISTENCIES).default('linearizable'))
    .addOption(new Option('--client <mode>', "single-attempt (Jepsen's semantics) or retrying (the system's own client library, with its retries)").choices(['single-attempt', 'retrying']).default('single-attempt'))
    .addOption(new Option('--etcd-bin <path>', "etcd: the etcd server binary to test (default: Debian's etcd-server; scripts/build-etcd.sh builds any release)"))
    .addOption(new Option('--etcd-version <vX.Y.Z>', 'etcd: test this release, built from the Go module proxy by scripts/build-etcd.sh on first use and cached (instead of --etcd-bin)'))
    .addOption(new Option('--snapshot-count <n>', 'alias of --snapshot-entries (etcd\'s name)').argParser(int('--snapshot-count', 1, 1_000_000_000)))
    .addOption(
      new Option('--system-option <name=value>', 'a system-specific option, repeatable (see harness/systems/<name>)').argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]),
    )
    .option('--storage-fault-mode', 'start nodes with --storage-fault-mode: unsynced writes die with a killed node, as on power loss (what makes `--unsafe no-fsync` observable)', false)
    .addOption(
      new Option('--snapshot-entries <n>', "nodes' --snapshot-entries: small, so compaction and snapshot installs happen under faults").default(500).argParser(int('--snapshot-entries', 1, 1_000_000_000)),
    )
    .addOption(new Option('--op-timeout <ms>', 'per-operation timeout; past it the op is info').default(2000).argParser(int('--op-timeout', 10, 600_000)))
    .addOption(
      new Option('--knob <name=value>', `a nemesis knob, repeatable: ${describeKnobs()}`).argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]),
    )
    .addOption(new Option('--nemesis-interval <s>', 'seconds between fault start and stop').default(10).argParser(int('--nemesis-interval', 1, 3600)))
    .addOption(new Option('--recovery <s>', 'seconds after healing before the final reads').default(5).argParser(int('--recovery', 0, 3600)))
    .addOption(new Option('--log-level <level>', 'node log level').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .addOption(new Option('--no-build', 'raftstore: do not run `npm run build:node` first'))
    .addOption(new Option('--bundle <path>', 'raftstore: store node bundle to run (default dist/store-node.mjs, built by `npm run build:node`)'))
    .addOption(new Option('--max-ops <n>', 'at most this many client operations in the main phase (shrinking lowers it)').argParser(int('--max-ops', 1, 1_000_000_000)))
    .addOption(new Option('--replay-schedule <file>', 'sim: run exactly these faults (a schedule.json a run or a shrink wrote) instead of the seed\'s'))
    .addOption(new Option('--runs <n>', 'sim: explore N seeds (seed, seed+1, …) on every core, shrink the failing ones').argParser(int('--runs', 1, 1_000_000)))
    .addOption(new Option('--jobs <n>', 'sim --runs: worker processes (default: the cores)').argParser(int('--jobs', 1, 256)))
    .addOption(new Option('--no-shrink', 'sim: do not shrink an invalid run'))
    .option('--compose', "faults of different nemeses overlap, each nemesis on its own timeline (Jepsen's composed packages); default: one fault at a time", false)
    .option('--quiet', 'no progress output', false)
    .option('--cleanup', 'remove every container, network, volume and process that runs left behind, then exit', false)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
}

interface Opts {
  system: string;
  readConsistency: ReadConsistency;
  client: 'single-attempt' | 'retrying';
  etcdBin?: string;
  etcdVersion?: string;
  snapshotCount?: number;
  systemOption?: string[];
  workload: string;
  nemesis: string;
  knob?: string[];
  snapshotEntries: number;
  nodes: number;
  concurrency: number;
  timeLimit: number;
  rate: number;
  seed?: number;
  runtime: RuntimeName;
  resultsDir: string;
  unsafe?: string;
  storageFaultMode: boolean;
  opTimeout: number;
  nemesisInterval: number;
  recovery: number;
  logLevel: RunConfig['logLevel'];
  build: boolean;
  bundle?: string;
  quiet: boolean;
  cleanup: boolean;
  maxOps?: number;
  replaySchedule?: string;
  runs?: number;
  jobs?: number;
  shrink: boolean;
  compose: boolean;
}

/** `--replay-schedule FILE`: the faults, checked against this run's nemeses (a bad file is exit 64 naming what is wrong). */
function readSchedule(file: string, nemeses: Parameters<typeof scheduleProblems>[1]): PlannedFault[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`--replay-schedule ${file}: ${(e as Error).message}`);
  }
  const problems = scheduleProblems(parsed, nemeses, `--replay-schedule ${file}`);
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return parsed as PlannedFault[];
}

/** `--system-option name=value` settings, and the dedicated flags that feed the same map. */
function systemOptionsFrom(o: Opts): Record<string, string> {
  const out: Record<string, string> = {};
  for (const setting of o.systemOption ?? []) {
    const m = /^([A-Za-z][\w-]*)=(.*)$/.exec(setting.trim());
    if (m === null) throw new UsageError(`--system-option: expected name=value, got "${setting}"`);
    out[m[1] as string] = m[2] as string;
  }
  if (o.etcdBin !== undefined) {
    if (o.system !== 'etcd') throw new UsageError(`--etcd-bin: only for --system etcd (the system is ${o.system})`);
    out.etcdBin = resolve(o.etcdBin);
  }
  if (o.etcdVersion !== undefined) {
    if (o.system !== 'etcd') throw new UsageError(`--etcd-version: only for --system etcd (the system is ${o.system})`);
    if (o.etcdBin !== undefined) throw new UsageError('--etcd-version and --etcd-bin: give one (the release to build, or the binary to test)');
    out.etcdVersion = o.etcdVersion;
  }
  if (o.bundle !== undefined) out.bundle = resolve(o.bundle);
  if (!o.build) out.build = 'false';
  return out;
}

export function configFromOptions(o: Opts): RunConfig {
  const system = systemByName(o.system);
  if (!(o.workload in WORKLOADS)) throw new UsageError(`--workload: unknown workload "${o.workload}" (known: ${Object.keys(WORKLOADS).join(', ')})`);
  let knobs;
  let nemeses;
  try {
    knobs = parseKnobs(o.knob ?? []);
    nemeses = parseNemeses(o.nemesis, knobs, system.supports);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const unsafe = (o.unsafe ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const systemOptions = systemOptionsFrom(o);
  // Everything the system cannot do is refused now, before anything starts (exit 64).
  validateRun({
    system,
    workload: workloadByName(o.workload),
    nemeses,
    config: { runtime: o.runtime, unsafe, storageFaultMode: o.storageFaultMode, readConsistency: o.readConsistency, clientMode: o.client, nodes: o.nodes, systemOptions },
  });
  const simOnly = (flag: string, given: boolean): void => {
    if (given && o.runtime !== 'sim') throw new UsageError(`${flag}: only with --runtime sim (a container run cannot be replayed or explored seed by seed)`);
  };
  simOnly('--replay-schedule', o.replaySchedule !== undefined);
  simOnly('--runs', o.runs !== undefined);
  simOnly('--jobs', o.jobs !== undefined);
  if (o.runs !== undefined && o.replaySchedule !== undefined) throw new UsageError('--runs explores seeds; --replay-schedule replays one run: choose one');
  const schedule = o.replaySchedule !== undefined ? readSchedule(resolve(o.replaySchedule), nemeses) : undefined;
  if (o.snapshotCount !== undefined && o.snapshotEntries !== 500 && o.snapshotCount !== o.snapshotEntries) {
    throw new UsageError(`--snapshot-count ${o.snapshotCount} and --snapshot-entries ${o.snapshotEntries} disagree (they are the same setting)`);
  }
  return {
    system: o.system,
    readConsistency: o.readConsistency,
    clientMode: o.client,
    systemOptions,
    workload: o.workload,
    nemesis: o.nemesis,
    nodes: o.nodes,
    concurrency: o.concurrency,
    timeLimitS: o.timeLimit,
    rate: o.rate === 0 ? null : o.rate,
    seed: o.seed ?? randomInt(0, 2 ** 31 - 1),
    runtime: o.runtime,
    resultsDir: resolve(o.resultsDir),
    unsafe,
    storageFaultMode: o.storageFaultMode,
    snapshotEntries: o.snapshotCount ?? o.snapshotEntries,
    opTimeoutMs: o.opTimeout,
    nemesisIntervalS: o.nemesisInterval,
    knobs,
    recoveryS: o.recovery,
    logLevel: o.logLevel,
    ...(o.compose ? { compose: true } : {}),
    ...(o.maxOps !== undefined ? { maxOps: o.maxOps } : {}),
    ...(schedule !== undefined && o.replaySchedule !== undefined ? { schedule, scheduleFile: resolve(o.replaySchedule) } : {}),
  };
}

/** Run the host set-up script if we can (root, script present); true if it succeeded. */
function trySetupHost(): boolean {
  const script = join(REPO_ROOT, 'scripts', 'setup-host.sh');
  if (process.getuid?.() !== 0 || !existsSync(script)) return false;
  process.stderr.write('jepsen: prerequisites missing; running scripts/setup-host.sh\n');
  return spawnSync('bash', [script], { stdio: 'inherit' }).status === 0;
}

async function checkPrerequisites(runtime: Runtime): Promise<void> {
  try {
    await runtime.checkPrerequisites();
  } catch (e) {
    if (!(e instanceof PrerequisiteError) || !trySetupHost()) throw e;
    await runtime.checkPrerequisites();
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  let opts: Opts;
  try {
    program.parse(argv as string[], { from: 'user' });
    opts = program.opts<Opts>();
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      return EXIT.usage; // commander already printed its message
    }
    if (e instanceof UsageError) {
      process.stderr.write(`jepsen: ${e.message}\n`);
      return EXIT.usage;
    }
    throw e;
  }

  if (opts.cleanup) {
    const removed: string[] = [];
    for (const name of RUNTIME_NAMES) {
      try {
        removed.push(...(await makeRuntime(name).cleanupLeftovers()));
      } catch (e) {
        process.stderr.write(`jepsen: cleanup (${name}): ${(e as Error).message}\n`);
      }
    }
    process.stdout.write(removed.length === 0 ? 'nothing to clean up\n' : `removed:\n  ${removed.join('\n  ')}\n`);
    return 0;
  }

  let config: RunConfig;
  try {
    config = configFromOptions(opts);
  } catch (e) {
    process.stderr.write(`jepsen: ${(e as Error).message}\n`);
    return EXIT.usage;
  }

  if (opts.runs !== undefined) {
    process.stderr.write(`jepsen: exploring ${opts.runs} seeds from ${config.seed} in simulation\n`);
    const summary = await explore(config, { runs: opts.runs, shrink: opts.shrink, ...(opts.jobs !== undefined ? { jobs: opts.jobs } : {}) });
    return summary.invalid > 0 ? EXIT.invalid : summary.unknown > 0 || summary.errors > 0 ? EXIT.unknown : EXIT.valid;
  }

  // What the system builds (the store's bundle, images) it builds in its prepare step, after
  // these checks, so a fresh clone's first run needs nothing built by hand.
  let runtime: Runtime;
  try {
    runtime = makeRuntime(config.runtime, { seed: config.seed, storageFaultMode: config.storageFaultMode === true });
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`jepsen: ${e.message}\n`);
      return EXIT.usage;
    }
    throw e;
  }
  try {
    await checkPrerequisites(runtime);
  } catch (e) {
    if (e instanceof PrerequisiteError) {
      process.stderr.write(`jepsen: ${e.message}\n`);
      return EXIT.prerequisites;
    }
    throw e;
  }

  // Ctrl-C: abort the run (its finally tears the cluster down); if that hangs, remove by label.
  const abort = new AbortController();
  let cluster: StartedCluster | null = null;
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) return;
    signalled = true;
    process.stderr.write(`\njepsen: ${sig}: stopping and cleaning up\n`);
    if (config.runtime === 'sim') {
      // Nothing of a simulated run lives outside this process, and a real timer here would
      // trip the simulation's real-I/O guard: stop now. The seed reproduces the run.
      process.stderr.write(`jepsen: replay it with: ${replayCommand(config)}\n`);
      process.exit(130);
    }
    abort.abort();
    const force = setTimeout(() => {
      void (async () => {
        if (cluster !== null) await cluster.teardown().catch(() => {});
        process.exit(130);
      })();
    }, 15_000);
    force.unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    // A simulated run that may be shrunk publishes after the shrinking: a database client left
    // in this process would trip the next simulation's real-I/O guard.
    const publishLater = config.runtime === 'sim';
    const out = await runTest(config, {
      runtime,
      publish: !publishLater,
      signal: abort.signal,
      quiet: opts.quiet,
      onCluster: (c) => {
        cluster = c;
      },
    });
    if (signalled) return 130;
    if (out.valid === false && config.runtime === 'sim' && opts.shrink) {
      process.stderr.write('shrinking the failing run (each try is a simulated run; --no-shrink skips this)\n');
      const shrunk = await shrinkRun(config, out, { log: (l) => process.stderr.write(`${l}\n`) });
      if (shrunk !== null) process.stderr.write(`shrunk to ${shrunk.faults.length} fault(s) and ${shrunk.maxOps} ops in ${shrunk.tries} tries: ${shrunk.dir}\nreplay the shrunk run: ${shrunk.replay}\n`);
    }
    if (publishLater) {
      const log = (l: string): void => {
        if (!opts.quiet || l.startsWith('warning')) process.stderr.write(`${l}\n`);
      };
      await publishRun(out.dir, log, withDefaultDatabase(process.env));
      if (out.replay !== null && out.valid !== true) process.stderr.write(`replay: ${out.replay}\n`);
    }
    return out.valid === true ? EXIT.valid : out.valid === false ? EXIT.invalid : EXIT.unknown;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`jepsen: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e instanceof PrerequisiteError) {
      process.stderr.write(`jepsen: ${e.message}\n`);
      return EXIT.prerequisites;
    }
    if (signalled) return 130;
    process.stderr.write(`jepsen: harness failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT.harness;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('harness/cli.ts')) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`jepsen: harness failure: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(EXIT.harness);
    },
  );
}
