/**
 * The harness's own minimal HTTP calls to a store node (impl/API.md), classifying every
 * outcome as Jepsen does: ok, a definite error (it did not happen: `fail`), or an indefinite
 * one (it may have happened: `info`). When in doubt, indefinite.
 *
 * The harness keeps this single-attempt client on purpose instead of the store's own
 * `StoreClient`, which retries (Jepsen records one attempt per operation). The transport and
 * the timeout clock are injected, so the same calls run over real sockets and, in simulation,
 * over an in-process link in virtual time.
 */
import type { HttpTransport } from '../../runtime/http-transport.ts';
import { HttpTransportError, realTransport } from '../../runtime/http-transport.ts';
import type { HarnessClock } from '../../time.ts';
import { realClock } from '../../time.ts';

export type CallOutcome =
  | { readonly kind: 'ok'; readonly status: number; readonly body: Record<string, unknown> }
  | {
      readonly kind: 'error';
      readonly definite: boolean;
      readonly code: string;
      readonly status: number | null;
      readonly body: Record<string, unknown> | null;
      /** Node id from a 421 `leaderHint`, when given. */
      readonly leaderHint: string | null;
    };

export interface CallOptions {
  readonly method?: 'GET' | 'POST';
  readonly body?: unknown;
  readonly timeoutMs: number;
  readonly headers?: Record<string, string>;
}

/** How calls reach nodes: a transport and a clock (real sockets, or a simulation's). */
export interface HttpEnv {
  readonly http: HttpTransport;
  readonly clock: HarnessClock;
}

/** Real sockets, real clock (one shared keep-alive agent). */
export function realHttp(): HttpEnv {
  return { http: realTransport(), clock: realClock };
}

export async function call(baseUrl: string, path: string, opts: CallOptions, env: HttpEnv = realHttp()): Promise<CallOutcome> {
  let status: number;
  let text: string;
  try {
    const res = await env.http.request({
      method: opts.method ?? 'GET',
      url: `${baseUrl}${path}`,
      ...(opts.headers !== undefined ? { headers: opts.headers } : {}),
      ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
      timeoutMs: opts.timeoutMs,
    });
    status = res.status;
    text = res.body;
  } catch (e) {
    return transportError(e);
  }
  let body: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    body = null;
  }
  if (status >= 200 && status < 300 && body !== null) return { kind: 'ok', status, body };
  const err = body?.error as { code?: unknown; definite?: unknown; leaderHint?: { id?: unknown } | null } | undefined;
  if (err === undefined || typeof err.code !== 'string') {
    // A proxy or a dying process answered, not the store: it may have applied the request.
    return { kind: 'error', definite: false, code: `http-${status}`, status, body, leaderHint: null };
  }
  return {
    kind: 'error',
    definite: err.definite === true,
    code: err.code,
    status,
    body,
    leaderHint: typeof err.leaderHint?.id === 'string' ? err.leaderHint.id : null,
  };
}

function transportError(e: unknown): CallOutcome {
  if (!(e instanceof HttpTransportError)) throw e;
  // Refused: nothing listened, so nothing was sent. Everything else may have been delivered.
  const code = e.code === 'refused' ? 'econnrefused' : e.code;
  return { kind: 'error', definite: e.code === 'refused', code, status: null, body: null, leaderHint: null };
}
