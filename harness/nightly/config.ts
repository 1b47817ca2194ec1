/**
 * The nightly matrix: a YAML file of systems × workloads × nemeses, with run options that are
 * exactly the `jepsen` command's flags (spelled without the dashes). Every entry is checked
 * before any run starts, through the same parser and the same capability checks as the
 * command line, so a malformed or unknown entry is refused (exit 64) with the file, the line
 * and the reason, never discovered an hour into the night.
 *
 *   defaults: { nodes: 3, time-limit: 30 }
 *   regression-threshold: 0.2
 *   matrix:
 *     - systems: [raftstore]
 *       workloads: [register, set]
 *       nemeses: [partition, kill]
 *       options: { concurrency: 20 }
 *     # A known bug the harness must keep catching (etcd's robustness suite has the same kind
 *     # of target): seeds seed, seed+1, … run until one is invalid, at most `attempts` of them.
 *     - systems: [etcd]
 *       workloads: [set]
 *       nemeses: [kill]
 *       expect: invalid
 *       attempts: 8
 *       options: { etcd-version: v3.5.2 }
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Node as YamlNode, YAMLMap } from 'yaml';
import { buildProgram, configFromOptions } from '../cli.ts';
import { UsageError } from '../errors.ts';
import type { RunConfig } from '../run.ts';

/** One run of the matrix. */
export interface NightlyRun {
  readonly system: string;
  readonly workload: string;
  readonly nemesis: string;
  readonly config: RunConfig;
  /** Where in the file it came from ("nightly.yml:12"). */
  readonly where: string;
  /**
   * 'valid': the usual run. 'invalid': a known bug's reproduction — seeds `config.seed`,
   * `config.seed + 1`, … run until one comes out invalid, at most `attempts`; not reproducing
   * it means the harness lost the power to find it.
   */
  readonly expect: 'valid' | 'invalid';
  readonly attempts: number;
  /**
   * A known bug's signature: an attempt reproduces it only when a checker that said invalid
   * matches this (on "checker: summary"), not when the run is invalid for another reason (a
   * release with two bugs).
   */
  readonly finding?: RegExp;
}

export interface NightlyPlan {
  readonly file: string;
  readonly runs: readonly NightlyRun[];
  /** Relative change of throughput or latency that counts as a regression. */
  readonly regressionThreshold: number;
}

export class ConfigError extends UsageError {
  constructor(
    readonly file: string,
    readonly line: number | null,
    reason: string,
  ) {
    super(`${file}${line !== null ? `:${line}` : ''}: ${reason}`);
  }
}

const TOP_KEYS = ['defaults', 'matrix', 'regression-threshold'];
const ENTRY_KEYS = ['systems', 'workloads', 'nemeses', 'expect', 'attempts', 'finding', 'options'];
const MAX_ATTEMPTS = 100;
/** Flags that make no sense per matrix entry (the nightly owns them). */
const NOT_PER_RUN = new Set(['cleanup', 'results-dir', 'quiet', 'help']);

/** Parse and validate a nightly file; `resultsDir` is where its runs go. */
export function loadNightlyPlan(file: string, resultsDir: string): NightlyPlan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(file, null, `cannot read: ${(e as Error).message}`);
  }
  return parseNightlyPlan(text, file, resultsDir);
}

export function parseNightlyPlan(text: string, file: string, resultsDir: string): NightlyPlan {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const lineOf = (node: YamlNode | null | undefined): number | null => (node?.range !== undefined && node.range !== null ? lines.linePos(node.range[0]).line : null);
  const fail = (node: YamlNode | null | undefined, reason: string): never => {
    throw new ConfigError(file, lineOf(node), reason);
  };
  const firstError = doc.errors[0];
  if (firstError !== undefined) throw new ConfigError(file, lines.linePos(firstError.pos[0]).line, `not valid YAML: ${firstError.message.split('\n')[0] ?? ''}`);
  const root = doc.contents;
  if (!isMap(root)) fail(root, 'expected a mapping with `matrix:` (and optionally `defaults:`, `regression-threshold:`)');
  const top = root as YAMLMap;
  for (const item of top.items) {
    const k = isScalar(item.key) ? String(item.key.value) : '';
    if (!TOP_KEYS.includes(k)) fail(item.key as YamlNode, `unknown key "${k}" (known: ${TOP_KEYS.join(', ')})`);
  }

  const defaultsNode = top.get('defaults', true) as YamlNode | undefined;
  const defaults = defaultsNode === undefined ? new Map<string, { value: unknown; node: YamlNode }>() : options(defaultsNode, 'defaults', fail);

  const thresholdNode = top.get('regression-threshold', true) as YamlNode | undefined;
  let regressionThreshold = 0.2;
  if (thresholdNode !== undefined) {
    const v = isScalar(thresholdNode) ? thresholdNode.value : undefined;
    if (typeof v !== 'number' || !(v > 0 && v < 10)) fail(thresholdNode, `regression-threshold: expected a number in (0, 10), got ${JSON.stringify(v)}`);
    regressionThreshold = v as number;
  }

  const matrix = top.get('matrix', true) as YamlNode | undefined;
  if (matrix === undefined) fail(root, 'no `matrix:`: nothing to run');
  if (!isSeq(matrix) || matrix.items.length === 0) fail(matrix, '`matrix:` must be a non-empty list of entries');

  const runs: NightlyRun[] = [];
  for (const entry of (matrix as { items: YamlNode[] }).items) {
    if (!isMap(entry)) fail(entry, 'a matrix entry must be a mapping with systems, workloads, nemeses (and optionally options)');
    const m = entry as YAMLMap;
    for (const item of m.items) {
      const k = isScalar(item.key) ? String(item.key.value) : '';
      if (!ENTRY_KEYS.includes(k)) fail(item.key as YamlNode, `unknown key "${k}" in a matrix entry (known: ${ENTRY_KEYS.join(', ')})`);
    }
    const list = (key: string): { values: string[]; node: YamlNode } => {
      const node = m.get(key, true) as YamlNode | undefined;
      if (node === undefined) return fail(entry, `a matrix entry needs \`${key}:\``);
      const values = isSeq(node) ? node.items.map((x) => (isScalar(x) ? String(x.value) : fail(x as YamlNode, `${key}: expected names`))) : isScalar(node) ? [String(node.value)] : fail(node, `${key}: expected a name or a list of names`);
      if (values.length === 0) fail(node, `${key}: empty list`);
      return { values, node };
    };
    const expectNode = m.get('expect', true) as YamlNode | undefined;
    const expectValue = expectNode === undefined ? 'valid' : isScalar(expectNode) ? expectNode.value : undefined;
    if (expectValue !== 'valid' && expectValue !== 'invalid') fail(expectNode, `expect: "valid" or "invalid" (a known bug to reproduce), got ${JSON.stringify(expectValue)}`);
    const expect = expectValue as 'valid' | 'invalid';
    const attemptsNode = m.get('attempts', true) as YamlNode | undefined;
    let attempts = 1;
    if (attemptsNode !== undefined) {
      const v = isScalar(attemptsNode) ? attemptsNode.value : undefined;
      if (expect !== 'invalid') fail(attemptsNode, 'attempts: only with `expect: invalid` (seeds run until one reproduces the bug)');
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_ATTEMPTS) fail(attemptsNode, `attempts: expected an integer from 1 to ${MAX_ATTEMPTS}, got ${JSON.stringify(v)}`);
      attempts = v as number;
    }
    const findingNode = m.get('finding', true) as YamlNode | undefined;
    let finding: RegExp | undefined;
    if (findingNode !== undefined) {
      const v = isScalar(findingNode) ? findingNode.value : undefined;
      if (expect !== 'invalid') fail(findingNode, 'finding: only with `expect: invalid` (what a reproduction of the known bug says)');
      if (typeof v !== 'string' || v === '') fail(findingNode, `finding: expected a regular expression (matched against "checker: summary"), got ${JSON.stringify(v)}`);
      try {
        finding = new RegExp(v as string);
      } catch (e) {
        fail(findingNode, `finding: not a regular expression: ${(e as Error).message}`);
      }
    }
    const systems = list('systems');
    const workloads = list('workloads');
    const nemeses = list('nemeses');
    const optionsNode = m.get('options', true) as YamlNode | undefined;
    const own = optionsNode === undefined ? new Map<string, { value: unknown; node: YamlNode }>() : options(optionsNode, 'options', fail);
    const merged = new Map([...defaults, ...own]);
    for (const system of systems.values) {
      for (const workload of workloads.values) {
        for (const nemesis of nemeses.values) {
          const argv = ['--system', system, '--workload', workload, '--nemesis', nemesis, '--results-dir', resultsDir];
          for (const [k, { value }] of merged) {
            if (value === true) argv.push(`--${k}`);
            else if (value === false) {
              if (k === 'build') argv.push('--no-build');
            } else argv.push(`--${k}`, String(value));
          }
          let config: RunConfig;
          try {
            const program = buildProgram();
            program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
            program.parse(argv, { from: 'user' });
            config = configFromOptions(program.opts());
          } catch (e) {
            // Name the line of the option at fault when the message names a flag we set there.
            const msg = (e as Error).message.replace(/^error: /, '');
            const flag = /--([a-z-]+)/.exec(msg)?.[1];
            const at = flag === undefined ? undefined : flag === 'system' ? systems.node : flag === 'workload' ? workloads.node : flag === 'nemesis' ? nemeses.node : merged.get(flag)?.node;
            return fail(at ?? entry, `${system} × ${workload} × ${nemesis}: ${msg}`);
          }
          runs.push({ system, workload, nemesis, config, where: `${file}:${lineOf(entry) ?? '?'}`, expect, attempts, ...(finding !== undefined ? { finding } : {}) });
        }
      }
    }
  }
  return { file, runs, regressionThreshold };
}

function options(node: YamlNode, what: string, fail: (node: YamlNode | null | undefined, reason: string) => never): Map<string, { value: unknown; node: YamlNode }> {
  if (!isMap(node)) return fail(node, `${what}: expected a mapping of jepsen flags without their dashes (e.g. time-limit: 30)`);
  const known = new Set(buildProgram().options.map((o) => o.long?.replace(/^--(no-)?/, '') ?? ''));
  const out = new Map<string, { value: unknown; node: YamlNode }>();
  for (const item of (node as YAMLMap).items) {
    const key = isScalar(item.key) ? String(item.key.value) : '';
    if (!known.has(key) || NOT_PER_RUN.has(key)) fail(item.key as YamlNode, `${what}: unknown option "${key}" (options are the jepsen command's flags without dashes: ${[...known].filter((k) => !NOT_PER_RUN.has(k)).join(', ')})`);
    const v = isScalar(item.value) ? item.value.value : undefined;
    if (v === undefined || v === null || (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')) fail((item.value as YamlNode | null) ?? (item.key as YamlNode), `${what}.${key}: expected a number, a string or true/false`);
    out.set(key, { value: v, node: (item.value as YamlNode | null) ?? (item.key as YamlNode) });
  }
  return out;
}
