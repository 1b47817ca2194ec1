/**
 * A small etcd cluster of local processes on loopback, for the etcd client's own tests (the
 * harness runs etcd in containers). Each member has a temporary data directory; `stop`
 * SIGKILLs every member and removes the directories. Processes carry `JEPSEN_TS_RUN` so
 * `npm run jepsen -- --cleanup` never misses one a crashed test left.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LocalEtcd {
  readonly urls: readonly string[];
  readonly members: readonly { readonly name: string; readonly url: string; proc: ChildProcess }[];
  /** SIGSTOP / SIGCONT / SIGKILL one member. */
  signal(i: number, sig: NodeJS.Signals): void;
  stop(): Promise<void>;
}

export async function startLocalEtcd(bin: string, size: number, basePort: number): Promise<LocalEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'jepsen-etcd-'));
  const names = Array.from({ length: size }, (_, i) => `e${i + 1}`);
  const client = (i: number): number => basePort + 2 * i;
  const peer = (i: number): number => basePort + 2 * i + 1;
  const cluster = names.map((n, i) => `${n}=http://127.0.0.1:${peer(i)}`).join(',');
  const members = names.map((name, i) => {
    const url = `http://127.0.0.1:${client(i)}`;
    const proc = spawn(
      bin,
      [
        '--name', name,
        '--data-dir', join(dir, name),
        '--listen-client-urls', url,
        '--advertise-client-urls', url,
        '--listen-peer-urls', `http://127.0.0.1:${peer(i)}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${peer(i)}`,
        '--initial-cluster', cluster,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', `t${basePort}`,
        '--heartbeat-interval', '50',
        '--election-timeout', '500',
      ],
      { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, JEPSEN_TS_RUN: `etcd-test-${basePort}`, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch } },
    );
    return { name, url, proc };
  });
  const urls = members.map((m) => m.url);
  // Ready when every member answers /health.
  const deadline = Date.now() + 30_000;
  for (const url of urls) {
    for (;;) {
      try {
        const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
        if (r.ok && ((await r.json()) as { health?: string }).health === 'true') break;
      } catch {
        // not yet
      }
      if (Date.now() > deadline) throw new Error(`etcd at ${url} not healthy within 30 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    urls,
    members,
    signal: (i, sig) => members[i]?.proc.kill(sig),
    async stop() {
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
    },
  };
}
