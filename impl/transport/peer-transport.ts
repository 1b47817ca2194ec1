/**
 * PeerTransport: Raft messages between nodes over TCP.
 *
 * - One outbound connection per peer, used only for sending; inbound connections are only
 *   read (etcd's stream-per-direction). Each peer has a bounded queue of encoded frames:
 *   `send` never blocks and never throws; when the queue is full the message is dropped and
 *   counted (Raft retransmits; etcd's rafthttp does the same and reports the peer unreachable).
 * - Reconnect with exponential backoff and full jitter, so a restarted cluster does not
 *   reconnect in lock step.
 * - Every frame is authenticated with HMAC-SHA256 under the cluster secret over (sender id,
 *   receiver id, payload). A frame with a bad MAC, from an id not in the address book, or
 *   addressed to another node is dropped, counted, and its connection closed: nothing after
 *   a frame we could not trust on that stream is trusted either.
 *
 * Frame (README.md in this folder): u32 length of the rest, then
 * version u8 = 1 | from (u16 len + UTF-8) | to (u16 len + UTF-8) | payload (codec.ts) | MAC (32 bytes).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import * as net from 'node:net';
import { decodeMessage, encodeMessage } from './codec.ts';
import type { Message, NodeId } from '../raft/types.ts';
import type { PeerEndpoint } from '../node/seams.ts';

export const FRAME_VERSION = 1;
const MAC_BYTES = 32;
const MAC_DOMAIN = Buffer.from('raft-peer-frame-v1\0', 'latin1');

export interface TransportLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const stderrLogger: TransportLogger = {
  info: (msg, fields) => process.stderr.write(`${JSON.stringify({ level: 'info', component: 'transport', msg, ...fields })}\n`),
  warn: (msg, fields) => process.stderr.write(`${JSON.stringify({ level: 'warn', component: 'transport', msg, ...fields })}\n`),
  error: (msg, fields) => process.stderr.write(`${JSON.stringify({ level: 'error', component: 'transport', msg, ...fields })}\n`),
};

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export interface PeerTransportOptions {
  readonly id: NodeId;
  /** The shared cluster secret (HMAC-SHA256 key). Must be non-empty. */
  readonly secret: string | Uint8Array;
  /** Address book: every peer this node may talk to, "host:port" or {host, port}. Updatable with setPeer/removePeer. */
  readonly peers?: ReadonlyMap<NodeId, string | PeerAddress>;
  /** Listener address; port 0 picks a free port (see `address`). Default host 0.0.0.0. */
  readonly listenHost?: string;
  readonly listenPort: number;
  /** Frames queued per peer before `send` drops. Default 4096. */
  readonly maxQueuedFrames?: number;
  /** Largest frame sent or accepted, in bytes. Default 64 MiB (a snapshot must fit in one message). */
  readonly maxFrameBytes?: number;
  /** Reconnect backoff: first delay and cap, in ms. Defaults 50 and 2000. */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** Give up a connection attempt after this long. Default 2000 ms. */
  readonly connectTimeoutMs?: number;
  /** A message to this peer was dropped (queue full, no address, connection lost): tell Raft (`RawNode.reportUnreachable`). */
  readonly onUnreachable?: (peer: NodeId) => void;
  /** A snapshot message was handed to the socket (true) or dropped (false): `RawNode.reportSnapshot`. */
  readonly onSnapshotStatus?: (peer: NodeId, ok: boolean) => void;
  readonly logger?: TransportLogger;
  /** Jitter source in [0, 1). Default Math.random. */
  readonly random?: () => number;
}

export type TransportCounters = {
  /** Frames handed to a socket. */
  sent: number;
  droppedQueueFull: number;
  /** send() to an id without an address. */
  droppedNoAddress: number;
  /** Messages that could not be encoded or exceed maxFrameBytes. */
  droppedTooLarge: number;
  /** Frames still queued for a peer when it was removed from the address book. */
  droppedConnectionLost: number;
  /** Authenticated frames delivered to the handler. */
  received: number;
  rejectedBadMac: number;
  rejectedUnknownPeer: number;
  rejectedWrongRecipient: number;
  /** Garbage: bad length, version, framing, or a payload that does not decode. */
  rejectedMalformed: number;
  /** Connection attempts after a failure or a lost connection. */
  reconnects: number;
  connects: number;
};

export function parsePeerAddress(s: string | PeerAddress): PeerAddress {
  if (typeof s !== 'string') return s;
  const i = s.lastIndexOf(':');
  const host = s.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(s.slice(i + 1));
  if (i <= 0 || host === '' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`peer address ${JSON.stringify(s)} is not host:port with a port in 1..65535`);
  }
  return { host, port };
}

/** HMAC over the frame body without its MAC: version, sender, receiver, payload. */
function frameMac(key: Buffer, body: Buffer): Buffer {
  return createHmac('sha256', key).update(MAC_DOMAIN).update(body).digest();
}

/** Build one frame. Exported for tests that forge frames. */
export function encodeFrame(key: string | Uint8Array, from: string, to: string, payload: Uint8Array): Buffer {
  const fromB = Buffer.from(from, 'utf8');
  const toB = Buffer.from(to, 'utf8');
  const bodyLen = 1 + 2 + fromB.length + 2 + toB.length + payload.byteLength;
  const frame = Buffer.allocUnsafe(4 + bodyLen + MAC_BYTES);
  frame.writeUInt32LE(bodyLen + MAC_BYTES, 0);
  let o = 4;
  frame[o++] = FRAME_VERSION;
  frame.writeUInt16LE(fromB.length, o);
  o += 2;
  fromB.copy(frame, o);
  o += fromB.length;
  frame.writeUInt16LE(toB.length, o);
  o += 2;
  toB.copy(frame, o);
  o += toB.length;
  frame.set(payload, o);
  o += payload.byteLength;
  frameMac(toKey(key), frame.subarray(4, o)).copy(frame, o);
  return frame;
}

function toKey(secret: string | Uint8Array): Buffer {
  return typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
}

interface QueuedFrame {
  readonly frame: Buffer;
  readonly snapshot: boolean;
}

/** The outbound half for one peer: queue, socket, backoff. */
class OutboundPeer {
  queue: QueuedFrame[] = [];
  socket: net.Socket | null = null;
  connected = false;
  timer: NodeJS.Timeout | null = null;
  attempt = 0;
  closed = false;
  flushScheduled = false;

  constructor(
    readonly id: NodeId,
    public addr: PeerAddress,
  ) {}
}

export class PeerTransport implements PeerEndpoint, AsyncDisposable {
  readonly id: NodeId;
  private readonly key: Buffer;
  private readonly maxQueued: number;
  private readonly maxFrameBytes: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly connectTimeoutMs: number;
  private readonly logger: TransportLogger;
  private readonly random: () => number;
  private readonly unreachableHandlers: ((peer: NodeId) => void)[] = [];
  private readonly snapshotStatusHandlers: ((peer: NodeId, ok: boolean) => void)[] = [];

  private readonly peers = new Map<NodeId, OutboundPeer>();
  private readonly inbound = new Set<net.Socket>();
  private readonly handlers: ((m: Message) => void)[] = [];
  private server: net.Server | null = null;
  private closed = false;
  private boundAddress: PeerAddress | null = null;

  readonly counters: TransportCounters = {
    sent: 0,
    droppedQueueFull: 0,
    droppedNoAddress: 0,
    droppedTooLarge: 0,
    droppedConnectionLost: 0,
    received: 0,
    rejectedBadMac: 0,
    rejectedUnknownPeer: 0,
    rejectedWrongRecipient: 0,
    rejectedMalformed: 0,
    reconnects: 0,
    connects: 0,
  };

  private constructor(private readonly options: PeerTransportOptions) {
    if (!/^[a-z0-9-]{1,32}$/.test(options.id)) throw new RangeError(`transport id ${JSON.stringify(options.id)} must match [a-z0-9-]{1,32}`);
    this.id = options.id;
    this.key = toKey(options.secret);
    if (this.key.length === 0) throw new RangeError('transport secret must not be empty');
    this.maxQueued = options.maxQueuedFrames ?? 4096;
    this.maxFrameBytes = options.maxFrameBytes ?? 64 * 1024 * 1024;
    this.backoffInitialMs = options.backoffInitialMs ?? 50;
    this.backoffMaxMs = options.backoffMaxMs ?? 2000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.logger = options.logger ?? stderrLogger;
    this.random = options.random ?? Math.random;
    if (options.onUnreachable) this.unreachableHandlers.push(options.onUnreachable);
    if (options.onSnapshotStatus) this.snapshotStatusHandlers.push(options.onSnapshotStatus);
    for (const [id, addr] of options.peers ?? []) this.setPeer(id, addr);
  }

  /** Create the transport and start listening. */
  static async start(options: PeerTransportOptions): Promise<PeerTransport> {
    const t = new PeerTransport(options);
    await t.listen();
    return t;
  }

  /** The listener's bound address (the real port when listenPort was 0). */
  get address(): PeerAddress {
    if (this.boundAddress === null) throw new Error('transport is not listening');
    return this.boundAddress;
  }

  private listen(): Promise<void> {
    const server = net.createServer((socket) => this.acceptInbound(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.listenPort, this.options.listenHost ?? '0.0.0.0', () => {
        server.off('error', reject);
        server.on('error', (e) => this.logger.error('peer listener error', { error: e.message }));
        const a = server.address() as net.AddressInfo;
        this.boundAddress = { host: a.address, port: a.port };
        this.logger.info('peer transport listening', { id: this.id, host: a.address, port: a.port });
        resolve();
      });
    });
  }

  /** Register the receive handler (called for every authenticated message). Returns an unsubscribe function. */
  onMessage(handler: (m: Message) => void): () => void {
    return subscribe(this.handlers, handler);
  }

  /** Called with a peer's id whenever a message to it is dropped: wire to `RawNode.reportUnreachable`. */
  onUnreachable(handler: (peer: NodeId) => void): () => void {
    return subscribe(this.unreachableHandlers, handler);
  }

  /** Called when a snapshot message was handed to the socket (true) or dropped (false): wire to `RawNode.reportSnapshot`. */
  onSnapshotStatus(handler: (peer: NodeId, ok: boolean) => void): () => void {
    return subscribe(this.snapshotStatusHandlers, handler);
  }

  /** Add or change a peer's address (membership changes). A changed address reconnects. */
  setPeer(id: NodeId, addr: string | PeerAddress): void {
    const a = parsePeerAddress(addr);
    if (id === this.id) return;
    const p = this.peers.get(id);
    if (p === undefined) {
      this.peers.set(id, new OutboundPeer(id, a));
      return;
    }
    if (p.addr.host === a.host && p.addr.port === a.port) return;
    p.addr = a;
    p.attempt = 0;
    p.socket?.destroy(); // the close handler reconnects to the new address
  }

  /** Forget a peer: close its connection, drop its queue; its frames are rejected from now on. */
  removePeer(id: NodeId): void {
    const p = this.peers.get(id);
    if (p === undefined) return;
    this.peers.delete(id);
    p.closed = true;
    if (p.timer) clearTimeout(p.timer);
    p.socket?.destroy();
    this.counters.droppedConnectionLost += p.queue.length;
    p.queue = [];
  }

  /** Frames waiting per peer (for status pages and tests). */
  queueDepths(): Map<NodeId, number> {
    return new Map([...this.peers].map(([id, p]) => [id, p.queue.length]));
  }

  /** Known peer ids. */
  peerIds(): NodeId[] {
    return [...this.peers.keys()];
  }

  /** Queue a message for its recipient. Never throws and never blocks; drops and counts instead. */
  send(m: Message): void {
    try {
      if (this.closed) return;
      const p = this.peers.get(m.to);
      if (p === undefined) {
        this.counters.droppedNoAddress++;
        this.dropped(m.to, m.snapshot !== null);
        return;
      }
      if (p.queue.length >= this.maxQueued) {
        this.counters.droppedQueueFull++;
        this.dropped(m.to, m.snapshot !== null);
        return;
      }
      const payload = encodeMessage(m);
      if (payload.length + 4 + 1 + 4 + 64 + MAC_BYTES > this.maxFrameBytes) {
        this.counters.droppedTooLarge++;
        this.logger.warn('dropping a message larger than the frame limit', { to: m.to, type: m.type, bytes: payload.length, maxFrameBytes: this.maxFrameBytes });
        this.dropped(m.to, m.snapshot !== null);
        return;
      }
      p.queue.push({ frame: encodeFrame(this.key, this.id, m.to, payload), snapshot: m.snapshot !== null });
      if (p.connected) this.scheduleFlush(p);
      else if (p.socket === null && p.timer === null) this.connect(p);
    } catch (e) {
      this.counters.droppedTooLarge++;
      this.logger.error('could not encode a message; dropped', { to: m.to, type: m.type, error: (e as Error).message });
    }
  }

  private dropped(peer: NodeId, snapshot: boolean): void {
    for (const h of this.unreachableHandlers) this.callSafely('onUnreachable', () => h(peer));
    if (snapshot) this.snapshotStatus(peer, false);
  }

  private snapshotStatus(peer: NodeId, ok: boolean): void {
    for (const h of this.snapshotStatusHandlers) this.callSafely('onSnapshotStatus', () => h(peer, ok));
  }

  private callSafely(what: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.logger.error(`${what} handler threw`, { error: (e as Error).message });
    }
  }

  private connect(p: OutboundPeer): void {
    if (this.closed || p.closed) return;
    const socket = net.connect({ host: p.addr.host, port: p.addr.port });
    p.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 5000);
    socket.setTimeout(this.connectTimeoutMs);
    socket.on('timeout', () => socket.destroy(new Error('connect timeout')));
    socket.on('connect', () => {
      socket.setTimeout(0);
      p.connected = true;
      p.attempt = 0;
      this.counters.connects++;
      this.flush(p);
    });
    socket.on('drain', () => this.flush(p));
    // Outbound connections carry no inbound data; anything received is ignored.
    socket.on('data', () => undefined);
    socket.on('error', () => undefined); // 'close' follows and handles it
    socket.on('close', () => {
      const wasConnected = p.connected;
      p.connected = false;
      p.socket = null;
      if (this.closed || p.closed) return;
      if (wasConnected) this.logger.info('peer connection lost', { peer: p.id });
      this.scheduleReconnect(p);
    });
  }

  private scheduleReconnect(p: OutboundPeer): void {
    // Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^attempt)], with a floor.
    const ceiling = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** p.attempt);
    const delay = Math.max(this.backoffInitialMs / 2, Math.floor(this.random() * ceiling));
    p.attempt = Math.min(p.attempt + 1, 30);
    if (p.queue.length > 0) {
      // Messages waiting for a dead peer: let Raft know it is unreachable (it slows probing).
      this.dropped(p.id, false);
    }
    p.timer = setTimeout(() => {
      p.timer = null;
      this.counters.reconnects++;
      this.connect(p);
    }, delay);
    p.timer.unref();
  }

  /**
   * Flush after this turn of the event loop's I/O phase, so every message queued meanwhile —
   * all the Readys that the requests and acknowledgements read in this turn produced — goes
   * out in a single corked write (one syscall per peer) instead of one write per Ready. On
   * loopback a socket write costs the sender the receiver's TCP work too, which made these
   * writes the leader's largest CPU cost (profile: ~15% at 3,500 puts/s).
   */
  private scheduleFlush(p: OutboundPeer): void {
    if (p.flushScheduled) return;
    p.flushScheduled = true;
    setImmediate(() => {
      p.flushScheduled = false;
      this.flush(p);
    });
  }

  /** Write queued frames while the socket accepts them; resume on 'drain'. */
  private flush(p: OutboundPeer): void {
    const s = p.socket;
    if (s === null || !p.connected) return;
    s.cork();
    try {
      while (p.queue.length > 0) {
        const q = p.queue.shift()!;
        this.counters.sent++;
        const ok = s.write(q.frame);
        if (q.snapshot) this.snapshotStatus(p.id, true);
        if (!ok) break;
      }
    } finally {
      s.uncork();
    }
  }

  // ---- Inbound ----

  private acceptInbound(socket: net.Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.inbound.add(socket);
    socket.setNoDelay(true);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const chunks: Buffer[] = [];
    let buffered = 0;
    let need = -1; // length of the frame being assembled, once its prefix is read
    const reject = (counter: 'rejectedBadMac' | 'rejectedUnknownPeer' | 'rejectedWrongRecipient' | 'rejectedMalformed', why: string, fields: Record<string, unknown> = {}) => {
      this.counters[counter]++;
      this.logger.warn(`rejected peer frame: ${why}; closing the connection`, { remote, ...fields });
      socket.destroy();
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      buffered += chunk.length;
      while (!socket.destroyed) {
        if (need < 0) {
          if (buffered < 4) return;
          const head = take(4);
          need = head.readUInt32LE(0);
          if (need < 1 + 2 + 2 + MAC_BYTES || need > this.maxFrameBytes) {
            reject('rejectedMalformed', `frame length ${need} outside [${1 + 2 + 2 + MAC_BYTES}, ${this.maxFrameBytes}]`);
            return;
          }
        }
        if (buffered < need) return;
        const frame = take(need);
        need = -1;
        this.handleFrame(frame, reject);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.inbound.delete(socket));

    function take(n: number): Buffer {
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
      const out = all.subarray(0, n);
      const rest = all.subarray(n);
      chunks.length = 0;
      if (rest.length > 0) chunks.push(rest);
      buffered = rest.length;
      return out;
    }
  }

  private handleFrame(
    frame: Buffer,
    reject: (counter: 'rejectedBadMac' | 'rejectedUnknownPeer' | 'rejectedWrongRecipient' | 'rejectedMalformed', why: string, fields?: Record<string, unknown>) => void,
  ): void {
    const bodyEnd = frame.length - MAC_BYTES;
    const body = frame.subarray(0, bodyEnd);
    const mac = frame.subarray(bodyEnd);
    if (body[0] !== FRAME_VERSION) return reject('rejectedMalformed', `frame version ${body[0]}, expected ${FRAME_VERSION}`);
    // Authenticate before believing any field.
    if (!timingSafeEqual(frameMac(this.key, body), mac)) return reject('rejectedBadMac', 'bad MAC (wrong cluster secret or tampered frame)');
    let o = 1;
    const fromLen = body.readUInt16LE(o);
    o += 2;
    if (o + fromLen + 2 > body.length) return reject('rejectedMalformed', 'sender id overruns the frame');
    const from = body.toString('utf8', o, o + fromLen) as NodeId;
    o += fromLen;
    const toLen = body.readUInt16LE(o);
    o += 2;
    if (o + toLen > body.length) return reject('rejectedMalformed', 'receiver id overruns the frame');
    const to = body.toString('utf8', o, o + toLen) as NodeId;
    o += toLen;
    if (to !== this.id) return reject('rejectedWrongRecipient', `frame addressed to ${JSON.stringify(to)}, this is ${this.id}`, { from });
    if (!this.peers.has(from)) return reject('rejectedUnknownPeer', `sender ${JSON.stringify(from)} is not in the address book`, { from });
    let m: Message;
    try {
      m = decodeMessage(body.subarray(o));
    } catch (e) {
      return reject('rejectedMalformed', `payload does not decode: ${(e as Error).message}`, { from });
    }
    if (m.from !== from || m.to !== to) return reject('rejectedMalformed', `message says ${m.from}->${m.to}, frame says ${from}->${to}`, { from });
    this.counters.received++;
    for (const h of this.handlers) this.callSafely(`message handler (${m.type} from ${from})`, () => h(m));
  }

  /** Close the listener, every connection and every timer. Queued frames are discarded. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.peers.values()) {
      p.closed = true;
      if (p.timer) clearTimeout(p.timer);
      p.timer = null;
      p.socket?.destroy();
      p.queue = [];
    }
    for (const s of this.inbound) s.destroy();
    this.inbound.clear();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function subscribe<T>(list: T[], handler: T): () => void {
  list.push(handler);
  return () => {
    const i = list.indexOf(handler);
    if (i >= 0) list.splice(i, 1);
  };
}
