/**
 * The HTTP API without sockets: a request handler takes a method, a target, headers and a
 * body, and answers with a status, headers and a JSON body, or a stream of lines
 * (`/v1/watch`). `store-handler.ts` implements impl/API.md on it; `server.ts` serves a
 * handler on node:http, and the simulation (harness/sim/) calls it through simulated client
 * links. The transport adapter owns only what is about bytes on a connection (header size
 * limits, malformed requests, connection reuse); routes, validation and errors live in the
 * handler, so both transports answer alike.
 */

/** What the handler learns of a request body. */
export interface BodyRead {
  /** The body exceeded the limit (its content-length said so, or more bytes came); `text` is then empty. */
  readonly tooLarge: boolean;
  /** Bytes received. */
  readonly size: number;
  /** The body as UTF-8 text (empty when too large). */
  readonly text: string;
}

/** A request body, read on demand: routes that need none never read it. */
export interface HttpBody {
  /**
   * Read the whole body, keeping at most `maxBytes`. Rejects when the connection ended
   * before the body did.
   */
  read(maxBytes: number): Promise<BodyRead>;
}

export interface HandlerRequest {
  readonly method: string;
  /** The request target as sent: path and query (`/v1/kv/get?key=a`). */
  readonly target: string;
  /** Header values by lower-case name. */
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body: HttpBody;
}

export interface JsonResponse {
  readonly kind: 'json';
  readonly status: number;
  /** Extra headers (content-type and content-length are the adapter's). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Serialized with JSON.stringify by the adapter. */
  readonly body: unknown;
}

/** Where a streaming response writes its lines. */
export interface LineSink {
  /** Send one line; `line` ends with "\n". */
  write(line: string): void;
  /** Bytes written but not yet taken by the reader (a slow reader makes this grow). */
  readonly bufferedBytes: number;
  /** End the response. */
  end(): void;
  /** Called once when the response ends for any reason: the reader went away, or `end()`. */
  onClose(listener: () => void): void;
}

export interface StreamResponse {
  readonly kind: 'stream';
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Begin writing into `sink`; called once, right after the adapter sent the headers. */
  start(sink: LineSink): void;
}

export type HandlerResponse = JsonResponse | StreamResponse;

export interface RequestHandler {
  /** Answer one request. Never rejects: every failure is an error response (impl/API.md's error shape). */
  handle(request: HandlerRequest): Promise<HandlerResponse>;
  /** End every open stream (the server is closing). */
  closeStreams(): void;
}

/** A body that is already in memory (in-process callers, the simulation). */
export function bufferedBody(text: string | undefined, declaredLength?: number): HttpBody {
  return {
    read: (maxBytes) => {
      const size = text === undefined ? 0 : Buffer.byteLength(text, 'utf8');
      const tooLarge = size > maxBytes || (declaredLength !== undefined && declaredLength > maxBytes);
      return Promise.resolve({ tooLarge, size, text: tooLarge || text === undefined ? '' : text });
    },
  };
}
