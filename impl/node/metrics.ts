/**
 * `GET /v1/metrics`: the node's counters (driver, storage, transport — including peer frames
 * dropped for a bad MAC) as JSON. The store's HTTP server owns every other route; this one is
 * answered before the request reaches it, so the two need not know each other.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export const METRICS_PATH = '/v1/metrics';

export function attachMetricsRoute(server: Server, snapshot: () => unknown): void {
  const others = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === METRICS_PATH && req.method === 'GET') {
      let body: string;
      try {
        body = JSON.stringify(snapshot());
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      } catch (err) {
        body = JSON.stringify({ error: { code: 'internal', message: String(err), definite: true } });
        res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      }
      res.end(body);
      return;
    }
    for (const listener of others) listener.call(server, req, res);
  });
}
