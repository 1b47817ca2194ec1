/**
 * The harness's own minimal HTTP calls to a store node (impl/API.md), classifying every
 * outcome as Jepsen does: ok, a definite error (it did not happen: `fail`), or an indefinite
 * one (it may have happened: `info`). When in doubt, indefinite.
 *
 * The harness keeps this single-attempt client on purpose instead of the store's own
 * `StoreClient`, which retries (Jepsen records one attempt per operation). `fetch` and the
 * timeout clock are injected, so the same calls run over real sockets and, in simulation, over
 * an in-process link in virtual time.
 */
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

/** How calls reach nodes: the real `fetch` and clock, or a simulation's. */
export interface HttpEnv {
  readonly fetch: typeof fetch;
  readonly clock: HarnessClock;
}

export const REAL_HTTP: HttpEnv = { fetch: globalThis.fetch, clock: realClock };

/** An AbortSignal that fires after `ms` on `clock` (AbortSignal.timeout would use the real clock). */
export function timeoutSignal(clock: HarnessClock, ms: number): { signal: AbortSignal; cancel: () => void } {
  const ac = new AbortController();
  const t = clock.after(ms, () => ac.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')));
  return { signal: ac.signal, cancel: () => t.cancel() };
}

export async function call(baseUrl: string, path: string, opts: CallOptions, env: HttpEnv = REAL_HTTP): Promise<CallOutcome> {
  let res: Response;
  const timeout = timeoutSignal(env.clock, opts.timeoutMs);
  let text: string;
  try {
    try {
      res = await env.fetch(`${baseUrl}${path}`, {
        method: opts.method ?? 'GET',
        headers: { 'content-type': 'application/json', ...opts.headers },
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        signal: timeout.signal,
      });
    } catch (e) {
      return transportError(e);
    }
    try {
      text = await res.text();
    } catch (e) {
      return transportError(e);
    }
  } finally {
    timeout.cancel();
  }
  let body: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    body = null;
  }
  if (res.ok && body !== null) return { kind: 'ok', status: res.status, body };
  const err = body?.error as { code?: unknown; definite?: unknown; leaderHint?: { id?: unknown } | null } | undefined;
  if (err === undefined || typeof err.code !== 'string') {
    // A proxy or a dying process answered, not the store: it may have applied the request.
    return { kind: 'error', definite: false, code: `http-${res.status}`, status: res.status, body, leaderHint: null };
  }
  return {
    kind: 'error',
    definite: err.definite === true,
    code: err.code,
    status: res.status,
    body,
    leaderHint: typeof err.leaderHint?.id === 'string' ? err.leaderHint.id : null,
  };
}

function transportError(e: unknown): CallOutcome {
  const cause = (e as { cause?: { code?: unknown } }).cause;
  const causeCode = typeof cause?.code === 'string' ? cause.code : null;
  const name = e instanceof Error ? e.name : '';
  // Refused: nothing listened, so nothing was sent. Everything else may have been delivered.
  const definite = causeCode === 'ECONNREFUSED';
  const code = name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : (causeCode ?? 'connection-lost').toLowerCase();
  return { kind: 'error', definite, code, status: null, body: null, leaderHint: null };
}
