/**
 * `npm run runs -- serve`: a local web page over the results database. node:http, bound to
 * 127.0.0.1 unless told otherwise, GET only:
 *
 *   /                          runs, newest first, filtered by ?release= &system= &workload= &nemesis= (&limit=)
 *   /compare?run=A&run=B       two runs (row ids; the older is the base)
 *   /compare?base=REV&head=REV the newest run of each release (&workload= &nemesis= &system=)
 *   /runs/ID/report.html       that run's report, read from its directory on disk
 *
 * A report is served only from a run directory inside one of the results roots (default
 * `results/`), after resolving symlinks, and only the file `report.html` in it: the URL
 * carries a row id, never a path, and a row whose directory lies elsewhere gets 403. A run
 * whose report.html was never written is rendered in memory (the directory is only read).
 * Every response carries a Content-Security-Policy that allows nothing from elsewhere.
 */
import { createReadStream, existsSync, realpathSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve, sep } from 'node:path';
import { HistoryError } from '../../checkers/history/errors.ts';
import { RunDirError } from '../report/load-run.ts';
import { renderRunReport } from '../report/report.ts';
import { compareRuns } from './compare.ts';
import type { Sql } from './db.ts';
import { findRun, listRuns, RunNotFoundError, type RunSummary } from './runs.ts';
import { renderComparePage, renderErrorPage, renderRunsPage, type FilterChoices, type RunFilters } from './serve-page.ts';

export interface RunsServerOptions {
  readonly sql: Sql;
  /** Default 127.0.0.1: the page is for the person at this machine. */
  readonly host?: string;
  /** Default 0: any free port (the CLI defaults to 8080). */
  readonly port?: number;
  /** Directories run directories must lie in for their reports to be served (default: `results/`). */
  readonly resultsRoots?: readonly string[];
}

export interface StartedRunsServer extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** A request the server refuses, with the status to refuse it with. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Nothing from anywhere but this page: inline styles and scripts, data: images, same-origin forms. */
const CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'self'";

const DEFAULT_LIMIT = 200;

function realRoots(roots: readonly string[]): string[] {
  return roots.filter((r) => existsSync(r)).map((r) => realpathSync(resolve(r)));
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Where a run's report is, or why it may not be served: the run directory (symlinks
 * resolved) must lie inside a results root, and `report.html` must resolve inside it.
 * `null` path with status 200 means "not written yet: render it".
 */
export function reportFileOf(resultsDir: string, roots: readonly string[]): { dir: string; file: string | null } {
  if (!existsSync(resultsDir)) throw new HttpError(404, `the run directory ${resultsDir} is no longer on disk`);
  const dir = realpathSync(resultsDir);
  const allowed = realRoots(roots);
  if (!allowed.some((root) => inside(dir, root))) {
    throw new HttpError(403, `the run directory ${dir} is outside the results directories this server shows (${allowed.join(', ') || 'none exist'}); start it with --results-root`);
  }
  const candidate = join(dir, 'report.html');
  if (!existsSync(candidate)) return { dir, file: null };
  const file = realpathSync(candidate);
  if (!inside(file, dir) || !statSync(file).isFile()) throw new HttpError(403, `${candidate} points outside its run directory`);
  return { dir, file };
}

function one(params: URLSearchParams, name: string): string | undefined {
  const v = params.get(name);
  return v === null || v.trim() === '' ? undefined : v.trim();
}

function filtersOf(params: URLSearchParams): RunFilters {
  const f: { -readonly [K in keyof RunFilters]: RunFilters[K] } = {};
  for (const k of ['release', 'system', 'workload', 'nemesis'] as const) {
    const v = one(params, k);
    if (v !== undefined) f[k] = v;
  }
  return f;
}

async function filterChoices(sql: Sql): Promise<FilterChoices> {
  const revisions = await sql<{ git_revision: string; newest: Date }[]>`select git_revision, max(started_at) as newest from runs where git_revision is not null group by git_revision order by newest desc`;
  const versions = await sql<{ v: string }[]>`select distinct store_version as v from runs where store_version is not null order by v`;
  const distinct = async (column: 'system' | 'workload' | 'nemesis'): Promise<string[]> =>
    (await sql.unsafe<{ v: string }[]>(`select distinct ${column} as v from runs order by v`)).map((r) => r.v);
  return {
    releases: [
      ...revisions.map((r) => ({ value: r.git_revision, label: `${r.git_revision.slice(0, 12)} (${r.newest.toISOString().slice(0, 10)})` })),
      ...versions.map((r) => ({ value: r.v, label: r.v })),
    ],
    systems: await distinct('system'),
    workloads: await distinct('workload'),
    nemeses: await distinct('nemesis'),
  };
}

async function runsPage(sql: Sql, params: URLSearchParams): Promise<string> {
  const filters = filtersOf(params);
  const limitText = one(params, 'limit');
  const limit = limitText === undefined ? DEFAULT_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new HttpError(400, `limit must be an integer from 1 to 10000, got ${JSON.stringify(limitText)}`);
  const runs = await listRuns(sql, { ...filters, limit });
  return renderRunsPage(runs, filters, await filterChoices(sql), limit);
}

async function comparePage(sql: Sql, params: URLSearchParams): Promise<string> {
  const picked = params.getAll('run').filter((r) => r.trim() !== '');
  const base = one(params, 'base');
  const head = one(params, 'head');
  if (picked.length > 0) {
    if (picked.length !== 2 || base !== undefined || head !== undefined) throw new HttpError(400, `pick exactly two runs to compare (got ${picked.length})`);
    for (const id of picked) if (!/^\d+$/.test(id)) throw new HttpError(400, `a run is given by its row id, got ${JSON.stringify(id)}`);
    const [a, b] = await Promise.all(picked.map((id) => findRun(sql, id)));
    const [older, newer] = [a as RunSummary, b as RunSummary].sort((x, y) => x.startedAt.getTime() - y.startedAt.getTime() || x.id - y.id);
    return renderComparePage(compareRuns(older as RunSummary, newer as RunSummary), `runs #${(older as RunSummary).id} and #${(newer as RunSummary).id}`);
  }
  if (base === undefined || head === undefined) throw new HttpError(400, 'compare two runs (?run=ID&run=ID) or two releases (?base=REV&head=REV)');
  const filters = filtersOf(params);
  const newestOf = async (rel: string): Promise<RunSummary> => {
    const [r] = await listRuns(sql, { ...filters, release: rel, limit: 1 });
    if (r === undefined) {
      const where = (['system', 'workload', 'nemesis'] as const).filter((k) => filters[k] !== undefined).map((k) => `${k} ${filters[k] as string}`);
      throw new HttpError(404, `no recorded run of release ${JSON.stringify(rel)}${where.length > 0 ? ` (${where.join(', ')})` : ''}`);
    }
    return r;
  };
  const [b, h] = await Promise.all([newestOf(base), newestOf(head)]);
  return renderComparePage(compareRuns(b, h), `releases ${base.slice(0, 12)} and ${head.slice(0, 12)}`);
}

async function serveReport(sql: Sql, id: string, roots: readonly string[], res: ServerResponse, head: boolean): Promise<void> {
  const run = await findRun(sql, id);
  const { dir, file } = reportFileOf(run.resultsDir, roots);
  if (file !== null) {
    res.writeHead(200, { ...HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-length': statSync(file).size });
    if (head) {
      res.end();
      return;
    }
    await new Promise<void>((done, fail) => {
      createReadStream(file).on('error', fail).pipe(res).on('finish', done).on('error', fail);
    });
    return;
  }
  let html: string;
  try {
    html = await renderRunReport(dir);
  } catch (e) {
    if (e instanceof RunDirError || e instanceof HistoryError) throw new HttpError(404, `run #${run.id} has no report.html and cannot be rendered: ${e.message}`);
    throw e;
  }
  send(res, 200, html, head);
}

const HEADERS = { 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'cache-control': 'no-store' };

function send(res: ServerResponse, status: number, html: string, head = false): void {
  const body = Buffer.from(html, 'utf8');
  res.writeHead(status, { ...HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-length': body.length });
  res.end(head ? undefined : body);
}

async function handle(sql: Sql, roots: readonly string[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.setHeader('allow', 'GET, HEAD');
    send(res, 405, renderErrorPage(405, `${req.method ?? '?'} is not allowed: this page only reads`));
    return;
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  try {
    if (url.pathname === '/') return send(res, 200, await runsPage(sql, url.searchParams), head);
    if (url.pathname === '/compare') return send(res, 200, await comparePage(sql, url.searchParams), head);
    const report = /^\/runs\/(\d+)\/report\.html$/.exec(url.pathname);
    if (report !== null) return await serveReport(sql, report[1] as string, roots, res, head);
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204, HEADERS).end();
      return;
    }
    throw new HttpError(404, `nothing at ${url.pathname}`);
  } catch (e) {
    if (res.headersSent) {
      res.destroy(e instanceof Error ? e : undefined);
      return;
    }
    if (e instanceof HttpError) return send(res, e.status, renderErrorPage(e.status, e.message), head);
    if (e instanceof RunNotFoundError) return send(res, 404, renderErrorPage(404, e.message), head);
    send(res, 500, renderErrorPage(500, e instanceof Error ? e.message : String(e)), head);
  }
}

export async function startRunsServer(options: RunsServerOptions): Promise<StartedRunsServer> {
  const roots = options.resultsRoots ?? [resolve('results')];
  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer((req, res) => {
    void handle(options.sql, roots, req, res);
  });
  await new Promise<void>((ready, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', fail);
      ready();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closed ??= new Promise<void>((done) => {
      server.close(() => done());
      server.closeAllConnections();
    }));
  return { url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`, port, close, [Symbol.asyncDispose]: close };
}
