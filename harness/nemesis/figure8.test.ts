/**
 * The figure-8 nemesis on the correct store, in simulation: it must really steer the cluster
 * through the sequence (each step is recorded in the history as the fault's value) and the
 * store must come out valid. Against a store that commits earlier terms' entries by counting
 * replicas the same run loses acknowledged writes (measured in a scratch copy, never
 * committed: harness/BUGS-FOUND.md).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram, configFromOptions } from '../cli.ts';
import { runTest } from '../run.ts';
import { shapeCuts } from './figure8.ts';
import { parseKnobs, parseNemeses } from './index.ts';

const scratch = mkdtempSync(join(tmpdir(), 'figure8-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('figure-8 nemesis', () => {
  it('is named explicitly and never drawn by all', () => {
    expect(parseNemeses('figure-8').map((n) => n.name)).toEqual(['figure-8']);
    expect(parseNemeses('all').map((n) => n.name)).not.toContain('figure-8');
  });

  it('shapes: an isolated node is cut both ways from everyone; with a hub the others reach only the hub', () => {
    const nodes = ['n1', 'n2', 'n3', 'n4'];
    expect([...shapeCuts(nodes, { isolated: ['n1'], hub: null })].sort()).toEqual(['n1>n2', 'n1>n3', 'n1>n4', 'n2>n1', 'n3>n1', 'n4>n1']);
    const star = shapeCuts(nodes, { isolated: ['n4'], hub: 'n1' });
    for (const other of ['n2', 'n3']) {
      expect(star.has(`n1>${other}`)).toBe(false);
      expect(star.has(`${other}>n1`)).toBe(false);
    }
    expect(star.has('n2>n3') && star.has('n3>n2')).toBe(true);
    expect(['n1', 'n2', 'n3'].every((x) => star.has(`${x}>n4`) && star.has(`n4>${x}`))).toBe(true);
    expect(star.size).toBe(8);
  });

  it('--knob figure8LatencyMs sets its delay, within 1..10000 ms', () => {
    expect(parseKnobs(['figure8LatencyMs=150']).figure8LatencyMs).toBe(150);
    expect(() => parseKnobs(['figure8LatencyMs=0'])).toThrow(/figure8LatencyMs: expected a number in 1\.\.10000/);
  });

  it('steers the store through the whole sequence in simulation, and the correct store stays valid', async () => {
    const p = buildProgram();
    p.parse(
      ['--runtime', 'sim', '--results-dir', scratch, '--workload', 'set', '--nemesis', 'figure-8', '--system-option', 'max-append-bytes=256', '--time-limit', '12', '--nemesis-interval', '5', '--seed', '1'],
      { from: 'user' },
    );
    const out = await runTest(configFromOptions(p.opts()), { quiet: true, publish: false });
    expect(out.valid).toBe(true);
    const started = readFileSync(join(out.dir, 'history.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.includes('"f":"start-figure-8"') && l.includes('"type":"info"'))
      .map((l) => (JSON.parse(l) as { value: { steps: string[]; ended: string } }).value);
    expect(started.length).toBeGreaterThanOrEqual(1);
    const { steps, ended } = started[0]!;
    expect(ended).toBe('sequence complete');
    const a = /^isolated leader (n\d)/.exec(steps[0] ?? '')?.[1];
    const b = /^isolated new leader (n\d)/.exec(steps[1] ?? '')?.[1];
    expect(a).toBeDefined();
    expect(b).toBeDefined();
    expect(b).not.toBe(a);
    expect(steps[1]).toContain(`${a!} is the hub of the others`);
    expect(steps[2]).toMatch(new RegExp(`^${a!} leads again`));
    // The correct leader commits its old entries only together with its new term's entry,
    // so the second leader cannot win over the followers that hold it.
    expect(steps[3]).toMatch(new RegExp(`^isolated ${a!} right after its commit index moved`));
    expect(steps[4]).toBe(`${b!} did not lead`);
  }, 120_000);
});
