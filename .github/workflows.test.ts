/**
 * The repository's workflows are valid (strict YAML, then the schema in workflow.schema.json)
 * and do what the project relies on; and the validator fails malformed workflows, so a
 * passing run means something.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkWorkflowText, formatProblem, WORKFLOW_DIR, workflowFiles } from './validate-workflows.ts';

interface Step {
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  on: Record<string, unknown>;
  jobs: Record<string, { steps: Step[] }>;
}

const load = (name: string): Workflow => parse(readFileSync(join(WORKFLOW_DIR, name), 'utf8')) as Workflow;
const steps = (w: Workflow): Step[] => Object.values(w.jobs).flatMap((j) => j.steps);

describe('.github/workflows', () => {
  it('every workflow is valid against the schema', () => {
    const files = workflowFiles();
    expect(files.map((f) => f.slice(WORKFLOW_DIR.length + 1))).toEqual(['ci.yml', 'nightly.yml']);
    for (const f of files) expect(checkWorkflowText(readFileSync(f, 'utf8'), f).map(formatProblem)).toEqual([]);
  });

  it('ci: tests on every push with Node 20 on a prepared host, through .ci/run', () => {
    const ci = load('ci.yml');
    expect(Object.keys(ci.on)).toContain('push');
    const s = steps(ci);
    expect(s[0]?.uses).toMatch(/^actions\/checkout@v\d+$/);
    expect(s.find((x) => x.uses?.startsWith('actions/setup-node@') === true)?.with?.['node-version']).toBe(20);
    const runs = s.map((x) => x.run).filter((r): r is string => r !== undefined);
    expect(runs).toEqual(['sudo bash scripts/setup-host.sh', 'bash .ci/run']);
  });

  it('nightly: scheduled and on demand, runs jepsen:nightly, uploads results/ even on failure', () => {
    const nightly = load('nightly.yml');
    expect(Object.keys(nightly.on).sort()).toEqual(['schedule', 'workflow_dispatch']);
    const s = steps(nightly);
    const runs = s.map((x) => x.run).filter((r): r is string => r !== undefined);
    expect(runs).toEqual(['sudo bash scripts/setup-host.sh', 'npm ci --no-audit --no-fund', 'npm run jepsen:nightly']);
    const upload = s.find((x) => x.uses?.startsWith('actions/upload-artifact@') === true);
    expect(upload).toMatchObject({ if: 'always()', with: { path: 'results/' } });
    expect(s.indexOf(upload as Step)).toBe(s.length - 1);
  });
});

describe('the validator fails malformed workflows', () => {
  const good = `name: t
on:
  push:
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: bash .ci/run
`;
  const problems = (text: string): string[] => checkWorkflowText(text, 'w.yml').map(formatProblem);

  it('accepts the well-formed baseline (so the cases below fail for their own reason)', () => {
    expect(problems(good)).toEqual([]);
  });

  it('a misspelt key, a missing runs-on, an unknown event', () => {
    expect(problems(good.replace('runs-on', 'runs_on'))).toContain('w.yml: /jobs/test: unknown key "runs_on"');
    expect(problems(good.replace('    runs-on: ubuntu-latest\n', ''))).toContain('w.yml: /jobs/test: missing key "runs-on"');
    expect(problems(good.replace('  push:', '  pushh:')).join('\n')).toMatch(/w\.yml: \/on: .*must be equal to one of the allowed values/);
  });

  it('a step with both uses and run, with: on a run step, a uses without a ref', () => {
    expect(problems(good.replace('      - run: bash .ci/run', '      - run: bash .ci/run\n        uses: actions/checkout@v4')).join('\n')).toMatch(/w\.yml: \/jobs\/test\/steps\/1: must match exactly one schema in oneOf/);
    expect(problems(good.replace('      - run: bash .ci/run', '      - run: bash .ci/run\n        with:\n          x: 1'))).toContain('w.yml: /jobs/test/steps/1: "with" needs "uses" beside it');
    expect(problems(good.replace('actions/checkout@v4', 'actions/checkout')).join('\n')).toMatch(/w\.yml: \/jobs\/test\/steps\/0\/uses: must match pattern/);
  });

  it('a cron with four fields, steps that are not a list, no jobs', () => {
    expect(problems(good.replace('  push:', "  schedule:\n    - cron: '0 2 * *'")).join('\n')).toMatch(/\/on\/schedule\/0\/cron: must match pattern/);
    expect(problems(good.replace(/ {4}steps:[\s\S]*/, '    steps: bash .ci/run\n')).join('\n')).toMatch(/\/jobs\/test\/steps: must be array/);
    expect(problems('on: push\njobs: {}\n')).toContain('w.yml: /jobs: must NOT have fewer than 1 properties');
  });

  it('YAML that is not YAML, or has a duplicate key, names the line', () => {
    expect(problems(`${good}    runs-on: ubuntu-22.04\n`)).toEqual([expect.stringMatching(/^w\.yml: line 10: Map keys must be unique/) as string]);
    expect(problems('on: [push\njobs:\n')[0]).toMatch(/^w\.yml: line \d+: /);
  });
});
