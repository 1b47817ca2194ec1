import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskStorage } from './disk-storage.ts';
import { captureLogger, tempDir } from './testing/helpers.ts';

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testing', 'fault-child.ts');
const dirs: { cleanup(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.cleanup();
});

/** Run the child until it prints READY, then SIGKILL it (no exit handlers, no flush). */
async function runAndKill(dir: string, scenario: string): Promise<string> {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, dir, scenario], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => proc.on('exit', (code, signal) => resolve(signal ?? code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`child ${scenario} never became ready; stderr: ${err}`));
    }, 60_000);
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.on('exit', () => {
      clearTimeout(timer);
      if (!out.includes('READY')) reject(new Error(`child ${scenario} exited early; stderr: ${err}`));
    });
  });
  proc.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  return out;
}

async function lastIndexAfterCrash(scenario: string): Promise<number> {
  const d = tempDir('fault-mode-');
  dirs.push(d);
  await runAndKill(d.dir, scenario);
  const s = await DiskStorage.open(d.dir, { logger: captureLogger() });
  try {
    return s.lastIndex();
  } finally {
    await s.close();
  }
}

describe('storage fault mode (kill -9 acts like power loss)', () => {
  it('keeps exactly the synced entries when killed with unsynced appends buffered', async () => {
    expect(await lastIndexAfterCrash('synced-then-buffered')).toBe(20);
  });

  it('with fsync off, loses acknowledged writes that only a lazy flush would have persisted', async () => {
    expect(await lastIndexAfterCrash('no-fsync-fault')).toBe(0);
  });

  it('without fault mode, fsync off goes unnoticed by kill -9 (the page cache survives): why fault mode exists', async () => {
    expect(await lastIndexAfterCrash('no-fsync-plain')).toBe(20);
  });

  it('with fsync off, keeps what the lazy flush wrote and loses what came after', async () => {
    expect(await lastIndexAfterCrash('no-fsync-lazy-flush')).toBe(10);
  });
});
