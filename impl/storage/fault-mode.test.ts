import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskStorage } from './disk-storage.ts';
import { captureLogger, tempDir, text } from './testing/helpers.ts';
import type { Index } from '../raft/types.ts';

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

/** Run the endless writer, kill it `afterMs` after READY, return the highest acknowledged index. */
async function runWriterAndKill(dir: string, afterMs: number): Promise<{ acked: number }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, dir, 'writer'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => proc.on('exit', (code, signal) => resolve(signal ?? code)));
  const deadline = Date.now() + 60_000;
  while (!out.includes('READY')) {
    if (Date.now() > deadline || proc.exitCode !== null) {
      proc.kill('SIGKILL');
      throw new Error(`writer never became ready; stderr: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  await new Promise((r) => setTimeout(r, afterMs));
  proc.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  // Only complete lines count: an ACK is a promise the entry is durable.
  const lines = out.slice(0, out.lastIndexOf('\n') + 1).split('\n');
  let acked = 0;
  for (const l of lines) if (l.startsWith('ACK ')) acked = Math.max(acked, Number(l.slice(4)));
  return { acked };
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

  it('loses no acknowledged entry across repeated kill -9 during pipelined writes, snapshots and compaction', async () => {
    const d = tempDir('fault-soak-');
    dirs.push(d);
    const kills = Number(process.env.STORAGE_SOAK_KILLS ?? 3);
    let maxAcked = 0;
    for (let k = 0; k < kills; k++) {
      const { acked } = await runWriterAndKill(d.dir, 150 + ((k * 137) % 500));
      maxAcked = Math.max(maxAcked, acked);
      const logger = captureLogger();
      const s = await DiskStorage.open(d.dir, { logger });
      try {
        expect(s.lastIndex()).toBeGreaterThanOrEqual(maxAcked);
        const first = s.firstIndex();
        const got = s.entries(first, (s.lastIndex() + 1) as Index, Infinity);
        got.forEach((e, i) => expect(text(e)).toBe(`v${first + i}-${'x'.repeat((first + i) % 300)}`));
        if (s.snapshot().metadata.index > 0) expect(new TextDecoder().decode(s.snapshot().data)).toBe(`snap@${s.snapshot().metadata.index}`);
        expect(s.initialState().hardState.commit).toBeLessThanOrEqual(s.lastIndex());
      } finally {
        await s.close();
      }
    }
    expect(maxAcked).toBeGreaterThan(0);
  });

  it('with fsync off, keeps what the lazy flush wrote and loses what came after', async () => {
    expect(await lastIndexAfterCrash('no-fsync-lazy-flush')).toBe(10);
  });
});
