/**
 * A real short run of the append workload: docker runtime, 3 store nodes behind Toxiproxy,
 * `--client retrying` (StoreClient with its retries and exactly-once ids, over the run's
 * transport), a kill every few seconds. The run must be valid, its history must hold committed
 * appends and non-empty reads (so the checker had something to judge), the final reads must
 * cover every key the run used, and nothing with the run's label may be left behind.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Op } from '../checkers/history/types.ts';
import { runTest } from '../harness/run.ts';
import { listLabelled } from '../harness/runtime/docker-runtime.ts';
import { RUN_LABEL } from '../harness/runtime/runtime.ts';
import { buildPrivateBundle } from '../harness/testing/bundle.ts';
import type { MicroOp } from './client.ts';

describe('append workload on docker', () => {
  let bundle: string | undefined;
  let resultsDir: string | undefined;
  beforeAll(() => {
    bundle = buildPrivateBundle('append-run');
    resultsDir = mkdtempSync(join(tmpdir(), 'jepsen-append-'));
  });
  afterAll(() => {
    if (bundle !== undefined) rmSync(bundle, { force: true });
    if (resultsDir !== undefined) rmSync(resultsDir, { recursive: true, force: true });
  });

  it('--client retrying under kills: valid, with committed appends and reads, final reads of every key, nothing left', async () => {
    const out = await runTest(
      {
        workload: 'append',
        nemesis: 'kill',
        clientMode: 'retrying',
        nodes: 3,
        concurrency: 5,
        timeLimitS: 8,
        rate: 50,
        seed: 5,
        runtime: 'docker',
        resultsDir: resultsDir!,
        unsafe: [],
        opTimeoutMs: 1000,
        nemesisIntervalS: 3,
        recoveryS: 2,
        snapshotEntries: 50,
        logLevel: 'info',
        systemOptions: { bundle: bundle! },
      },
      { quiet: true },
    );
    const results = JSON.parse(readFileSync(join(out.dir, 'results.json'), 'utf8')) as { checkers: Record<string, { valid: unknown; summary: string }> };
    expect(results.checkers['append']?.valid, results.checkers['append']?.summary).toBe(true);
    expect(out.valid).toBe(true);
    const run = JSON.parse(readFileSync(join(out.dir, 'run.json'), 'utf8')) as { config: { clientMode: string } };
    expect(run.config.clientMode).toBe('retrying');

    const history = readFileSync(join(out.dir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Op);
    const oks = history.filter((o) => o.type === 'ok' && o.f === 'txn').map((o) => o.value as MicroOp[]);
    expect(oks.flat().filter((m) => m[0] === 'append').length).toBeGreaterThan(20);
    expect(oks.flat().some((m) => m[0] === 'r' && (m[2]?.length ?? 0) > 0)).toBe(true);
    expect(history.some((o) => o.f === 'start-kill')).toBe(true);
    const appendedKeys = new Set(history.filter((o) => o.type === 'invoke' && o.f === 'txn').flatMap((o) => (o.value as MicroOp[]).filter((m) => m[0] === 'append').map((m) => m[1])));
    const finalKeys = new Set(history.filter((o) => o.type === 'ok' && typeof o.process === 'number' && o.process >= 1_000_000).flatMap((o) => (o.value as MicroOp[]).map((m) => m[1])));
    for (const k of appendedKeys) expect(finalKeys.has(k), `final reads miss ${k}`).toBe(true);

    expect(await listLabelled(new Dockerode(), `${RUN_LABEL}=${out.runId}`)).toEqual([]);
  });
});
