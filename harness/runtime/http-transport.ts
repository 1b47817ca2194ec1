/**
 * How the harness's HTTP clients reach nodes: one small interface, so the same client code
 * runs over real sockets (this file's NodeHttpTransport) and over a simulation's in-process
 * links in virtual time.
 *
 * The real transport is undici's dispatcher API (the `undici` package, not `fetch`). Measured
 * with 64 concurrent requests against a trivial local server (client CPU per request):
 * node:http with a keep-alive agent 75–110 µs, undici's dispatcher 38–50 µs; on the register
 * workload `fetch` with an AbortSignal per request cost the harness more CPU than the store's
 * leader spent serving it (Request/Headers/stream objects, transferable abort signals).
 * `JEPSEN_HTTP=node` selects the node:http transport. Timeouts run on the given clock.
 */
import http from 'node:http';
import { Agent } from 'undici';
import type { Dispatcher } from 'undici';
import type { HarnessClock } from '../time.ts';
import { realClock } from '../time.ts';

export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  /** Absolute URL. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly timeoutMs: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly body: string;
}

/**
 * Why a request got no answer. `refused`: nothing listened, so nothing was sent (definite);
 * `timeout` and `connection-lost`: it may have been delivered (indefinite).
 */
export class HttpTransportError extends Error {
  constructor(
    readonly code: 'timeout' | 'refused' | 'connection-lost',
    message: string,
  ) {
    super(message);
    this.name = 'HttpTransportError';
  }
}

export interface StreamOutcome {
  readonly status: number | null;
  /** Why the stream ended before `durationMs`, if it did. */
  readonly error?: string;
}

export interface HttpTransport {
  request(req: HttpRequest): Promise<HttpResponse>;
  /** A streaming GET for `durationMs`: each chunk of the body is passed to `onText` as it arrives. */
  stream(url: string, durationMs: number, onText: (text: string) => void): Promise<StreamOutcome>;
}

export class NodeHttpTransport implements HttpTransport {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });

  constructor(private readonly clock: HarnessClock = realClock) {}

  request(req: HttpRequest): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err: HttpTransportError | null, res?: HttpResponse): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        if (err !== null) reject(err);
        else resolve(res as HttpResponse);
      };
      const r = http.request(
        req.url,
        {
          method: req.method,
          agent: this.agent,
          headers: { 'content-type': 'application/json', ...(req.body !== undefined ? { 'content-length': Buffer.byteLength(req.body) } : {}), ...req.headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => finish(null, { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (e) => finish(lost(e)));
          res.on('aborted', () => finish(new HttpTransportError('connection-lost', 'response aborted')));
        },
      );
      const timer = this.clock.after(req.timeoutMs, () => {
        finish(new HttpTransportError('timeout', `no answer within ${req.timeoutMs} ms`));
        r.destroy();
      });
      r.on('error', (e) => finish(lost(e)));
      r.end(req.body);
    });
  }

  stream(url: string, durationMs: number, onText: (text: string) => void): Promise<StreamOutcome> {
    return new Promise((resolve) => {
      let settled = false;
      let status: number | null = null;
      const finish = (error?: string): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        resolve({ status, ...(error !== undefined ? { error } : {}) });
      };
      // Streams get their own connection: a kept-alive socket would be busy until the end.
      const r = http.request(url, { method: 'GET', agent: false }, (res) => {
        status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (t: string) => onText(t));
        res.on('end', () => finish(status === 200 ? 'stream ended' : `http-${status}`));
        res.on('error', (e) => finish(e.message));
      });
      const timer = this.clock.after(durationMs, () => {
        finish();
        r.destroy();
      });
      r.on('error', (e) => finish(e.message));
      r.end();
    });
  }
}

function lost(e: Error): HttpTransportError {
  const code = (e as { code?: unknown }).code;
  // Refused: nothing listened, so nothing was sent. Everything else may have been delivered.
  if (code === 'ECONNREFUSED') return new HttpTransportError('refused', e.message);
  return new HttpTransportError('connection-lost', `${typeof code === 'string' ? `${code}: ` : ''}${e.message}`);
}

/**
 * Requests through undici's dispatcher API (not its fetch): connection pools per origin,
 * no Request/Response/stream objects, and the timeout still on the run's clock (an abort of
 * the dispatch). Measured against NodeHttpTransport on the same run (bench:harness).
 */
export class UndiciTransport implements HttpTransport {
  private readonly agent = new Agent({ keepAliveTimeout: 30_000, connections: null, pipelining: 1 });
  private readonly plain = new NodeHttpTransport(realClock);

  constructor(private readonly clock: HarnessClock = realClock) {}

  request(req: HttpRequest): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const chunks: Buffer[] = [];
      let status = 0;
      let abort: ((err: Error) => void) | null = null;
      const finish = (err: HttpTransportError | null, res?: HttpResponse): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        if (err !== null) reject(err);
        else resolve(res as HttpResponse);
      };
      const timer = this.clock.after(req.timeoutMs, () => {
        finish(new HttpTransportError('timeout', `no answer within ${req.timeoutMs} ms`));
        abort?.(new Error('timeout'));
      });
      const url = new URL(req.url);
      const handler: Dispatcher.DispatchHandlers = {
        onConnect: (a) => {
          abort = a;
        },
        onError: (e) => finish(lost(e)),
        onHeaders: (statusCode) => {
          status = statusCode;
          return true;
        },
        onData: (chunk) => {
          chunks.push(chunk);
          return true;
        },
        onComplete: () => finish(null, { status, body: chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8') }),
      };
      this.agent.dispatch(
        {
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: req.method,
          headers: { 'content-type': 'application/json', ...req.headers },
          ...(req.body !== undefined ? { body: req.body } : {}),
        },
        handler,
      );
    });
  }

  stream(url: string, durationMs: number, onText: (text: string) => void): Promise<StreamOutcome> {
    return this.plain.stream(url, durationMs, onText);
  }
}

let shared: HttpTransport | null = null;
/** The process's one real transport (one connection pool for every client of a run). */
export function realTransport(): HttpTransport {
  shared ??= process.env.JEPSEN_HTTP === 'node' ? new NodeHttpTransport(realClock) : new UndiciTransport(realClock);
  return shared;
}
