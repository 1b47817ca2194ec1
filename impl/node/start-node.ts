/**
 * Assembles one store node on a Platform (platform.ts): durable storage, the state machine
 * restored from the latest snapshot, the Raft core and its driver, the peer endpoint, the
 * lessor and the HTTP client API, in that order. The real process (main.ts) calls it with
 * the real platform; the simulation (harness/sim/) with a simulated one: one copy of the
 * assembly and the driver for both. Nothing here reads a clock, sets a timer, draws a random
 * number, opens a file or a socket except through `platform` (eslint.config.js).
 */
import { join } from 'node:path';
import { RawNode, SeededRng, bootstrapEntries, bootstrapHardState, index } from '../raft/index.ts';
import type { NodeId } from '../raft/index.ts';
import { DiskStorage } from '../storage/disk-storage.ts';
import { KvStateMachine } from '../store/kv-state-machine.ts';
import { Lessor } from '../store/lessor.ts';
import { createStoreHandler, DEFAULT_MAX_BODY_BYTES } from '../store/store-handler.ts';
import type { RequestHandler } from '../store/http-handler.ts';
import { SkewableClock } from '../store/clock.ts';
import type { NodeConfig } from './config.ts';
import { RaftDriver } from './driver.ts';
import type { Logger } from './log.ts';
import { withMetricsRoute } from './metrics.ts';
import type { Platform } from './platform.ts';

export interface RunningNode {
  readonly config: NodeConfig;
  readonly driver: RaftDriver;
  /** The client API as served (metrics route included). */
  readonly handler: RequestHandler;
  /** Where the client API listens. */
  readonly clientUrl: string;
  /** Stop accepting clients, stop consensus, close the transport and the storage. */
  shutdown(reason: string): Promise<void>;
  /** Resolves when the node stopped on its own (consensus failure) or after shutdown. */
  readonly done: Promise<number>;
}

export async function startNode(config: NodeConfig, logger: Logger, platform: Platform): Promise<RunningNode> {
  if (config.unsafe.size > 0) {
    logger.warn('!!! UNSAFE MODE: this node breaks the store on purpose; never use it for real data !!!', { unsafe: [...config.unsafe] });
  }
  if (config.storageFaultMode) logger.warn('storage fault mode is on (test only): unsynced writes live in process memory', {});

  const storage = await DiskStorage.open(config.dataDir, {
    faultMode: config.storageFaultMode,
    fsync: !config.unsafe.has('no-fsync'),
    logger: componentLogger(logger, 'storage'),
    fs: platform.fs,
    timers: platform.timers,
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

  // The clock `/v1/test/clock` skews: epoch milliseconds that never jump by themselves (the
  // platform's monotonic clock, shifted to the epoch once at start).
  const epochOffset = platform.clock.wallMs() - platform.clock.monotonicMs();
  const clock = new SkewableClock(() => epochOffset + platform.clock.monotonicMs());
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
      maxMsgBytes: config.maxAppendBytes,
      maxProposalBytes: config.maxProposalBytes,
      rng: new SeededRng(platform.random.uint32()),
      applied: snapshot.metadata.index,
    },
    storage,
  );

  const clientUrls = new Map<NodeId, string>(config.peerClientUrls);
  clientUrls.set(config.id, config.advertiseClientUrl);

  let driverRef: RaftDriver | null = null;
  const link = await platform.peers.open({
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
    platform,
    rawNode,
    storage,
    transport: link,
    stateMachine: sm,
    clock,
    tickMs: config.tickMs,
    snapshotEntries: config.snapshotEntries,
    maxProposalBytes: config.maxProposalBytes,
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
  const lessor = new Lessor(driver, sm, {
    clock: { now: () => platform.clock.monotonicMs() },
    timers: platform.timers,
    log: (msg, fields) => logger.info(msg, { component: 'lessor', ...fields }),
  });
  const handler = withMetricsRoute(
    createStoreHandler({
      handle: driver,
      stateMachine: sm,
      testClock: clock,
      enableFaultInjection: config.enableFaultInjection,
      clusterSecret: config.clusterSecret,
      storageFaultMode: config.storageFaultMode,
      // A body may be as large as the largest proposal it can become.
      maxBodyBytes: Math.max(DEFAULT_MAX_BODY_BYTES, config.maxProposalBytes),
      timers: platform.timers,
      log: (msg, fields) => logger.info(msg, { component: 'http', ...fields }),
    }),
    () => ({
      id: config.id,
      // Event-loop delay: one thread serves HTTP, consensus and storage completions, so any
      // long task (a snapshot, a GC pause, being descheduled on a busy machine) delays every request.
      eventLoopDelayMs: platform.loopDelay(),
      driver: driver.stats,
      storage: storage.stats(),
      transport: { ...link.counters, queueDepths: Object.fromEntries(link.queueDepths()) },
      unsafe: [...config.unsafe].sort(),
      storageFaultMode: config.storageFaultMode,
    }),
  );

  driver.start();
  lessor.start();
  const listener = await platform.http.listen(handler, config.clientPort, config.clientHost);
  logger.info('node started', {
    clientUrl: listener.url,
    advertiseClientUrl: config.advertiseClientUrl,
    peer: `${config.peerHost}:${config.peerPort}`,
    peers: Object.fromEntries([...config.peers].map(([id, a]) => [id, `${a.host}:${a.port}`])),
    members: rawNode.confState(),
    tickMs: config.tickMs,
    electionTicks: config.electionTicks,
    heartbeatTicks: config.heartbeatTicks,
    maxAppendBytes: config.maxAppendBytes,
    maxProposalBytes: config.maxProposalBytes,
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
    await step('http server', () => listener.close());
    await step('lessor', () => lessor.stop());
    await step('driver', () => driver.stop());
    await step('transport', () => link.close());
    await step('storage', () => storage.close());
    logger.info('stopped', { reason });
    resolveDone(code);
  }

  return { config, driver, handler, clientUrl: listener.url, shutdown: (reason) => shutdown(reason), done };
}

function componentLogger(logger: Logger, component: string): { info: LogFn; warn: LogFn; error: LogFn } {
  return {
    info: (msg, fields) => logger.info(msg, { component, ...fields }),
    warn: (msg, fields) => logger.warn(msg, { component, ...fields }),
    error: (msg, fields) => logger.error(msg, { component, ...fields }),
  };
}

type LogFn = (msg: string, fields?: Record<string, unknown>) => void;
