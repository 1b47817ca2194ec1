/**
 * `npm run check -- [--model M] [--init V] [--nil-read empty|wildcard] [--json] [--html FILE] [--budget-s N] [--all] FILE...`
 * `npm run check -- --model list-append [--consistency strict-serializable|serializable] FILE...` (Elle's list-append analysis: append/)
 *
 * Checks each history file (JSON Lines or Jepsen EDN, detected by content) for
 * linearizability. Exit status: 0 all valid, 1 any invalid, 2 any unknown and none
 * invalid, 64 usage or input errors (which win over the rest: a bad file is not a verdict).
 */
import { closeSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { AppendInputError, checkAppend, CONSISTENCIES, type Consistency } from './append/append.ts';
import { appendHuman, appendJson } from './append/cli-output.ts';
import { renderAppendHtml } from './append/html.ts';
import { HistoryError } from './history/errors.ts';
import { parseEdn } from './history/edn.ts';
import { detectFormat, readHistoryFile, type HistoryFormat } from './history/read.ts';
import type { Op } from './history/types.ts';
import { checkLinearizability, describeOp, showKey, type LinearizabilityResult } from './linearizability/check.ts';
import { renderLinearizabilityHtml } from './linearizability/html.ts';
import { modelByName, MODELS } from './models/index.ts';
import { NIL_READ_MODES, withNilReads, type NilRead } from './models/nil-read.ts';

export const EXIT_VALID = 0;
export const EXIT_INVALID = 1;
export const EXIT_UNKNOWN = 2;
export const EXIT_USAGE = 64;

interface CliOptions {
  model: string;
  init?: string;
  nilRead: NilRead;
  json?: boolean;
  html?: string;
  budgetS?: number;
  maxStates?: number;
  workers?: number;
  all?: boolean;
  independent?: boolean;
  consistency: Consistency;
}

/** Which built-in model fits the functions a history uses (for `--model auto`). */
export function detectModel(history: readonly Op[]): string | null {
  const fs = new Set<string>();
  for (const op of history) if (op.process !== 'nemesis') fs.add(op.f);
  if (fs.size === 0) return 'cas-register';
  if (fs.size === 1 && fs.has('txn')) return 'list-append';
  const fits = (name: string): boolean => [...fs].every((f) => (MODELS[name]?.fs ?? []).includes(f));
  for (const name of ['register', 'cas-register', 'versioned-kv', 'kv', 'mutex']) if (fits(name)) return name;
  return null;
}

/**
 * `--init 3` is the number 3, `--init '"x"'` and `--init x` the string "x", `--init null` nil.
 * When the history is EDN, `--init` is read as EDN, in the history's own notation:
 * `--init nil` is nil (no initial value, Knossos' default), `--init :a` "a", `--init '[1 2]'`
 * an array; text that is not one EDN value stays a string.
 */
export function parseInit(text: string, format: HistoryFormat = 'jsonl'): unknown {
  if (format === 'edn') {
    try {
      const forms = parseEdn(text, '--init');
      if (forms.length === 1) return forms[0];
    } catch {
      // not EDN: the text itself
    }
    return text;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** The format of a history file by its first bytes (what readHistoryFile decides by), for `--init`. */
function formatOfFile(file: string): HistoryFormat {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(64 * 1024);
    const n = readSync(fd, head, 0, head.length, 0);
    let text = head.subarray(0, n).toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return detectFormat(text);
  } finally {
    closeSync(fd);
  }
}

function positiveNumber(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a positive number, got "${v}"`);
    return n;
  };
}

function nonNegativeInt(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`${what} must be a non-negative integer, got "${v}"`);
    return n;
  };
}

function htmlPath(base: string, i: number, count: number): string {
  if (count === 1) return base;
  const dot = base.lastIndexOf('.');
  return dot > base.lastIndexOf('/') ? `${base.slice(0, dot)}-${i + 1}${base.slice(dot)}` : `${base}-${i + 1}`;
}

export async function main(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  const program = new Command()
    .name('check')
    .description('Check recorded histories (JSON Lines or Jepsen EDN) for linearizability.')
    .addOption(new Option('--model <name>', 'model: auto picks the built-in model whose functions the history uses').choices(['auto', ...Object.keys(MODELS), 'list-append']).default('auto'))
    .addOption(new Option('--consistency <model>', 'list-append: what the store promises (strict-serializable counts real-time order)').choices([...CONSISTENCIES]).default('strict-serializable'))
    .option('--init <value>', "the model's initial value (JSON, else a string; EDN for an EDN history: nil is no value)")
    .addOption(new Option('--nil-read <reading>', 'a completed read of nil: empty (the register was empty) or wildcard (Knossos: value unknown, fits any state)').choices([...NIL_READ_MODES]).default('empty'))
    .option('--json', 'print one JSON object per file per line')
    .option('--html <file>', 'write an HTML explanation (one file per input: name-1.html, name-2.html, ... for several)')
    .option('--budget-s <seconds>', 'time budget per file; when it runs out the verdict is unknown', positiveNumber('--budget-s'))
    .option('--max-states <n>', 'per-key cap on explored configurations (memory budget)', positiveNumber('--max-states'))
    .option('--workers <n>', 'search worker threads (0: search in the main thread; default: one per core for large histories)', nonNegativeInt('--workers'))
    .option('--all', 'check every key even after one is invalid')
    .option('--independent', "read Jepsen independent-key values [k v] as key k, value v")
    .argument('<file...>', 'history files')
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: err });
  let files: string[];
  let o: CliOptions;
  try {
    program.parse(argv, { from: 'user' });
    files = program.args;
    o = program.opts<CliOptions>();
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT_VALID : EXIT_USAGE;
    throw e;
  }

  let status = EXIT_VALID;
  const worsen = (s: number): void => {
    const rank = (x: number): number => (x === EXIT_USAGE ? 3 : x === EXIT_INVALID ? 2 : x === EXIT_UNKNOWN ? 1 : 0);
    if (rank(s) > rank(status)) status = s;
  };
  for (const [i, file] of files.entries()) {
    let history: Op[];
    let result: LinearizabilityResult;
    let modelName: string;
    try {
      guardHeap(file);
      history = readHistoryFile(file, { independentKeys: o.independent === true });
      const detected = o.model === 'auto' ? detectModel(history) : o.model;
      if (detected === null) {
        const fs = [...new Set(history.filter((op) => op.process !== 'nemesis').map((op) => op.f))].join(', ');
        throw new HistoryError(file, 0, `no built-in model knows all of its functions (${fs}); pick one with --model`);
      }
      modelName = detected;
      if (modelName === 'list-append') {
        // Elle's list-append analysis (append/): a different checker, same files and exit codes.
        let r;
        try {
          r = checkAppend(history, { consistency: o.consistency, ...(o.budgetS !== undefined ? { budgetMs: o.budgetS * 1000 } : {}) });
        } catch (e) {
          if (e instanceof AppendInputError) throw new HistoryError(file, 0, e.message);
          throw e;
        }
        worsen(r.valid === true ? EXIT_VALID : r.valid === false ? EXIT_INVALID : EXIT_UNKNOWN);
        const htmlFile = o.html !== undefined ? htmlPath(o.html, i, files.length) : undefined;
        if (htmlFile !== undefined) writeFileSync(htmlFile, renderAppendHtml(r, file));
        out(o.json === true ? appendJson(file, r, htmlFile) : appendHuman(file, r, htmlFile));
        continue;
      }
      try {
        result = await checkLinearizability(history, {
          model: o.nilRead === 'empty' ? modelName : withNilReads(modelByName(modelName), o.nilRead),
          ...(o.init !== undefined ? { init: parseInit(o.init, formatOfFile(file)) } : {}),
          ...(o.all === true ? { all: true } : {}),
          ...(o.budgetS !== undefined ? { budgetMs: o.budgetS * 1000 } : {}),
          ...(o.maxStates !== undefined ? { maxStates: o.maxStates } : {}),
          ...(o.workers !== undefined ? { workers: o.workers } : {}),
        });
      } catch (e) {
        if (e instanceof HistoryError) throw e;
        throw new HistoryError(file, 0, (e as Error).message);
      }
    } catch (e) {
      if (!(e instanceof HistoryError)) throw e;
      worsen(EXIT_USAGE);
      err(`check: ${e.message}\n`);
      if (o.json === true) out(JSON.stringify({ file, valid: null, error: e.reason, ...(e.line > 0 ? { line: e.line } : {}) }) + '\n');
      continue;
    }
    worsen(result.valid === true ? EXIT_VALID : result.valid === false ? EXIT_INVALID : EXIT_UNKNOWN);
    let htmlFile: string | undefined;
    if (o.html !== undefined) {
      htmlFile = htmlPath(o.html, i, files.length);
      writeFileSync(htmlFile, renderLinearizabilityHtml(result, history, file));
    }
    if (o.json === true) {
      out(
        JSON.stringify({
          file,
          valid: result.valid,
          model: result.model,
          ops: result.ops,
          keys: result.keys,
          ms: result.ms,
          summary: result.summary,
          keysChecked: result.keysChecked,
          keysLeft: result.keysLeft,
          invalidKeys: result.invalidKeys,
          states: result.states,
          timings: result.timings,
          ...(result.failure !== undefined
            ? {
                failure: {
                  key: result.failure.key,
                  op: result.failure.op,
                  prefixLength: result.failure.prefix.length,
                  prefixTail: result.failure.prefix.slice(-10).map((s) => ({ op: describeOp(s.op), state: s.state })),
                  states: result.failure.states,
                },
              }
            : {}),
          ...(htmlFile !== undefined ? { html: htmlFile } : {}),
        }) + '\n',
      );
    } else {
      out(human(file, result, htmlFile));
    }
  }
  return status;
}

/**
 * A parsed history takes about 4.5 times its JSON Lines size in heap (measured: 193 MB ->
 * 870 MB peak RSS for a million operations). Refuse up front, with the fix, rather than
 * die of an out-of-memory error halfway through.
 */
const HEAP_PER_FILE_BYTE = 4.5;

function guardHeap(file: string): void {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return; // readHistoryFile reports the missing file
  }
  const limit = getHeapStatistics().heap_size_limit;
  if (size * HEAP_PER_FILE_BYTE > limit) {
    const needMb = Math.ceil((size * HEAP_PER_FILE_BYTE) / 2 ** 20 / 1024) * 1024;
    throw new HistoryError(file, 0, `history of ${Math.round(size / 2 ** 20)} MB needs about ${Math.round((size * HEAP_PER_FILE_BYTE) / 2 ** 20)} MB of heap, more than this process may use (${Math.round(limit / 2 ** 20)} MB); run with NODE_OPTIONS=--max-old-space-size=${needMb + 1024}`);
  }
}

function human(file: string, r: LinearizabilityResult, htmlFile: string | undefined): string {
  const verdict = r.valid === true ? 'VALID' : r.valid === false ? 'INVALID' : 'UNKNOWN';
  const lines = [`${file}: ${verdict} (model ${r.model}, ${r.ops} ops, ${r.keys} key(s), ${r.ms} ms)`, `  ${r.summary}`];
  for (const f of r.failures) {
    if (r.failures.length > 1) lines.push(`  key ${showKey(f.key)}:`);
    const shown = f.prefix.slice(-8);
    lines.push(`  longest linearizable prefix: ${f.prefix.length} op(s) from initial state ${f.initialState}${f.prefix.length > shown.length ? ` (last ${shown.length} shown)` : ''}`);
    shown.forEach((s, j) => lines.push(`    ${f.prefix.length - shown.length + j + 1}. ${describeOp(s.op)}  =>  ${s.state}`));
    lines.push(`  cannot be linearized next: ${describeOp(f.op)}`);
    lines.push(`  the model could have been in: ${f.states.join(' | ')}`);
  }
  if (r.valid === 'unknown') lines.push(`  keys left: ${r.keysLeft.length} — raise --budget-s or --max-states, or check them alone`);
  if (htmlFile !== undefined) lines.push(`  html: ${htmlFile}`);
  return lines.join('\n') + '\n';
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
