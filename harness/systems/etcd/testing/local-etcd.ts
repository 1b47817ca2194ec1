/**
 * A small etcd cluster of local processes on loopback (1 or 3 members, any binary), for the
 * etcd client's own tests; the harness itself runs etcd in containers.
 *
 * Each cluster lives in one directory under the local runtime's state root
 * (`<tmp>/jepsen-ts/<label>/`): the members' data directories, their logs, and `pids.json`.
 * Every member carries `JEPSEN_TS_RUN=<label>` in its environment, so `npm run jepsen --
 * --cleanup` finds and kills what a crashed test left (the local runtime's own mechanism),
 * and `listLabelledProcesses(label)` proves a test left nothing. `stop` SIGKILLs every member
 * and removes the directory; a cluster that does not become healthy within `readyTimeoutMs`
 * is stopped before the error (which carries the members' last log lines) is thrown.
 *
 * Ports: free loopback ports are found by binding port 0 (two per member), so parallel test
 * files never collide.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { LOCAL_STATE_ROOT } from '../../../runtime/local-runtime.ts';

export interface LocalMember {
  readonly name: string;
  /** Client URL, http://127.0.0.1:port. */
  readonly url: string;
  readonly peerUrl: string;
  readonly log: string;
  proc: ChildProcess;
}

export interface LocalEtcd {
  /** The `JEPSEN_TS_RUN` label every member carries (and its state directory's name). */
  readonly label: string;
  readonly urls: readonly string[];
  readonly members: readonly LocalMember[];
  /** SIGSTOP / SIGCONT / SIGKILL one member. */
  signal(i: number, sig: NodeJS.Signals): void;
  /** Start member `i` again after a SIGKILL (waiting up to 5 s for its exit) on the same ports and data directory; resolves when it is healthy. */
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalEtcdOptions {
  /** Members: 1 or 3 (default 3). */
  readonly size?: 1 | 3;
  /** Bound on the wait for every member's /health (default 30 s). */
  readonly readyTimeoutMs?: number;
  /** Extra etcd flags for every member. */
  readonly extraArgs?: readonly string[];
}

/** `n` distinct free TCP ports on 127.0.0.1 (bound to port 0, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

function tail(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function healthy(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return r.ok && ((await r.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

export async function startLocalEtcd(bin: string, options: LocalEtcdOptions = {}): Promise<LocalEtcd> {
  const size = options.size ?? 3;
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const label = `etcd-test-${randomBytes(4).toString('hex')}`;
  const dir = join(LOCAL_STATE_ROOT, label);
  mkdirSync(dir, { recursive: true });
  const ports = await freePorts(2 * size);
  const names = Array.from({ length: size }, (_, i) => `e${i + 1}`);
  const clientUrl = (i: number): string => `http://127.0.0.1:${ports[2 * i] as number}`;
  const peerUrl = (i: number): string => `http://127.0.0.1:${ports[2 * i + 1] as number}`;
  const cluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');

  const spawnMember = (i: number, state: 'new' | 'existing'): ChildProcess => {
    const name = names[i] as string;
    const out = openSync(join(dir, `${name}.log`), 'a');
    const proc = spawn(
      bin,
      [
        '--name', name,
        '--data-dir', join(dir, name),
        '--listen-client-urls', clientUrl(i),
        '--advertise-client-urls', clientUrl(i),
        '--listen-peer-urls', peerUrl(i),
        '--initial-advertise-peer-urls', peerUrl(i),
        '--initial-cluster', cluster,
        '--initial-cluster-state', state,
        '--initial-cluster-token', label,
        // Fail fast: elections within about half a second of a leader's loss.
        '--heartbeat-interval', '50',
        '--election-timeout', '500',
        ...(options.extraArgs ?? []),
      ],
      { stdio: ['ignore', out, out], env: { ...process.env, JEPSEN_TS_RUN: label } },
    );
    closeSync(out);
    return proc;
  };

  const members: LocalMember[] = names.map((name, i) => ({ name, url: clientUrl(i), peerUrl: peerUrl(i), log: join(dir, `${name}.log`), proc: spawnMember(i, 'new') }));
  const writePids = (): void => writeFileSync(join(dir, 'pids.json'), JSON.stringify(members.map((m) => m.proc.pid).filter((p) => p !== undefined)));
  writePids();

  const stop = async (): Promise<void> => {
    await Promise.all(
      members.map(
        (m) =>
          new Promise<void>((resolve) => {
            if (m.proc.exitCode !== null || m.proc.signalCode !== null) return resolve();
            m.proc.once('exit', () => resolve());
            m.proc.kill('SIGCONT');
            m.proc.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };

  const waitHealthy = async (which: readonly LocalMember[]): Promise<void> => {
    const deadline = Date.now() + readyTimeoutMs;
    for (const m of which) {
      while (!(await healthy(m.url))) {
        if (m.proc.exitCode !== null) throw new Error(`etcd member ${m.name} (${bin}) exited with status ${m.proc.exitCode}:\n${tail(m.log, 15)}`);
        if (Date.now() > deadline) throw new Error(`etcd member ${m.name} at ${m.url} not healthy within ${readyTimeoutMs} ms:\n${tail(m.log, 15)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  try {
    await waitHealthy(members);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    label,
    urls: members.map((m) => m.url),
    members,
    signal: (i, sig) => {
      members[i]?.proc.kill(sig);
    },
    async restart(i) {
      const m = members[i];
      if (m === undefined) throw new Error(`no member ${i}`);
      // A member just SIGKILLed may not have been reaped yet: wait (bounded) for its exit.
      const proc = m.proc;
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => resolve(false), 5000);
          proc.once('exit', () => {
            clearTimeout(t);
            resolve(true);
          });
        });
        if (!exited) throw new Error(`member ${m.name} is still running (restart is for a killed member)`);
      }
      m.proc = spawnMember(i, 'existing');
      writePids();
      await waitHealthy([m]);
    },
    stop,
  };
}
