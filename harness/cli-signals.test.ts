/**
 * Ctrl-C mid-run: the command stops, tears the cluster down and exits 130, leaving no
 * container, network or volume with the run's label.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './run.ts';
import { listLabelled } from './runtime/docker-runtime.ts';
import { buildPrivateBundle } from './testing/bundle.ts';
import { RUN_LABEL } from './runtime/runtime.ts';

describe('jepsen command on SIGINT', () => {
  it('exits 130 and leaves nothing behind', async () => {
    const bundle = buildPrivateBundle('cli-signals');
    const results = mkdtempSync(join(tmpdir(), 'jepsen-sigint-'));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'harness/cli.ts', '--nemesis', 'kill', '--nodes', '3', '--time-limit', '60', '--nemesis-interval', '2', '--results-dir', results, '--bundle', bundle],
      { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const ready = new Promise<string>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        const id = /run (\S+):/.exec(err)?.[1];
        if (id !== undefined && err.includes('cluster ready')) resolve(id);
      });
      void exited.then(() => reject(new Error(`exited before the cluster was ready:\n${err}`)));
    });
    const runId = await ready;
    await new Promise((r) => setTimeout(r, 3000)); // into the main phase, a fault under way
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    rmSync(bundle, { force: true });
    expect(await listLabelled(new Dockerode(), `${RUN_LABEL}=${runId}`)).toEqual([]);
  });
});
