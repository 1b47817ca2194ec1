/**
 * A watchdog for one run, as testcontainers' Ryuk is for its containers: a detached process
 * that polls the harness's pid and, once the harness is gone (SIGKILL, a crash, a wrapper
 * that killed it), removes everything labelled with the run's id. The harness stops it after
 * its own teardown. Usage: node --import tsx harness/reaper.ts <runId> <runtime> <pid>
 */
import { spawn } from 'node:child_process';
import { makeRuntime } from './runtime/index.ts';
import type { RuntimeName } from './runtime/runtime.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Start the watchdog for `runId`; returns a function that stops it. */
export function startReaper(repoRoot: string, runId: string, runtime: RuntimeName): () => void {
  const child = spawn(process.execPath, ['--import', 'tsx', 'harness/reaper.ts', runId, runtime, String(process.pid)], {
    cwd: repoRoot,
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, JEPSEN_TS_REAPER: runId },
  });
  child.unref();
  return () => {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
}

async function watch(runId: string, runtime: RuntimeName, pid: number): Promise<void> {
  process.on('SIGTERM', () => process.exit(0));
  while (alive(pid)) await new Promise((r) => setTimeout(r, 500));
  await makeRuntime(runtime).cleanupLeftovers(runId);
}

if (process.argv[1]?.endsWith('harness/reaper.ts') === true) {
  const [runId, runtime, pid] = process.argv.slice(2);
  if (runId === undefined || (runtime !== 'docker' && runtime !== 'local') || pid === undefined) {
    process.stderr.write('usage: reaper.ts <runId> <docker|local> <pid>\n');
    process.exit(64);
  }
  watch(runId, runtime, Number(pid)).then(
    () => process.exit(0),
    () => process.exit(70),
  );
}
