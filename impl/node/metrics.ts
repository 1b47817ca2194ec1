/**
 * `GET /v1/metrics`: the node's counters (driver, storage, transport — including peer frames
 * dropped for a bad MAC) as JSON. The store's handler owns every other route; this one is
 * answered before a request reaches it, so the two need not know each other.
 */
import type { HandlerRequest, HandlerResponse, RequestHandler } from '../store/http-handler.ts';

export const METRICS_PATH = '/v1/metrics';

/** `handler` with `GET /v1/metrics` answered from `snapshot()` in front of it. */
export function withMetricsRoute(handler: RequestHandler, snapshot: () => unknown): RequestHandler {
  return {
    handle: (request: HandlerRequest): Promise<HandlerResponse> => {
      // Every request passes here: compare without slicing the target.
      const target = request.target;
      const isMetrics = target.startsWith(METRICS_PATH) && (target.length === METRICS_PATH.length || target.charCodeAt(METRICS_PATH.length) === 63); /* '?' */
      if (!isMetrics || request.method !== 'GET') return handler.handle(request);
      try {
        // Serialized here, not by the transport, so a snapshot that cannot be serialized is a 500.
        return Promise.resolve({ kind: 'json', status: 200, body: JSON.parse(JSON.stringify(snapshot())) as unknown });
      } catch (err) {
        return Promise.resolve({ kind: 'json', status: 500, body: { error: { code: 'internal', message: String(err), definite: true } } });
      }
    },
    closeStreams: () => handler.closeStreams(),
  };
}
