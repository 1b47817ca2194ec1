/**
 * The driver's peer link: Raft messages to and from the other nodes over TCP.
 *
 * Interim implementation kept inside impl/node until impl/transport lands (the seam is
 * `PeerLink` in seams.ts; main.ts calls only `startPeerLink`). It follows the rules:
 * length-prefixed frames, one outbound connection per peer, reconnect with backoff, bounded
 * queues that drop rather than block, and an HMAC-SHA256 over every frame with the cluster
 * secret; frames with a bad MAC are dropped, counted, and their connection closed.
 *
 * Frame: u32 BE length of (mac + payload) | 32-byte HMAC-SHA256(secret, payload) | payload.
 * Payload: the Message as JSON, with entry data and snapshot data as base64.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Entry, Message, NodeId, Snapshot } from '../raft/types.ts';
import type { NodeConfig } from './config.ts';
import type { Logger } from './log.ts';
import type { PeerAddr, PeerLink } from './seams.ts';

const MAC_BYTES = 32;
const MAX_FRAME_BYTES = 256 * 1024 * 1024;
const MAX_QUEUED_MESSAGES = 10_000;

export interface PeerLinkStats {
  framesSent: number;
  framesReceived: number;
  /** Frames dropped because their MAC did not verify (strangers, wrong secret, corruption). */
  framesRejected: number;
  /** Frames that could not be decoded after their MAC verified. */
  framesMalformed: number;
  /** Messages dropped because a peer's queue was full or it had no address. */
  messagesDropped: number;
  connects: number;
  connectFailures: number;
}

export interface StartedPeerLink extends PeerLink {
  stats(): PeerLinkStats;
  close(): Promise<void>;
}

export interface PeerLinkHandlers {
  onMessage(message: Message): void;
  onUnreachable(to: NodeId): void;
}

export async function startPeerLink(config: NodeConfig, logger: Logger, handlers: PeerLinkHandlers): Promise<StartedPeerLink> {
  const link = new TcpPeerLink(config.clusterSecret, new Map(config.peers), logger, handlers);
  await link.listen(config.peerPort, config.peerHost);
  return link;
}

interface Outbound {
  addr: PeerAddr;
  socket: Socket | null;
  connecting: boolean;
  queue: Buffer[];
  backoffMs: number;
  timer: NodeJS.Timeout | null;
}

export class TcpPeerLink implements StartedPeerLink {
  private readonly counters: PeerLinkStats = { framesSent: 0, framesReceived: 0, framesRejected: 0, framesMalformed: 0, messagesDropped: 0, connects: 0, connectFailures: 0 };
  private readonly outbound = new Map<NodeId, Outbound>();
  private readonly inbound = new Set<Socket>();
  private server: Server | null = null;
  private closed = false;
  private readonly key: Buffer;

  constructor(
    secret: string,
    peers: Map<NodeId, PeerAddr>,
    private readonly logger: Logger,
    private readonly handlers: PeerLinkHandlers,
  ) {
    this.key = Buffer.from(secret, 'utf8');
    for (const [id, addr] of peers) this.outbound.set(id, { addr, socket: null, connecting: false, queue: [], backoffMs: 20, timer: null });
  }

  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.accept(socket));
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.logger.error('peer listener failed', { err }));
        resolve();
      });
      this.server = server;
    });
  }

  stats(): PeerLinkStats {
    return { ...this.counters };
  }

  setPeer(id: NodeId, addr: PeerAddr): void {
    const out = this.outbound.get(id);
    if (out === undefined) {
      this.outbound.set(id, { addr, socket: null, connecting: false, queue: [], backoffMs: 20, timer: null });
      return;
    }
    if (out.addr.host === addr.host && out.addr.port === addr.port) return;
    out.addr = addr;
    out.socket?.destroy();
  }

  send(message: Message): void {
    if (this.closed) return;
    const out = this.outbound.get(message.to);
    if (out === undefined || out.queue.length >= MAX_QUEUED_MESSAGES) {
      this.counters.messagesDropped++;
      if (out !== undefined) this.handlers.onUnreachable(message.to);
      return;
    }
    out.queue.push(this.frame(message));
    this.flush(message.to, out);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const out of this.outbound.values()) {
      if (out.timer !== null) clearTimeout(out.timer);
      out.socket?.destroy();
      out.queue = [];
    }
    for (const socket of this.inbound) socket.destroy();
    await new Promise<void>((resolve) => (this.server === null ? resolve() : this.server.close(() => resolve())));
  }

  private frame(message: Message): Buffer {
    const payload = Buffer.from(JSON.stringify(toWire(message)), 'utf8');
    const mac = createHmac('sha256', this.key).update(payload).digest();
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(MAC_BYTES + payload.length, 0);
    return Buffer.concat([header, mac, payload]);
  }

  private flush(id: NodeId, out: Outbound): void {
    if (out.socket !== null && !out.connecting) {
      if (out.queue.length === 0) return;
      const batch = out.queue.length === 1 ? out.queue[0]! : Buffer.concat(out.queue);
      this.counters.framesSent += out.queue.length;
      out.queue = [];
      out.socket.write(batch);
      return;
    }
    if (out.connecting || out.timer !== null) return;
    this.connect(id, out);
  }

  private connect(id: NodeId, out: Outbound): void {
    out.connecting = true;
    const socket = createConnection({ host: out.addr.host, port: out.addr.port });
    socket.setNoDelay(true);
    out.socket = socket;
    socket.once('connect', () => {
      out.connecting = false;
      out.backoffMs = 20;
      this.counters.connects++;
      this.flush(id, out);
    });
    socket.on('data', () => undefined);
    socket.once('error', () => undefined);
    socket.once('close', () => {
      const wasConnecting = out.connecting;
      out.connecting = false;
      if (out.socket === socket) out.socket = null;
      if (this.closed) return;
      if (wasConnecting) this.counters.connectFailures++;
      // Whatever was queued for a dead peer is stale by the time it is back; Raft resends.
      if (out.queue.length > 0) {
        this.counters.messagesDropped += out.queue.length;
        out.queue = [];
      }
      this.handlers.onUnreachable(id);
      out.timer = setTimeout(() => {
        out.timer = null;
        if (!this.closed && out.queue.length > 0) this.connect(id, out);
      }, out.backoffMs);
      out.backoffMs = Math.min(1_000, out.backoffMs * 2);
    });
  }

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    this.inbound.add(socket);
    let buffered: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      let offset = 0;
      while (buffered.length - offset >= 4) {
        const length = buffered.readUInt32BE(offset);
        if (length < MAC_BYTES || length > MAX_FRAME_BYTES) {
          this.counters.framesRejected++;
          this.logger.warn('peer frame with an impossible length; closing the connection', { remote: socket.remoteAddress, length });
          socket.destroy();
          return;
        }
        if (buffered.length - offset < 4 + length) break;
        const mac = buffered.subarray(offset + 4, offset + 4 + MAC_BYTES);
        const payload = buffered.subarray(offset + 4 + MAC_BYTES, offset + 4 + length);
        offset += 4 + length;
        const expected = createHmac('sha256', this.key).update(payload).digest();
        if (!timingSafeEqual(mac, expected)) {
          this.counters.framesRejected++;
          this.logger.warn('dropped a peer frame with a bad MAC (wrong cluster secret?); closing the connection', { remote: socket.remoteAddress });
          socket.destroy();
          return;
        }
        let message: Message;
        try {
          message = fromWire(JSON.parse(payload.toString('utf8')) as WireMessage);
        } catch (err) {
          this.counters.framesMalformed++;
          this.logger.warn('dropped an undecodable peer frame', { err });
          continue;
        }
        this.counters.framesReceived++;
        this.handlers.onMessage(message);
      }
      buffered = offset === buffered.length ? Buffer.alloc(0) : buffered.subarray(offset);
    });
    socket.on('error', () => undefined);
    socket.once('close', () => this.inbound.delete(socket));
  }
}

interface WireEntry {
  t: number;
  i: number;
  y: Entry['type'];
  d: string;
}

type WireMessage = Omit<Message, 'entries' | 'snapshot'> & {
  entries: WireEntry[];
  snapshot: null | { metadata: Snapshot['metadata']; data: string };
};

function toWire(m: Message): WireMessage {
  return {
    ...m,
    entries: m.entries.map((e) => ({ t: e.term, i: e.index, y: e.type, d: Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('base64') })),
    snapshot: m.snapshot === null ? null : { metadata: m.snapshot.metadata, data: Buffer.from(m.snapshot.data).toString('base64') },
  };
}

function fromWire(w: WireMessage): Message {
  if (typeof w !== 'object' || w === null || !Array.isArray(w.entries)) throw new Error('not a message');
  return {
    ...w,
    entries: w.entries.map((e) => ({ term: e.t, index: e.i, type: e.y, data: new Uint8Array(Buffer.from(e.d, 'base64')) }) as Entry),
    snapshot: w.snapshot === null ? null : { metadata: w.snapshot.metadata, data: new Uint8Array(Buffer.from(w.snapshot.data, 'base64')) },
  };
}
