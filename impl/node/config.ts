/**
 * The node's configuration: flags and environment variables exactly as impl/API.md lists
 * them, validated once at start. Every problem becomes a ConfigError naming the flag, and
 * main.ts turns it into one line on stderr and exit status 64 (EX_USAGE), so an operator
 * (or the harness) sees what was wrong without reading a stack trace.
 *
 * Precedence: a flag beats its environment variable, which beats the default.
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import type { NodeId } from '../raft/types.ts';
import { nodeId } from '../raft/types.ts';
import { DEFAULT_MAX_INFLIGHT_BYTES, DEFAULT_MAX_MSG_BYTES, DEFAULT_MAX_PROPOSAL_BYTES } from '../raft/index.ts';

export const UNSAFE_NAMES = ['stale-reads', 'ack-before-commit', 'no-fsync', 'lease-no-wait'] as const;
export type UnsafeName = (typeof UNSAFE_NAMES)[number];

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Shortest cluster secret accepted. Short enough for API.md's example (`s3cret`), long enough to stop an empty or one-letter key. */
export const MIN_SECRET_LENGTH = 6;

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface NodeConfig {
  readonly id: NodeId;
  /** Every node this node may talk to, as this node reaches it; never contains `id`. */
  readonly peers: ReadonlyMap<NodeId, PeerAddress>;
  /** Voters when bootstrapping an empty data dir; empty with `join`. */
  readonly initialMembers: readonly NodeId[];
  readonly join: boolean;
  readonly dataDir: string;
  readonly clientHost: string;
  readonly clientPort: number;
  readonly peerHost: string;
  readonly peerPort: number;
  readonly advertiseClientUrl: string;
  /** Other nodes' client URLs, for leader hints (`--peer-client-urls`); unknown ids hint with clientUrl null. */
  readonly peerClientUrls: ReadonlyMap<NodeId, string>;
  readonly clusterSecret: string;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly snapshotEntries: number;
  /** Most bytes of entries in one append message (Raft's maxMsgBytes); a larger entry travels alone. */
  readonly maxAppendBytes: number;
  /** Most bytes of one proposal (a client write as replicated); larger writes are refused with too-large. */
  readonly maxProposalBytes: number;
  readonly storageFaultMode: boolean;
  readonly enableFaultInjection: boolean;
  readonly unsafe: ReadonlySet<UnsafeName>;
  readonly logLevel: LogLevel;
}

/** A configuration problem, naming the flag it concerns. */
export class ConfigError extends Error {
  constructor(
    readonly flag: string,
    readonly problem: string,
  ) {
    super(`${flag}: ${problem}`);
    this.name = 'ConfigError';
  }
}

const ID_PATTERN = /^[a-z0-9-]{1,32}$/;

type Env = Readonly<Record<string, string | undefined>>;

interface RawOptions {
  id?: string;
  peers?: string;
  initialMembers?: string;
  join?: boolean;
  dataDir?: string;
  clientHost?: string;
  clientPort?: string;
  peerHost?: string;
  peerPort?: string;
  advertiseClientUrl?: string;
  peerClientUrls?: string;
  clusterSecret?: string;
  tickMs?: string;
  electionTicks?: string;
  heartbeatTicks?: string;
  snapshotEntries?: string;
  maxAppendBytes?: string;
  maxProposalBytes?: string;
  storageFaultMode?: boolean;
  enableFaultInjection?: boolean;
  unsafe?: string;
  logLevel?: string;
}

function buildCommand(): Command {
  return new Command('store-node')
    .description('A node of the reference Raft config store (see impl/API.md)')
    .option('--id <id>', "this node's id ([a-z0-9-]{1,32}); env STORE_ID")
    .option('--peers <list>', 'peer address book id=host:port,...; env STORE_PEERS')
    .option('--initial-members <ids>', 'voters when bootstrapping an empty data dir; env STORE_INITIAL_MEMBERS')
    .option('--join', 'start with an empty configuration and wait to be added; env STORE_JOIN=1')
    .option('--data-dir <dir>', 'WAL, hard state and snapshots; env STORE_DATA_DIR')
    .option('--client-host <host>', 'HTTP client API host; env STORE_CLIENT_HOST')
    .option('--client-port <port>', 'HTTP client API port; env STORE_CLIENT_PORT')
    .option('--peer-host <host>', 'peer transport host; env STORE_PEER_HOST')
    .option('--peer-port <port>', 'peer transport port; env STORE_PEER_PORT')
    .option('--advertise-client-url <url>', 'what leader hints tell clients; env STORE_ADVERTISE_CLIENT_URL')
    .option('--peer-client-urls <list>', "other nodes' client URLs id=url,... for leader hints; env STORE_PEER_CLIENT_URLS")
    .option('--cluster-secret <secret>', 'HMAC key for peer frames and test endpoints; env STORE_CLUSTER_SECRET')
    .option('--tick-ms <n>', 'one Raft tick in ms; env STORE_TICK_MS')
    .option('--election-ticks <n>', 'election timeout in ticks; env STORE_ELECTION_TICKS')
    .option('--heartbeat-ticks <n>', 'heartbeat interval in ticks; env STORE_HEARTBEAT_TICKS')
    .option('--snapshot-entries <n>', 'compact the log after this many applied entries; env STORE_SNAPSHOT_ENTRIES')
    .option('--max-append-bytes <n>', 'most bytes of entries per append message; a larger entry travels alone (default 1048576); env STORE_MAX_APPEND_BYTES')
    .option('--max-proposal-bytes <n>', 'most bytes of one replicated write; larger ones are refused with too-large (default 1048576); env STORE_MAX_PROPOSAL_BYTES')
    .option('--storage-fault-mode', 'test only: unsynced writes are lost on kill -9; env STORE_STORAGE_FAULT_MODE=1')
    .option('--enable-fault-injection', 'test only: enables /v1/test/*; env STORE_ENABLE_FAULT_INJECTION=1')
    .option('--unsafe <names>', `break the store on purpose: ${UNSAFE_NAMES.join(', ')}; env STORE_UNSAFE`)
    .option('--log-level <level>', `${LOG_LEVELS.join(', ')}; env STORE_LOG_LEVEL`)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined })
    .allowExcessArguments(false);
}

/** The help text, for `--help`. */
export function helpText(): string {
  return buildCommand().helpInformation();
}

/**
 * Parse `argv` (the arguments after the script, as `process.argv.slice(2)`) and `env`.
 * Throws ConfigError; with `checkDataDir` (the default) also creates the data dir if
 * missing and checks it is writable.
 */
export function parseConfig(argv: readonly string[], env: Env = {}, options: { readonly checkDataDir?: boolean } = {}): NodeConfig {
  const command = buildCommand();
  try {
    command.parse([...argv], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      throw new ConfigError(flagOfCommanderError(err.message), err.message.replace(/^error: /, ''));
    }
    throw err;
  }
  const raw = command.opts<RawOptions>();
  const pick = (value: string | undefined, envName: string): string | undefined => value ?? nonEmpty(env[envName]);

  const idText = pick(raw.id, 'STORE_ID');
  if (idText === undefined) throw new ConfigError('--id', 'is required (or set STORE_ID)');
  const id = parseId(idText, '--id');

  const peers = parsePeers(pick(raw.peers, 'STORE_PEERS') ?? '', id);
  const join = raw.join ?? parseBool(env['STORE_JOIN'], '--join', 'STORE_JOIN');
  const membersText = pick(raw.initialMembers, 'STORE_INITIAL_MEMBERS');
  let initialMembers: NodeId[];
  if (join) {
    if (membersText !== undefined) throw new ConfigError('--initial-members', 'cannot be combined with --join (a joining node starts with an empty configuration)');
    initialMembers = [];
  } else if (membersText !== undefined) {
    initialMembers = parseIdList(membersText, '--initial-members');
    if (!initialMembers.includes(id)) throw new ConfigError('--initial-members', `must include this node's id "${id}" (use --join to start outside the configuration)`);
    for (const member of initialMembers) {
      if (member !== id && !peers.has(member)) throw new ConfigError('--initial-members', `member "${member}" has no address in --peers`);
    }
  } else {
    initialMembers = [id, ...peers.keys()];
  }

  const dataDir = pick(raw.dataDir, 'STORE_DATA_DIR');
  if (dataDir === undefined) throw new ConfigError('--data-dir', 'is required (or set STORE_DATA_DIR)');
  if (options.checkDataDir ?? true) checkDataDir(dataDir);

  const clientHost = parseHost(pick(raw.clientHost, 'STORE_CLIENT_HOST') ?? '0.0.0.0', '--client-host');
  const clientPort = parsePort(pick(raw.clientPort, 'STORE_CLIENT_PORT') ?? '8000', '--client-port');
  const peerHost = parseHost(pick(raw.peerHost, 'STORE_PEER_HOST') ?? '0.0.0.0', '--peer-host');
  const peerPort = parsePort(pick(raw.peerPort, 'STORE_PEER_PORT') ?? '7000', '--peer-port');
  if (clientPort === peerPort) throw new ConfigError('--peer-port', `is the same as --client-port (${clientPort})`);

  const advertiseClientUrl = parseUrl(pick(raw.advertiseClientUrl, 'STORE_ADVERTISE_CLIENT_URL') ?? `http://${id}:${clientPort}`, '--advertise-client-url');
  const peerClientUrls = parsePeerClientUrls(pick(raw.peerClientUrls, 'STORE_PEER_CLIENT_URLS') ?? '', id);

  const clusterSecret = pick(raw.clusterSecret, 'STORE_CLUSTER_SECRET');
  if (clusterSecret === undefined) throw new ConfigError('--cluster-secret', 'is required (or set STORE_CLUSTER_SECRET)');
  if (clusterSecret.length < MIN_SECRET_LENGTH) throw new ConfigError('--cluster-secret', `must be at least ${MIN_SECRET_LENGTH} characters long`);

  const tickMs = parseInteger(pick(raw.tickMs, 'STORE_TICK_MS') ?? '20', '--tick-ms', 1, 10_000);
  const electionTicks = parseInteger(pick(raw.electionTicks, 'STORE_ELECTION_TICKS') ?? '10', '--election-ticks', 2, 100_000);
  const heartbeatTicks = parseInteger(pick(raw.heartbeatTicks, 'STORE_HEARTBEAT_TICKS') ?? '2', '--heartbeat-ticks', 1, 100_000);
  // A follower must hear several heartbeats within one election timeout, or it campaigns
  // against a healthy leader (Raft §5.6: broadcastTime << electionTimeout).
  if (electionTicks <= heartbeatTicks) {
    throw new ConfigError('--election-ticks', `must be greater than --heartbeat-ticks (${electionTicks} <= ${heartbeatTicks})`);
  }
  const snapshotEntries = parseInteger(pick(raw.snapshotEntries, 'STORE_SNAPSHOT_ENTRIES') ?? '100000', '--snapshot-entries', 1, 1_000_000_000);
  // Up to the core's in-flight byte budget (one full append must fit in it).
  const maxAppendBytes = parseInteger(pick(raw.maxAppendBytes, 'STORE_MAX_APPEND_BYTES') ?? String(DEFAULT_MAX_MSG_BYTES), '--max-append-bytes', 256, DEFAULT_MAX_INFLIGHT_BYTES);
  // Apart from the append size, as etcd keeps --max-request-bytes apart from its message size;
  // bounded by the in-flight byte budget (16 MiB), well under the 64 MiB peer frame limit.
  const maxProposalBytes = parseInteger(pick(raw.maxProposalBytes, 'STORE_MAX_PROPOSAL_BYTES') ?? String(DEFAULT_MAX_PROPOSAL_BYTES), '--max-proposal-bytes', 256, DEFAULT_MAX_INFLIGHT_BYTES);

  const storageFaultMode = raw.storageFaultMode ?? parseBool(env['STORE_STORAGE_FAULT_MODE'], '--storage-fault-mode', 'STORE_STORAGE_FAULT_MODE');
  const enableFaultInjection = raw.enableFaultInjection ?? parseBool(env['STORE_ENABLE_FAULT_INJECTION'], '--enable-fault-injection', 'STORE_ENABLE_FAULT_INJECTION');
  const unsafe = parseUnsafe(pick(raw.unsafe, 'STORE_UNSAFE') ?? '');
  const logLevelText = pick(raw.logLevel, 'STORE_LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevelText)) {
    throw new ConfigError('--log-level', `unknown level "${logLevelText}" (expected one of ${LOG_LEVELS.join(', ')})`);
  }

  return {
    id,
    peers,
    initialMembers,
    join,
    dataDir,
    clientHost,
    clientPort,
    peerHost,
    peerPort,
    advertiseClientUrl,
    peerClientUrls,
    clusterSecret,
    tickMs,
    electionTicks,
    heartbeatTicks,
    snapshotEntries,
    maxAppendBytes,
    maxProposalBytes,
    storageFaultMode,
    enableFaultInjection,
    unsafe,
    logLevel: logLevelText as LogLevel,
  };
}

function flagOfCommanderError(message: string): string {
  const match = /'(--?[a-z-]+)/.exec(message);
  return match?.[1] ?? 'arguments';
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function parseBool(value: string | undefined, flag: string, envName: string): boolean {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new ConfigError(flag, `${envName}="${value}" is not a boolean (use 1/0 or true/false)`);
}

function parseId(text: string, flag: string): NodeId {
  if (!ID_PATTERN.test(text)) throw new ConfigError(flag, `"${text}" is not a valid node id (expected [a-z0-9-]{1,32})`);
  return nodeId(text);
}

function parseIdList(text: string, flag: string): NodeId[] {
  const ids = text.split(',').map((s) => s.trim());
  const seen = new Set<string>();
  for (const id of ids) {
    parseId(id, flag);
    if (seen.has(id)) throw new ConfigError(flag, `duplicate id "${id}"`);
    seen.add(id);
  }
  return ids.map(nodeId);
}

function parseHost(text: string, flag: string): string {
  // Hostnames, IPv4 and bracket-less IPv6 literals; no scheme, path or port.
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(text)) throw new ConfigError(flag, `"${text}" is not a host name or IP address`);
  return text;
}

function parsePort(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new ConfigError(flag, `"${text}" is not a port number`);
  const port = Number(text);
  if (port < 1 || port > 65_535) throw new ConfigError(flag, `port ${port} is out of range 1..65535`);
  return port;
}

function parseInteger(text: string, flag: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) throw new ConfigError(flag, `"${text}" is not a whole number`);
  const n = Number(text);
  if (n < min || n > max) throw new ConfigError(flag, `${n} is out of range ${min}..${max}`);
  return n;
}

function parseUrl(text: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(flag, `"${text}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(flag, `"${text}" must be an http:// or https:// URL`);
  return text.replace(/\/+$/, '');
}

function parsePeers(text: string, self: NodeId): Map<NodeId, PeerAddress> {
  const peers = new Map<NodeId, PeerAddress>();
  if (text.trim() === '') return peers;
  for (const item of text.split(',')) {
    const entry = item.trim();
    const match = /^([^=]+)=(.+):([^:]+)$/.exec(entry);
    if (match === null) throw new ConfigError('--peers', `entry "${entry}" is not id=host:port`);
    const [, idText = '', hostText = '', portText = ''] = match;
    const id = parseId(idText, '--peers');
    if (id === self) throw new ConfigError('--peers', `contains this node's own id "${id}" (list only the other nodes)`);
    if (peers.has(id)) throw new ConfigError('--peers', `duplicate id "${id}"`);
    const host = parseHost(hostText.replace(/^\[(.*)\]$/, '$1'), '--peers');
    const port = parsePort(portText, '--peers');
    peers.set(id, { host, port });
  }
  return peers;
}

function parsePeerClientUrls(text: string, self: NodeId): Map<NodeId, string> {
  const urls = new Map<NodeId, string>();
  if (text.trim() === '') return urls;
  for (const item of text.split(',')) {
    const entry = item.trim();
    const eq = entry.indexOf('=');
    if (eq <= 0) throw new ConfigError('--peer-client-urls', `entry "${entry}" is not id=url`);
    const id = parseId(entry.slice(0, eq), '--peer-client-urls');
    if (id === self) throw new ConfigError('--peer-client-urls', `contains this node's own id "${id}" (use --advertise-client-url)`);
    if (urls.has(id)) throw new ConfigError('--peer-client-urls', `duplicate id "${id}"`);
    urls.set(id, parseUrl(entry.slice(eq + 1), '--peer-client-urls'));
  }
  return urls;
}

function parseUnsafe(text: string): Set<UnsafeName> {
  const names = new Set<UnsafeName>();
  if (text.trim() === '') return names;
  for (const item of text.split(',')) {
    const name = item.trim();
    if (!(UNSAFE_NAMES as readonly string[]).includes(name)) {
      throw new ConfigError('--unsafe', `unknown switch "${name}" (expected one of ${UNSAFE_NAMES.join(', ')})`);
    }
    names.add(name as UnsafeName);
  }
  return names;
}

function checkDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new ConfigError('--data-dir', `cannot create "${dir}": ${(err as Error).message}`);
  }
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new ConfigError('--data-dir', `"${dir}" is not writable`);
  }
}
