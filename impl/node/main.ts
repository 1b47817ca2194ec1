/**
 * The store node's entry point: configuration, durable storage, the state machine restored
 * from the latest snapshot, the Raft core and its driver, the peer transport, the lessor and
 * the HTTP client API, in that order; graceful shutdown on SIGTERM/SIGINT.
 *
 *   tsx impl/node/main.ts --id n1 --peers n2=127.0.0.1:7002 ... (tests)
 *   node dist/store-node.mjs --id n1 ...                      (the image; `npm run build:node`)
 *
 * Exit status: 0 after a clean shutdown, 64 for invalid configuration (one line on stderr
 * naming the flag), 1 when storage cannot be recovered or the consensus loop fails.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { RawNode, SeededRng, bootstrapEntries, bootstrapHardState, index } from '../raft/index.ts';
import type { NodeId } from '../raft/index.ts';
import { DiskStorage } from '../storage/disk-storage.ts';
import { KvStateMachine } from '../store/kv-state-machine.ts';
import { Lessor } from '../store/lessor.ts';
import { createStoreServer } from '../store/server.ts';
import { SkewableClock } from '../store/clock.ts';
import { ConfigError, helpText, parseConfig } from './config.ts';
import type { NodeConfig } from './config.ts';
import { RaftDriver } from './driver.ts';
import { createLogger } from './log.ts';
import type { Logger } from './log.ts';
import { PeerTransport } from '../transport/index.ts';
import { attachMetricsRoute } from './metrics.ts';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export const EXIT_USAGE = 64;

export interface RunningNode {
  readonly config: NodeConfig;
  readonly driver: RaftDriver;
  /** Stop accepting clients, stop consensus, close the transport and the storage. */
  shutdown(reason: string): Promise<void>;
  /** Resolves when the node stopped on its own (consensus failure) or after shutdown. */
  readonly done: Promise<number>;
}

export async function startNode(config: NodeConfig, logger: Logger): Promise<RunningNode> {
  if (config.unsafe.size > 0) {
    logger.warn('!!! UNSAFE MODE: this node breaks the store on purpose; never use it for real data !!!', { unsafe: [...config.unsafe] });
  }
  if (config.storageFaultMode) logger.warn('storage fault mode is on (test only): unsynced writes live in process memory', {});

  const storage = await DiskStorage.open(config.dataDir, {
    faultMode: config.storageFaultMode,
    fsync: !config.unsafe.has('no-fsync'),
    logger: componentLogger(logger, 'storage'),
  });

  const fresh = storage.lastIndex() === 0 && storage.snapshot().metadata.index === 0 && storage.initialState().hardState.term === 0;
  if (fresh && !config.join) {
    // Membership lives in the log (etcd's Bootstrap): every initial member writes the same
    // entries, so the list is sorted — the same index and term must mean the same entry on
    // every node (Log Matching, Raft §5.3).
    const voters = [...config.initialMembers].sort() as NodeId[];
    await storage.save(bootstrapHardState(voters), bootstrapEntries(voters), null);
    logger.info('bootstrapped a new cluster', { voters });
  } else if (fresh) {
    logger.info('joining: starting with an empty configuration, waiting to be added by a member', {});
  }

  const clock = new SkewableClock();
  const sm = new KvStateMachine();
  const snapshot = storage.snapshot();
  if (snapshot.metadata.index > 0) {
    sm.restore(snapshot.data);
    logger.info('restored state machine from snapshot', { index: snapshot.metadata.index, term: snapshot.metadata.term });
  }
  const rawNode = new RawNode(
    {
      id: config.id,
      electionTicks: config.electionTicks,
      heartbeatTicks: config.heartbeatTicks,
      rng: new SeededRng(randomBytes(4).readUInt32BE(0)),
      applied: snapshot.metadata.index,
    },
    storage,
  );

  const clientUrls = new Map<NodeId, string>(config.peerClientUrls);
  clientUrls.set(config.id, config.advertiseClientUrl);

  let driverRef: RaftDriver | null = null;
  const link = await PeerTransport.start({
    id: config.id,
    secret: config.clusterSecret,
    peers: config.peers,
    listenHost: config.peerHost,
    listenPort: config.peerPort,
    onUnreachable: (to) => driverRef?.reportUnreachable(to),
    onSnapshotStatus: (to, ok) => driverRef?.reportSnapshot(to, ok),
    logger: componentLogger(logger, 'transport'),
  });
  link.onMessage((m) => driverRef?.receive(m));

  let resolveDone: (code: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  let shutdownStarted = false;

  const driver = new RaftDriver({
    id: config.id,
    rawNode,
    storage,
    transport: link,
    stateMachine: sm,
    clock,
    tickMs: config.tickMs,
    snapshotEntries: config.snapshotEntries,
    unsafe: config.unsafe,
    clientUrls,
    eventsPath: join(config.dataDir, 'events.jsonl'),
    logger,
    appliedIndex: index(snapshot.metadata.index),
    onFatal: (err) => {
      logger.error('stopping: the consensus loop failed', { err });
      void shutdown('consensus failure', 1);
    },
  });
  driverRef = driver;

  // Lease deadlines run on the monotonic clock, not the skewable node clock: a jump of the
  // leader's wall clock (the clock nemesis) must not expire a lease early. What remains is
  // clock *rate* drift, which the holder's safety margin covers (impl/API.md, "Lease guarantee").
  const monotonicClock = { now: () => performance.now() };
  const lessor = new Lessor(driver, sm, {
    clock: monotonicClock,
    log: (msg, fields) => logger.info(msg, { component: 'lessor', ...fields }),
  });
  const server = createStoreServer({
    handle: driver,
    stateMachine: sm,
    testClock: clock,
    enableFaultInjection: config.enableFaultInjection,
    clusterSecret: config.clusterSecret,
    storageFaultMode: config.storageFaultMode,
    log: (msg, fields) => logger.info(msg, { component: 'http', ...fields }),
  });
  // Event-loop delay: one thread serves HTTP, consensus and storage completions, so any long
  // task (a snapshot, a GC pause, being descheduled on a busy machine) delays every request.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  attachMetricsRoute(server.server, () => ({
    id: config.id,
    eventLoopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    driver: driver.stats,
    storage: storage.stats(),
    transport: { ...link.counters, queueDepths: Object.fromEntries(link.queueDepths()) },
    unsafe: [...config.unsafe].sort(),
    storageFaultMode: config.storageFaultMode,
  }));

  driver.start();
  lessor.start();
  const address = await server.listen(config.clientPort, config.clientHost);
  logger.info('node started', {
    clientUrl: address.url,
    advertiseClientUrl: config.advertiseClientUrl,
    peer: `${config.peerHost}:${config.peerPort}`,
    peers: Object.fromEntries([...config.peers].map(([id, a]) => [id, `${a.host}:${a.port}`])),
    members: rawNode.confState(),
    tickMs: config.tickMs,
    electionTicks: config.electionTicks,
    heartbeatTicks: config.heartbeatTicks,
    unsafe: [...config.unsafe],
    storageFaultMode: config.storageFaultMode,
  });

  async function shutdown(reason: string, code = 0): Promise<void> {
    if (shutdownStarted) return;
    shutdownStarted = true;
    logger.info('shutting down', { reason });
    const step = async (what: string, fn: () => Promise<void> | void): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        logger.warn(`shutdown: ${what} failed`, { err });
      }
    };
    await step('http server', () => server.close());
    await step('lessor', () => lessor.stop());
    await step('driver', () => driver.stop());
    await step('transport', () => link.close());
    await step('storage', () => storage.close());
    logger.info('stopped', { reason });
    resolveDone(code);
  }

  return { config, driver, shutdown: (reason) => shutdown(reason), done };
}

function componentLogger(logger: Logger, component: string): { info: LogFn; warn: LogFn; error: LogFn } {
  return {
    info: (msg, fields) => logger.info(msg, { component, ...fields }),
    warn: (msg, fields) => logger.warn(msg, { component, ...fields }),
    error: (msg, fields) => logger.error(msg, { component, ...fields }),
  };
}

type LogFn = (msg: string, fields?: Record<string, unknown>) => void;

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(helpText());
    return 0;
  }
  let config: NodeConfig;
  try {
    config = parseConfig(argv, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`store-node: invalid configuration: ${err.message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
  const logger = createLogger(config.id, config.logLevel);
  let node: RunningNode;
  try {
    node = await startNode(config, logger);
  } catch (err) {
    logger.error('failed to start', { err });
    return 1;
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void node.shutdown(signal));
  }
  return node.done;
}

const invokedDirectly = process.argv[1] !== undefined && /(?:main\.ts|store-node\.m?js)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      // Let stdout drain, then leave even if a stray handle lingers.
      process.exitCode = code;
      setTimeout(() => process.exit(code), 200).unref();
    },
    (err: unknown) => {
      process.stderr.write(`store-node: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
