/**
 * The node:http adapter of the client API: serves a RequestHandler (http-handler.ts; the
 * store's is store-handler.ts) on a socket. It owns only what is about bytes on a connection:
 * reading the body within its limit, header limits and malformed requests (431/400 from
 * node:http's parser), connection reuse after a refused body, and streaming responses.
 * Routes, validation and errors are the handler's, so the simulation, which calls the same
 * handler through in-process links, answers alike.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { BodyRead, HandlerResponse, HttpBody, LineSink, RequestHandler } from './http-handler.ts';
import { createStoreHandler, DEFAULT_MAX_BODY_BYTES, HttpError, type StoreHandlerOptions } from './store-handler.ts';
import type { WatchHub } from './watch-hub.ts';

export { DEFAULT_MAX_BODY_BYTES, HttpError };
export type StoreServerOptions = StoreHandlerOptions;

/** Bodies above the limit are read and discarded up to this much so the client sees the 413; beyond it the connection is cut. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;

export interface HttpServer {
  readonly server: Server;
  /** Listen on host:port (port 0 picks one) and resolve with the address. */
  listen(port: number, host?: string): Promise<{ readonly host: string; readonly port: number; readonly url: string }>;
  /** Stop accepting, end streams and open connections. */
  close(): Promise<void>;
}

export interface StoreServer extends HttpServer, AsyncDisposable {
  readonly watchHub: WatchHub;
}

/** A node:http server that answers every request with `handler`. */
export function createHttpServer(handler: RequestHandler): HttpServer {
  const server = createServer((req, res) => {
    handler
      .handle({ method: req.method ?? 'GET', target: req.url ?? '/', headers: req.headers, body: new IncomingBody(req) })
      .then(
        (response) => respond(req, res, response),
        // The handler never rejects; if it did, that is a bug: answer 500 rather than hang.
        (e: unknown) => respond(req, res, { kind: 'json', status: 500, body: { error: { code: 'internal', message: `internal error: ${String(e)}`, definite: false } } }),
      );
  });

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const body = JSON.stringify({
      error: { code: tooLarge ? 'too-large' : 'bad-request', message: tooLarge ? 'request headers too large' : `malformed HTTP request: ${err.code ?? err.message}`, definite: true },
    });
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });

  const close = async (): Promise<void> => {
    handler.closeStreams();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };

  return {
    server,
    listen: (port, host = '127.0.0.1') =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
          resolve({ host: address.address, port: address.port, url: `http://${shownHost}:${address.port}` });
        });
      }),
    close,
  };
}

/** Serve `handler` on host:port (the real platform's HttpServing). */
export async function serveHttp(handler: RequestHandler, at: { readonly port: number; readonly host: string }): Promise<{ readonly url: string; close(): Promise<void> }> {
  const http = createHttpServer(handler);
  const { url } = await http.listen(at.port, at.host);
  return { url, close: () => http.close() };
}

/** The store's API (store-handler.ts) on node:http: what tests and in-process stores start. */
export function createStoreServer(options: StoreServerOptions): StoreServer {
  const handler = createStoreHandler(options);
  const http = createHttpServer(handler);
  return { ...http, watchHub: handler.watchHub, [Symbol.asyncDispose]: () => http.close() };
}

function respond(req: IncomingMessage, res: ServerResponse, response: HandlerResponse): void {
  if (response.kind === 'stream') {
    res.writeHead(response.status, response.headers);
    response.start(responseSink(res));
    return;
  }
  // An error answered before the body was read: the body keeps arriving; close the
  // connection after the answer and discard the rest rather than let it poison the next request.
  const refusedBody = response.status >= 400 && !req.complete;
  const text = JSON.stringify(response.body);
  const length = Buffer.byteLength(text);
  res.writeHead(
    response.status,
    response.headers === undefined && !refusedBody
      ? { 'content-type': 'application/json', 'content-length': length }
      : { ...response.headers, ...(refusedBody ? { connection: 'close' } : {}), 'content-type': 'application/json', 'content-length': length },
  );
  res.end(text);
  if (refusedBody) req.resume();
}

function responseSink(res: ServerResponse): LineSink {
  return {
    write: (line) => void res.write(line),
    get bufferedBytes() {
      return res.writableLength;
    },
    end: () => void res.end(),
    onClose: (listener) => {
      res.on('close', listener);
      res.on('error', listener);
    },
  };
}

/**
 * The body of a node:http request, read on demand. Plain 'data'/'end' listeners rather than
 * `for await`: the async iterator cost a promise per chunk and showed in profiles.
 */
class IncomingBody implements HttpBody {
  constructor(private readonly req: IncomingMessage) {}

  read(maxBytes: number): Promise<BodyRead> {
    return readIncoming(this.req, maxBytes);
  }
}

async function readIncoming(req: IncomingMessage, maxBytes: number): Promise<BodyRead> {
  const declared = Number(req.headers['content-length'] ?? '0');
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = Number.isFinite(declared) && declared > maxBytes;
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) tooLarge = true;
      if (size > MAX_DRAIN_BYTES) {
        cleanup();
        req.destroy();
        resolve();
        return;
      }
      if (!tooLarge) chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    // A connection closed before the body ended: the body is incomplete.
    const onClose = (): void => {
      cleanup();
      if (req.complete) resolve();
      else reject(new Error('request closed before its body ended'));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
  if (tooLarge) return { tooLarge, size, text: '' };
  const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
  return { tooLarge, size, text };
}
