/**
 * The simulated network: every host (a node, or the harness's client host) talks over
 * directed links, each with its own state — cut, latency with jitter, loss, a bandwidth
 * limit — and its own seeded random stream. What the Toxiproxy nemeses do maps onto it:
 * a partition is a set of cut links, a one-way cut is one cut link, `latency`/`jitter` and
 * `bandwidth` (or a slicer's delay) are link settings, `reset_peer` is `reset(link)` (what is
 * in flight is lost and the sender sees the connection drop), a `timeout` toxic is a cut.
 *
 * Messages on a link arrive in the order they were sent (one TCP stream per direction, as
 * the real transport keeps): arrival = max(send + transmission + latency ± jitter, previous
 * arrival). A cut drops what is sent and what is still in flight. Loss drops single messages.
 *
 * Peer traffic carries the real codec's bytes (impl/transport/codec.ts): each message is
 * encoded when sent and decoded when it arrives, so nodes share no objects, bandwidth counts
 * real sizes, and the trace hashes exactly what travelled. Client traffic is HTTP-shaped:
 * a request reaches the node's RequestHandler (impl/store/http-handler.ts) through the
 * client's link, the answer comes back through the reverse link.
 */
import type { EndpointLogger, PeerAddr, PeerEndpoint, PeerEndpointOptions } from '../../impl/node/seams.ts';
import type { HttpListener } from '../../impl/node/platform.ts';
import type { Message, NodeId } from '../../impl/raft/types.ts';
import { bufferedBody, type LineSink, type RequestHandler, type StreamResponse } from '../../impl/store/http-handler.ts';
import { decodeMessage, encodeMessage } from '../../impl/transport/codec.ts';
import type { SimRandom } from './random.ts';
import type { Scheduler, SimEvent, SimProcess } from './scheduler.ts';
import type { Trace } from './trace.ts';

export interface LinkSettings {
  /** One-way delay, ms. */
  readonly latencyMs: number;
  /** Each message's delay is latency ± a uniform draw up to this (Toxiproxy's latency toxic). */
  readonly jitterMs: number;
  /** Probability that a message is lost. */
  readonly lossRate: number;
  /** Bytes per second; 0 = unlimited. */
  readonly bandwidthBytesPerSec: number;
}

export const DEFAULT_LINK: LinkSettings = { latencyMs: 0.25, jitterMs: 0.1, lossRate: 0, bandwidthBytesPerSec: 0 };

/**
 * How peer messages travel. 'bytes': encoded with the real codec when sent and decoded on
 * arrival (the trace hashes the exact bytes). 'objects': the sender's Message object itself
 * (the core treats messages and entries as immutable; the trace hashes every field and each
 * entry's index, term and length) — faster, for long runs.
 */
export type WireMode = 'bytes' | 'objects';

export interface NetworkOptions extends Partial<LinkSettings> {
  readonly wire?: WireMode;
}

/** node:http's default limit on request headers (impl/API.md: 431 beyond 16 KiB). */
const MAX_HEADER_BYTES = 16 * 1024;

class Link {
  cut = false;
  /** Messages delivered over this link so far. */
  delivered = 0;
  busyUntil = 0;
  lastArrival = 0;
  /** Events of messages in flight, with what to do if the connection is reset under them. */
  readonly inFlight = new Map<SimEvent, (() => void) | null>();

  constructor(
    readonly from: string,
    readonly to: string,
    public settings: LinkSettings,
    readonly rng: SimRandom,
  ) {}
}

/** Why a client request got no answer (the harness's HttpTransportError codes). */
export type ClientFailure = 'timeout' | 'refused' | 'connection-lost';

export class SimHttpError extends Error {
  constructor(
    readonly code: ClientFailure,
    message: string,
  ) {
    super(message);
    this.name = 'SimHttpError';
  }
}

export interface ClientRequest {
  readonly method: string;
  /** Absolute URL: http://<node>:<port>/<path>?<query>. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly timeoutMs: number;
}

export interface ClientResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface StreamOutcome {
  readonly status: number | null;
  /** Why the stream ended before `durationMs`, if it did. */
  readonly error?: string;
}

interface HttpListenerEntry {
  readonly host: string;
  readonly port: number;
  readonly proc: SimProcess;
  readonly handler: RequestHandler;
  /** Requests being handled and streams open: what dies with the listener. */
  readonly open: Set<() => void>;
  closed: boolean;
}

interface PeerListenerEntry {
  readonly host: string;
  readonly port: number;
  readonly proc: SimProcess;
  readonly endpoint: SimPeerEndpoint;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '0.0.0.0', '::']);

export class SimNetwork {
  private readonly links = new Map<string, Link>();
  private readonly peerListeners = new Map<string, PeerListenerEntry>();
  private readonly httpListeners = new Map<string, HttpListenerEntry>();
  private readonly defaults: LinkSettings;
  /** @internal */
  readonly wire: WireMode;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly rng: SimRandom,
    private readonly trace: Trace,
    options: NetworkOptions = {},
  ) {
    const { wire, ...link } = options;
    this.defaults = { ...DEFAULT_LINK, ...link };
    this.wire = wire ?? 'bytes';
  }

  // ---------------------------------------------------------------- control (nemeses)

  /** Nothing `from` sends reaches `to` (what is in flight is dropped too, silently) until healed. */
  cut(from: string, to: string): void {
    const link = this.link(from, to);
    link.cut = true;
    for (const [event] of link.inFlight) this.scheduler.cancel(event);
    link.inFlight.clear();
    this.trace.record(`t=${this.scheduler.now} cut ${from}->${to}`);
  }

  heal(from: string, to: string): void {
    this.link(from, to).cut = false;
    this.trace.record(`t=${this.scheduler.now} heal ${from}->${to}`);
  }

  /** Cut every link between hosts of different groups, both ways (hosts in no group are untouched). */
  partition(groups: readonly (readonly string[])[]): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) {
        if (i === j) continue;
        for (const a of groups[i]!) for (const b of groups[j]!) this.cut(a, b);
      }
    }
  }

  /** Change a link's latency, jitter, loss or bandwidth. */
  configure(from: string, to: string, settings: Partial<LinkSettings>): void {
    const link = this.link(from, to);
    link.settings = { ...link.settings, ...settings };
    this.trace.record(`t=${this.scheduler.now} configure ${from}->${to} ${JSON.stringify(link.settings)}`);
  }

  /** The connection over `from -> to` is reset: what is in flight is lost, the sender notices. */
  reset(from: string, to: string): void {
    const link = this.link(from, to);
    const lost = [...link.inFlight];
    link.inFlight.clear();
    for (const [event] of lost) this.scheduler.cancel(event);
    this.trace.record(`t=${this.scheduler.now} reset ${from}->${to} lost=${lost.length}`);
    for (const [, onReset] of lost) onReset?.();
  }

  /** Every link back to the defaults: uncut, no toxics. */
  healAll(): void {
    for (const link of this.links.values()) {
      link.cut = false;
      link.settings = this.defaults;
    }
    this.trace.record(`t=${this.scheduler.now} heal-all`);
  }

  linkState(from: string, to: string): { readonly cut: boolean; readonly settings: LinkSettings; readonly delivered: number; readonly inFlight: number } {
    const link = this.link(from, to);
    return { cut: link.cut, settings: link.settings, delivered: link.delivered, inFlight: link.inFlight.size };
  }

  // ---------------------------------------------------------------- the platform side

  /** Open node `host`'s peer endpoint (Platform.peers.open) for process `proc`. */
  openPeer(host: string, proc: SimProcess, options: PeerEndpointOptions): PeerEndpoint {
    const key = `${host}:${options.listenPort}`;
    const existing = this.peerListeners.get(key);
    if (existing !== undefined && existing.proc.alive && !existing.endpoint.closed) {
      throw Object.assign(new Error(`listen EADDRINUSE: ${key} (simulated network)`), { code: 'EADDRINUSE' });
    }
    const endpoint = new SimPeerEndpoint(this, host, proc, options);
    const entry: PeerListenerEntry = { host, port: options.listenPort, proc, endpoint };
    this.peerListeners.set(key, entry);
    proc.onDeath(() => {
      endpoint.closed = true;
      if (this.peerListeners.get(key) === entry) this.peerListeners.delete(key);
    });
    return endpoint;
  }

  /** Serve `handler` as node `host`'s client API on `port` (Platform.http.listen). */
  listenHttp(host: string, proc: SimProcess, handler: RequestHandler, port: number): HttpListener {
    const key = `${host}:${port}`;
    const existing = this.httpListeners.get(key);
    if (existing !== undefined && !existing.closed) {
      throw Object.assign(new Error(`listen EADDRINUSE: ${key} (simulated network)`), { code: 'EADDRINUSE' });
    }
    const entry: HttpListenerEntry = { host, port, proc, handler, open: new Set(), closed: false };
    this.httpListeners.set(key, entry);
    const close = (): void => {
      if (entry.closed) return;
      entry.closed = true;
      if (this.httpListeners.get(key) === entry) this.httpListeners.delete(key);
      for (const lose of [...entry.open]) lose();
      entry.open.clear();
    };
    proc.onDeath(close);
    return {
      url: `http://${host}:${port}`,
      close: () => {
        handler.closeStreams();
        close();
        return Promise.resolve();
      },
    };
  }

  /**
   * A process died: what it had in flight on its links, in either direction, is lost, and
   * the other ends see their connections reset.
   */
  dropInFlight(host: string): void {
    const resets: (() => void)[] = [];
    for (const link of this.links.values()) {
      if (link.from !== host && link.to !== host) continue;
      for (const [event, onReset] of link.inFlight) {
        this.scheduler.cancel(event);
        if (onReset !== null) resets.push(onReset);
      }
      link.inFlight.clear();
    }
    for (const onReset of resets) onReset();
  }

  // ---------------------------------------------------------------- the client side

  /** One HTTP request from `fromHost` (the harness's clients), timed out in virtual time. */
  request(fromHost: string, owner: SimProcess, req: ClientRequest, makeError: (code: ClientFailure, message: string) => Error): Promise<ClientResponse> {
    return new Promise<ClientResponse>((resolve, reject) => {
      const pending = new PendingRequest(this.scheduler, this.trace, fromHost, owner, req, makeError, resolve, reject);
      this.exchange(fromHost, owner, req.method, req.url, req.headers ?? EMPTY_HEADERS, req.body, pending);
    });
  }

  /** A streaming GET for `durationMs` (watches): each arriving line goes to `onText`. */
  stream(fromHost: string, owner: SimProcess, url: string, durationMs: number, onText: (text: string) => void): Promise<StreamOutcome> {
    return new Promise<StreamOutcome>((resolve) => {
      let settled = false;
      let status: number | null = null;
      let hangUp: (() => void) | null = null;
      const finish = (error?: string): void => {
        if (settled) return;
        settled = true;
        this.scheduler.cancel(timer);
        this.trace.record(`t=${this.scheduler.now} stream ${fromHost} ${url} ${status ?? '-'} ${error ?? 'closed'}`);
        resolve({ status, ...(error !== undefined ? { error } : {}) });
      };
      const timer = this.scheduler.after(
        durationMs,
        () => {
          finish();
          hangUp?.();
        },
        owner,
      );
      this.exchange(fromHost, owner, 'GET', url, EMPTY_HEADERS, undefined, {
        fail: (_code, why) => finish(why),
        answered: (s, _headers, body) => {
          status = s;
          if (body.kind === 'text') {
            onText(body.text);
            finish(s === 200 ? 'stream ended' : `http-${s}`);
            return;
          }
          hangUp = body.attach({
            text: (t) => {
              if (!settled) onText(t);
            },
            end: () => finish(s === 200 ? 'stream ended' : `http-${s}`),
          });
        },
      });
    });
  }

  // ---------------------------------------------------------------- internals

  /** @internal A peer message was delivered: into the trace, with its exact bytes (or every field). */
  recordDelivery(fromHost: string, toHost: string, message: Message, bytes: Uint8Array | null): void {
    const head = `t=${this.scheduler.now} msg ${fromHost}>${toHost} ${message.type} ${message.term} ${message.index}`;
    if (bytes !== null) {
      this.trace.record(head, bytes);
      return;
    }
    const m = message;
    let line = `${head} ${m.logTerm} ${m.commit} ${m.reject ? 1 : 0} ${m.rejectHint} ${m.rejectHintTerm} ${m.context ?? '-'} ${m.entries.length}`;
    for (const e of m.entries) line += ` ${e.index}:${e.term}:${e.type}:${e.data.byteLength}`;
    if (m.snapshot !== null) line += ` snap ${m.snapshot.metadata.index}:${m.snapshot.metadata.term}:${m.snapshot.data.byteLength}`;
    this.trace.record(line);
  }

  /** @internal Run `fn` as its own event, now, on behalf of `proc`. */
  soon(proc: SimProcess, fn: () => void): void {
    this.scheduler.after(0, fn, proc);
  }

  /** @internal The link `from -> to`, created with the defaults on first use. */
  link(from: string, to: string): Link {
    const key = `${from}>${to}`;
    let link = this.links.get(key);
    if (link === undefined) {
      link = new Link(from, to, this.defaults, this.rng.fork(`link/${key}`));
      this.links.set(key, link);
    }
    return link;
  }

  /** @internal Which host an address names, as seen from `fromHost` (loopback names the host itself). */
  resolveHost(host: string, fromHost: string): string {
    return LOOPBACK.has(host) ? fromHost : host;
  }

  /** @internal */
  peerListener(host: string, port: number): PeerListenerEntry | undefined {
    const entry = this.peerListeners.get(`${host}:${port}`);
    return entry !== undefined && entry.proc.alive && !entry.endpoint.closed ? entry : undefined;
  }

  /**
   * @internal Send `bytes` over `link`; `deliver` runs on arrival on behalf of `owner` unless
   * the link was cut meanwhile. Returns false if the message was dropped at once (cut, loss).
   */
  transmit(link: Link, bytes: number, owner: SimProcess, deliver: () => void, onReset: (() => void) | null = null, kind = 'network'): boolean {
    if (link.cut) return false;
    const s = link.settings;
    if (s.lossRate > 0 && link.rng.chance(s.lossRate)) return false;
    const now = this.scheduler.now;
    let sent = now;
    if (s.bandwidthBytesPerSec > 0) {
      sent = Math.max(now, link.busyUntil) + (bytes * 1000) / s.bandwidthBytesPerSec;
      link.busyUntil = sent;
    }
    const jitter = s.jitterMs > 0 ? link.rng.between(-s.jitterMs, s.jitterMs) : 0;
    const arrival = Math.max(sent + Math.max(0, s.latencyMs + jitter), link.lastArrival);
    link.lastArrival = arrival;
    const event = this.scheduler.at(
      arrival,
      () => {
        link.inFlight.delete(event);
        if (link.cut) return;
        link.delivered++;
        deliver();
      },
      owner,
      kind,
    );
    link.inFlight.set(event, onReset);
    return true;
  }

  private exchange(
    fromHost: string,
    owner: SimProcess,
    method: string,
    url: string,
    headers: Readonly<Record<string, string>>,
    body: string | undefined,
    exchange: Exchange,
  ): void {
    const target = parseHttpUrl(url);
    if (target === null) {
      this.scheduler.after(0, () => exchange.fail('refused', `invalid URL ${JSON.stringify(url)}`), owner);
      return;
    }
    const fail = (code: ClientFailure, why: string): void => exchange.fail(code, why);
    const destHost = this.resolveHost(target.host, fromHost);
    const port = target.port;
    const forward = this.link(fromHost, destHost);
    const back = this.link(destHost, fromHost);
    const listener = this.httpListeners.get(`${destHost}:${port}`);
    const lost = (): void => {
      this.transmit(back, 0, owner, () => fail('connection-lost', 'connection lost'));
    };
    if (listener === undefined || listener.closed || !listener.proc.alive) {
      // Nothing listens: the SYN is answered with a reset, a round trip later (unless a cut swallows it: timeout).
      this.transmit(forward, 0, owner, () => this.transmit(back, 0, owner, () => fail('refused', `connect ECONNREFUSED ${destHost}:${port}`)));
      return;
    }
    const lowered: Record<string, string> = {};
    let headerBytes = method.length + target.path.length + 12;
    for (const [k, v] of Object.entries(headers)) {
      lowered[k.toLowerCase()] = v;
      headerBytes += k.length + v.length + 4;
    }
    const requestBytes = headerBytes + (body === undefined ? 0 : Buffer.byteLength(body, 'utf8'));
    this.transmit(
      forward,
      requestBytes,
      listener.proc,
      () => {
        if (listener.closed) {
          lost();
          return;
        }
        if (headerBytes > MAX_HEADER_BYTES) {
          const text = JSON.stringify({ error: { code: 'too-large', message: 'request headers too large', definite: true } });
          this.transmit(back, text.length, owner, () => exchange.answered(431, { 'content-type': 'application/json', connection: 'close' }, { kind: 'text', text }), () => fail('connection-lost', 'connection reset'));
          return;
        }
        const open = (): void => lost();
        listener.open.add(open);
        const declared = lowered['content-length'];
        void listener.handler
          .handle({
            method,
            target: target.path,
            headers: lowered,
            body: bufferedBody(body, declared === undefined ? undefined : Number(declared)),
          })
          .then((response) => {
            if (listener.closed || !listener.open.has(open)) return;
            if (response.kind === 'json') {
              listener.open.delete(open);
              const text = JSON.stringify(response.body);
              this.transmit(
                back,
                text.length + 64,
                owner,
                () => exchange.answered(response.status, response.headers === undefined ? JSON_HEADERS : { ...response.headers, 'content-type': 'application/json' }, { kind: 'text', text }),
                () => fail('connection-lost', 'connection reset'),
                'http answer',
              );
              return;
            }
            listener.open.delete(open);
            this.startStream(listener, forward, back, owner, response, (arriving) => exchange.answered(response.status, response.headers, arriving), fail);
          });
      },
      () => fail('connection-lost', 'connection reset'),
      'http request',
    );
  }

  private startStream(
    listener: HttpListenerEntry,
    forward: Link,
    back: Link,
    owner: SimProcess,
    response: StreamResponse,
    headersArrived: (body: ArrivingBody) => void,
    fail: (code: ClientFailure, why: string) => void,
  ): void {
    const sink = new SimLineSink();
    let reader: StreamReader | null = null;
    // Lines that arrive at the client before it attached its reader (same event) wait here.
    const early: string[] = [];
    let endedEarly = false;
    const serverSideClose = (): void => sink.closeFromPeer();
    listener.open.add(serverSideClose);
    sink.send = (line) => {
      const bytes = Buffer.byteLength(line, 'utf8');
      sink.inFlightBytes += bytes;
      this.transmit(
        back,
        bytes,
        owner,
        () => {
          sink.inFlightBytes -= bytes;
          if (reader === null) early.push(line);
          else reader.text(line);
        },
        () => fail('connection-lost', 'connection reset'),
        'http stream',
      );
    };
    sink.sendEnd = () => {
      listener.open.delete(serverSideClose);
      this.transmit(back, 0, owner, () => {
        if (reader === null) endedEarly = true;
        else reader.end();
      });
    };
    // Headers first; the handler starts writing once they are out (as on node:http).
    this.transmit(back, 64, owner, () => {
      headersArrived({
        kind: 'stream',
        attach: (r) => {
          reader = r;
          for (const line of early.splice(0)) r.text(line);
          if (endedEarly) r.end();
          // The client hangs up: the server learns of it a link's latency later.
          return () => this.transmit(forward, 0, listener.proc, () => {
            listener.open.delete(serverSideClose);
            sink.closeFromPeer();
          });
        },
      });
    });
    response.start(sink);
  }
}

/** EventCosts kinds of peer messages (scheduler.ts), one string per message type. */
const peerEventKinds = new Map<string, string>();
function peerEventKind(type: string): string {
  let kind = peerEventKinds.get(type);
  if (kind === undefined) {
    kind = `peer ${type}`;
    peerEventKinds.set(type, kind);
  }
  return kind;
}

const EMPTY_HEADERS: Readonly<Record<string, string>> = {};
const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json' };

/** `http://host[:port]/path?query` without the WHATWG parser (a visible cost per request); null if it is not that shape. */
function parseHttpUrl(url: string): { readonly host: string; readonly port: number; readonly path: string } | null {
  const m = /^http:\/\/([^/:?#]+)(?::(\d{1,5}))?(\/[^#]*)?$/.exec(url);
  if (m === null) return null;
  return { host: m[1]!, port: m[2] === undefined ? 80 : Number(m[2]), path: m[3] ?? '/' };
}

/** What an exchange reports to whoever started it. */
interface Exchange {
  fail(code: ClientFailure, why: string): void;
  answered(status: number, headers: Readonly<Record<string, string>>, body: ArrivingBody): void;
}

/** A plain request waiting for its answer (a class, not closures: one object per request). */
class PendingRequest implements Exchange {
  private settled = false;
  private readonly timer: SimEvent;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly trace: Trace,
    private readonly fromHost: string,
    owner: SimProcess,
    private readonly req: ClientRequest,
    private readonly makeError: (code: ClientFailure, message: string) => Error,
    private readonly resolve: (response: ClientResponse) => void,
    private readonly reject: (error: Error) => void,
  ) {
    this.timer = scheduler.after(req.timeoutMs, () => this.fail('timeout', `no answer within ${req.timeoutMs} ms`), owner, 'http timeout');
  }

  fail(code: ClientFailure, why: string): void {
    if (this.settled) return;
    this.settled = true;
    this.scheduler.cancel(this.timer);
    const { method, url } = this.req;
    this.trace.record(`t=${this.scheduler.now} http ${this.fromHost} ${method} ${url} ${code}`);
    this.reject(this.makeError(code, `${method} ${url}: ${why} (simulated network)`));
  }

  answered(status: number, headers: Readonly<Record<string, string>>, body: ArrivingBody): void {
    if (body.kind === 'text') {
      this.answer({ status, headers, body: body.text });
      return;
    }
    // A streaming answer to a plain request: the body is whatever arrives until it ends.
    let text = '';
    body.attach({ text: (t) => (text += t), end: () => this.answer({ status, headers, body: text }) });
  }

  private answer(response: ClientResponse): void {
    if (this.settled) return;
    this.settled = true;
    this.scheduler.cancel(this.timer);
    this.trace.record(`t=${this.scheduler.now} http ${this.fromHost} ${this.req.method} ${this.req.url} ${response.status} ${response.body}`);
    this.resolve(response);
  }
}

interface StreamReader {
  text(text: string): void;
  end(): void;
}

type ArrivingBody = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'stream'; attach(reader: StreamReader): () => void };

/** The server's end of a simulated streaming response. */
class SimLineSink implements LineSink {
  inFlightBytes = 0;
  send: (line: string) => void = () => undefined;
  sendEnd: () => void = () => undefined;
  private ended = false;
  private readonly listeners: (() => void)[] = [];

  get bufferedBytes(): number {
    return this.inFlightBytes;
  }

  write(line: string): void {
    if (!this.ended) this.send(line);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.sendEnd();
    this.fireClose();
  }

  onClose(listener: () => void): void {
    if (this.ended) listener();
    else this.listeners.push(listener);
  }

  /** The reader went away (hung up, or the server process died). */
  closeFromPeer(): void {
    if (this.ended) return;
    this.ended = true;
    this.fireClose();
  }

  private fireClose(): void {
    for (const l of this.listeners.splice(0)) l();
  }
}

/** A node's end of the peer network: the PeerEndpoint the driver sends through. */
class SimPeerEndpoint implements PeerEndpoint {
  closed = false;
  private readonly book = new Map<NodeId, PeerAddr>();
  private readonly handlers: ((m: Message) => void)[] = [];
  private readonly resetHandlers = new Map<NodeId, () => void>();
  private readonly logger: EndpointLogger;
  readonly counters = { sent: 0, received: 0, droppedNoAddress: 0, droppedRefused: 0, rejectedUnknownPeer: 0 };

  constructor(
    private readonly network: SimNetwork,
    readonly host: string,
    private readonly proc: SimProcess,
    private readonly options: PeerEndpointOptions,
  ) {
    for (const [id, addr] of options.peers) this.book.set(id, addr);
    this.logger = options.logger;
  }

  send(message: Message): void {
    if (this.closed) return;
    const addr = this.book.get(message.to);
    const snapshot = message.snapshot !== null;
    if (addr === undefined) {
      this.counters.droppedNoAddress++;
      this.later(() => this.dropped(message.to, snapshot));
      return;
    }
    const destHost = this.network.resolveHost(addr.host, this.host);
    const link = this.network.link(this.host, destHost);
    const dest = this.network.peerListener(destHost, addr.port);
    if (dest === undefined) {
      // Connection refused: the sender learns of it a round trip later, if the link lets the reset through.
      this.counters.droppedRefused++;
      const back = this.network.link(destHost, this.host);
      this.network.transmit(link, 0, this.proc, () => this.network.transmit(back, 0, this.proc, () => this.dropped(message.to, snapshot)));
      return;
    }
    this.counters.sent++;
    // Handed to the socket (the real transport reports a snapshot as sent here).
    if (snapshot) this.later(() => this.options.onSnapshotStatus(message.to, true));
    const onReset = this.resetHandler(message.to);
    if (this.network.wire === 'bytes') {
      const bytes = encodeMessage(message);
      this.network.transmit(link, bytes.length, dest.proc, () => dest.endpoint.arrive(this.host, decodeMessage(bytes), bytes), onReset, peerEventKind(message.type));
    } else {
      this.network.transmit(link, messageSize(message), dest.proc, () => dest.endpoint.arrive(this.host, message, null), onReset, peerEventKind(message.type));
    }
  }

  setPeer(id: NodeId, addr: PeerAddr): void {
    if (id === this.options.id) return;
    this.book.set(id, addr);
  }

  onMessage(handler: (m: Message) => void): () => void {
    this.handlers.push(handler);
    return () => {
      const i = this.handlers.indexOf(handler);
      if (i >= 0) this.handlers.splice(i, 1);
    };
  }

  queueDepths(): ReadonlyMap<NodeId, number> {
    return new Map();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** @internal A message arrived from `fromHost` (with the bytes it travelled as, in 'bytes' mode). */
  arrive(fromHost: string, message: Message, bytes: Uint8Array | null): void {
    if (this.closed) return;
    // The real transport drops frames from ids outside its address book (rejectedUnknownPeer).
    if (!this.book.has(message.from)) {
      this.counters.rejectedUnknownPeer++;
      this.logger.warn('rejected peer frame: sender is not in the address book', { from: message.from, host: fromHost });
      return;
    }
    this.network.recordDelivery(fromHost, this.host, message, bytes);
    this.counters.received++;
    for (const h of this.handlers) h(message);
  }

  /** What a reset of the connection to `peer` does (one function per peer, not one per message). */
  private resetHandler(peer: NodeId): () => void {
    let handler = this.resetHandlers.get(peer);
    if (handler === undefined) {
      handler = () => this.later(() => this.dropped(peer, false));
      this.resetHandlers.set(peer, handler);
    }
    return handler;
  }

  private dropped(peer: NodeId, snapshot: boolean): void {
    if (this.closed) return;
    this.options.onUnreachable(peer);
    if (snapshot) this.options.onSnapshotStatus(peer, false);
  }

  /** Run `fn` as a separate event (never re-enter the driver from inside its own send). */
  private later(fn: () => void): void {
    this.network.soon(this.proc, fn);
  }
}

/** About what the codec would make of `m`, without encoding it (bandwidth in 'objects' mode). */
function messageSize(m: Message): number {
  let n = 96 + m.from.length + m.to.length + (m.context?.length ?? 0);
  for (const e of m.entries) n += 21 + e.data.byteLength;
  if (m.snapshot !== null) n += 64 + m.snapshot.data.byteLength;
  return n;
}
