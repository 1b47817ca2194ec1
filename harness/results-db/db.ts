/**
 * Connecting to the results database: `JEPSEN_DATABASE_URL` (a postgres:// URL), with errors
 * that say what to set or why the server could not be reached, password never printed.
 */
import postgres from 'postgres';

export type Sql = postgres.Sql;

export const DATABASE_URL_ENV = 'JEPSEN_DATABASE_URL';

/** The database is not configured or not reachable (the CLI exits 69 on it). */
export class DatabaseUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DatabaseUnavailableError';
  }
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * The database scripts/setup-host.sh creates. The harness and `npm run runs` use it when
 * JEPSEN_DATABASE_URL is unset (not when it is set to the empty string: that opts out).
 */
export const LOCAL_DATABASE_URL = 'postgres://jepsen:jepsen@127.0.0.1:5432/jepsen';

/** `env` with JEPSEN_DATABASE_URL defaulted to LOCAL_DATABASE_URL when it is unset. */
export function withDefaultDatabase(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return env[DATABASE_URL_ENV] === undefined ? { ...env, [DATABASE_URL_ENV]: LOCAL_DATABASE_URL } : env;
}

export function databaseUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const url = env[DATABASE_URL_ENV];
  if (url === undefined || url.trim() === '') {
    throw new DatabaseUnavailableError(`${DATABASE_URL_ENV} is not set; set it to a PostgreSQL URL, e.g. ${DATABASE_URL_ENV}=postgres://user:password@127.0.0.1:5432/jepsen`);
  }
  if (!/^postgres(ql)?:\/\//.test(url)) throw new DatabaseUnavailableError(`${DATABASE_URL_ENV} must be a postgres:// URL, got ${JSON.stringify(redactUrl(url))}`);
  return url;
}

/**
 * Opens a small pool and checks the server answers, so an unreachable database fails here
 * with one clear message instead of at the first query.
 */
export async function connect(url: string, options: { connectTimeoutS?: number } = {}): Promise<Sql> {
  const sql = postgres(url, { max: 4, connect_timeout: options.connectTimeoutS ?? 10, onnotice: () => {} });
  try {
    await sql`select 1`;
  } catch (e) {
    await sql.end({ timeout: 1 });
    const reason = e instanceof Error ? ((e as { code?: string }).code !== undefined ? `${(e as { code?: string }).code}: ${e.message}` : e.message) : String(e);
    throw new DatabaseUnavailableError(`cannot reach PostgreSQL at ${redactUrl(url)}: ${reason}`, { cause: e });
  }
  return sql;
}
