/**
 * A throwaway PostgreSQL server for tests: `initdb` into a fresh temp dir, `postgres` on a
 * free loopback port with its socket in that dir, trust auth, no fsync. `stop()` (or
 * `await using`) shuts it down and deletes the directory; a process exit kills it too, so
 * a crashed test leaves no server behind.
 *
 *   await using pg = await startThrowawayPostgres();
 *   const sql = postgres(pg.url);
 *
 * PostgreSQL refuses to run as root, so as root the binaries run as the `postgres` OS user
 * (`runuser -u postgres --`), with the temp dir chowned to it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';

const DEFAULT_BIN_DIRS = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'];

/** Where initdb and postgres live: `PG_BIN_DIR`, else the newest Debian install found, else null. */
export function postgresBinDir(): string | null {
  const fromEnv = process.env.PG_BIN_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return existsSync(join(fromEnv, 'initdb')) ? fromEnv : null;
  return DEFAULT_BIN_DIRS.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'postgres'))) ?? null;
}

export interface ThrowawayPostgresOptions {
  /** Directory holding initdb and postgres (default: `postgresBinDir()`). */
  readonly binDir?: string;
  /** How long to wait for the server to accept connections (default 30 s). */
  readonly startTimeoutMs?: number;
  /** Database superuser created by initdb (default `jepsen`). */
  readonly user?: string;
}

export interface StartedPostgres extends AsyncDisposable {
  /** `postgres://user@127.0.0.1:port/postgres` (trust auth, no password). */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** Fast shutdown, then the temp dir is removed. Safe to call twice. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startThrowawayPostgres(options: ThrowawayPostgresOptions = {}): Promise<StartedPostgres> {
  const binDir = options.binDir ?? postgresBinDir();
  if (binDir === null) throw new Error('PostgreSQL server binaries not found (looked in PG_BIN_DIR and /usr/lib/postgresql/{17,16,15}/bin); install the postgresql package');
  const user = options.user ?? 'jepsen';
  const asRoot = process.getuid?.() === 0;
  // As root, everything runs as the postgres OS user, which must own the directories.
  const wrap = (cmd: string, args: readonly string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, [...args]]);
  const base = mkdtempSync(join(tmpdir(), 'throwaway-pg-'));
  const dataDir = join(base, 'data');
  const sockDir = join(base, 'sock');
  mkdirSync(sockDir);
  let child: ChildProcess | null = null;
  let stopped = false;
  let log = '';

  const postmasterPid = (): number | null => {
    try {
      const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  };
  const killNow = (): void => {
    // On process exit: no time for a clean shutdown; the postmaster's children follow it.
    const pid = postmasterPid();
    for (const p of [pid, child?.pid]) {
      if (p === null || p === undefined) continue;
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(base, { recursive: true, force: true });
  };
  process.once('exit', killNow);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killNow);
    const c = child;
    if (c !== null && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      // SIGINT to the postmaster is "fast shutdown": disconnect clients, checkpoint, exit.
      const pid = postmasterPid() ?? c.pid;
      try {
        if (pid !== undefined) process.kill(pid, 'SIGINT');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => killNow(), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(base, { recursive: true, force: true });
  };

  try {
    if (asRoot) {
      const { uid, gid } = postgresIds();
      chownSync(base, uid, gid);
      chownSync(sockDir, uid, gid);
    }
    const [initCmd, initArgs] = wrap(join(binDir, 'initdb'), ['-D', dataDir, '-U', user, '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    try {
      await promisify(execFile)(initCmd, initArgs, { cwd: base, encoding: 'utf8' });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`initdb failed: ${(err.stderr ?? '').trim() || err.message}`, { cause: e });
    }
    const port = await freePort();
    const [pgCmd, pgArgs] = wrap(join(binDir, 'postgres'), [
      '-D', dataDir, '-p', String(port), '-k', sockDir,
      '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
    ]);
    const c = spawn(pgCmd, pgArgs, { cwd: base, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    const keep = (b: Buffer): void => {
      log = (log + b.toString('utf8')).slice(-8000);
    };
    c.stdout?.on('data', keep);
    c.stderr?.on('data', keep);
    const url = `postgres://${user}@127.0.0.1:${port}/postgres`;
    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    for (;;) {
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`postgres exited during start-up (${c.exitCode ?? c.signalCode}):\n${log}`);
      const probe = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
      try {
        await probe`select 1`;
        await probe.end({ timeout: 1 });
        break;
      } catch (e) {
        await probe.end({ timeout: 1 });
        if (Date.now() > deadline) throw new Error(`postgres did not accept connections on 127.0.0.1:${port} within the start timeout: ${e instanceof Error ? e.message : String(e)}\n${log}`, { cause: e });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return { url, port, dataDir, stop, [Symbol.asyncDispose]: stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

function postgresIds(): { uid: number; gid: number } {
  // node has no getpwnam; /etc/passwd is where runuser looks too.
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const fields = line?.split(':');
  if (fields === undefined || fields.length < 4) throw new Error(`running as ${userInfo().username}: PostgreSQL refuses to run as root, and there is no "postgres" OS user to run it as (create one, or run the tests as another user)`);
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}
