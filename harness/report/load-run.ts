/**
 * Reads a finished run directory (`results/<workload>-<nemesis>/<stamp>/`, see harness/README.md)
 * into memory for the report and the results database. Every problem is a `RunDirError`
 * naming the file and what is wrong with it, so a person knows which file to look at.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CheckResult, Validity } from '../../checkers/checker.ts';
import { parseJsonLines } from '../../checkers/history/read.ts';
import type { NodeEvent, Op } from '../../checkers/history/types.ts';

export class RunDirError extends Error {
  readonly file: string;

  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'RunDirError';
    this.file = file;
  }
}

/** The config fields of run.json the report and database read; the rest is shown as-is. */
export interface RunConfigView {
  readonly workload?: string;
  readonly nemesis?: string;
  readonly nodes?: number;
  readonly concurrency?: number;
  readonly timeLimitS?: number;
  readonly rate?: number;
  readonly seed?: number;
  readonly runtime?: string;
  readonly unsafe?: readonly string[];
  readonly opTimeoutMs?: number;
  readonly nemesisIntervalS?: number;
  readonly recoveryS?: number;
  readonly [other: string]: unknown;
}

export interface RunJson {
  readonly runId: string;
  readonly config: RunConfigView;
  readonly seed?: number;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly workload?: { readonly name?: string; readonly description?: string };
  readonly nemeses?: readonly string[];
  readonly versions?: { readonly harness?: string; readonly node?: string; readonly git?: string | null; readonly store?: string };
  readonly command?: string;
  readonly valid?: Validity;
}

export interface ResultsJson {
  readonly valid: Validity;
  readonly runId?: string;
  readonly counts?: { readonly ok: number; readonly fail: number; readonly info: number };
  readonly checkers: Readonly<Record<string, CheckResult>>;
}

export interface LoadedRun {
  /** Absolute path of the run directory. */
  readonly dir: string;
  readonly run: RunJson;
  readonly results: ResultsJson;
  readonly history: readonly Op[];
  readonly events: readonly NodeEvent[];
}

export interface LoadOptions {
  /** Skip reading history.jsonl and events.jsonl (the database needs only the JSON files and perf). */
  readonly withHistory?: boolean;
}

export function loadRun(runDir: string, options: LoadOptions = {}): LoadedRun {
  const given = resolve(runDir);
  if (!existsSync(given)) throw new RunDirError(given, 'no such run directory');
  // results/latest is a symlink: name the run by where it really is.
  const dir = realpathSync(given);
  if (!statSync(dir).isDirectory()) throw new RunDirError(dir, 'not a directory (expected a run directory such as results/register-partition/20260101T000000Z)');
  const run = readRunJson(join(dir, 'run.json'));
  const results = readResultsJson(join(dir, 'results.json'));
  const withHistory = options.withHistory !== false;
  const history = withHistory ? readHistory(join(dir, 'history.jsonl')) : [];
  const events = withHistory ? readEvents(join(dir, 'events.jsonl')) : [];
  return { dir, run, results, history, events };
}

function readJson(file: string, what: string): Record<string, unknown> {
  if (!existsSync(file)) throw new RunDirError(file, `missing (${what}); is this a finished run directory?`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RunDirError(file, `not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RunDirError(file, 'expected a JSON object');
  return parsed as Record<string, unknown>;
}

function readRunJson(file: string): RunJson {
  const o = readJson(file, 'the run configuration the harness writes first');
  if (typeof o.runId !== 'string') throw new RunDirError(file, 'field "runId" must be a string');
  if (typeof o.startedAt !== 'string' || Number.isNaN(Date.parse(o.startedAt))) throw new RunDirError(file, 'field "startedAt" must be an ISO date string');
  if (typeof o.config !== 'object' || o.config === null || Array.isArray(o.config)) throw new RunDirError(file, 'field "config" must be an object');
  return o as unknown as RunJson;
}

function isValidity(v: unknown): v is Validity {
  return v === true || v === false || v === 'unknown';
}

function readResultsJson(file: string): ResultsJson {
  const o = readJson(file, 'the verdicts, written when checking finishes');
  if (!isValidity(o.valid)) throw new RunDirError(file, `field "valid" must be true, false or "unknown", got ${JSON.stringify(o.valid)}`);
  const checkers = o.checkers;
  if (typeof checkers !== 'object' || checkers === null || Array.isArray(checkers)) throw new RunDirError(file, 'field "checkers" must be an object of checker results');
  for (const [name, r] of Object.entries(checkers as Record<string, unknown>)) {
    if (typeof r !== 'object' || r === null) throw new RunDirError(file, `checkers.${name} must be an object`);
    const c = r as Record<string, unknown>;
    if (!isValidity(c.valid)) throw new RunDirError(file, `checkers.${name}.valid must be true, false or "unknown", got ${JSON.stringify(c.valid)}`);
    if (typeof c.summary !== 'string') throw new RunDirError(file, `checkers.${name}.summary must be a string`);
  }
  return o as unknown as ResultsJson;
}

function readHistory(file: string): Op[] {
  if (!existsSync(file)) throw new RunDirError(file, 'missing (the recorded history)');
  // parseJsonLines throws a HistoryError naming file:line already.
  return parseJsonLines(readFileSync(file, 'utf8'), file);
}

/** events.jsonl is optional (a run that died before sampling has none); a bad line is an error. */
function readEvents(file: string): NodeEvent[] {
  if (!existsSync(file)) return [];
  const out: NodeEvent[] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let e: unknown;
    try {
      e = JSON.parse(line);
    } catch (err) {
      // A torn final line (the harness killed mid-append) is skipped, as the harness itself does.
      if (i >= lines.length - 2) return;
      throw new RunDirError(`${file}:${i + 1}`, `not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (typeof e !== 'object' || e === null) throw new RunDirError(`${file}:${i + 1}`, 'expected a JSON object');
    const k = (e as { kind?: unknown }).kind;
    if (k !== 'role' && k !== 'status' && k !== 'digest' && k !== 'kv-hash') throw new RunDirError(`${file}:${i + 1}`, `unknown event kind ${JSON.stringify(k)} (expected role, status, digest or kv-hash)`);
    if (typeof (e as { time?: unknown }).time !== 'number') throw new RunDirError(`${file}:${i + 1}`, 'field "time" must be a number (ns since the test started)');
    out.push(e as NodeEvent);
  });
  return out;
}
