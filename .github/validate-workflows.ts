/**
 * Validates GitHub Actions workflow files offline: YAML parsed strictly (duplicate keys are
 * errors, as GitHub rejects them) with the `yaml` package, then checked with ajv against
 * `workflow.schema.json`, a strict subset of the workflow syntax written for this repository.
 *
 * Why our own schema: SchemaStore's github-workflow.json is not shipped by any npm package
 * (`@schemastore/github-workflow` has TypeScript types only) and there is no network at
 * test time. The subset is stricter than SchemaStore's where it matters here: unknown keys
 * are errors, so `runs_on` or `with` on a `run:` step fails instead of being ignored.
 *
 *   npx tsx .github/validate-workflows.ts [FILE...]   (default: .github/workflows/*.yml)
 *   exit 0 all valid, 1 problems (one line each: file: where: what)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import { parseDocument } from 'yaml';

const here = import.meta.dirname;
export const WORKFLOW_DIR = join(here, 'workflows');

const schema = JSON.parse(readFileSync(join(here, 'workflow.schema.json'), 'utf8')) as object;
// strictRequired off: the oneOf branches name keys that the parent's `properties` define.
const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
const validate = ajv.compile(schema);

/** One problem: the file, where in it (a line for YAML errors, a JSON pointer for schema errors), and what. */
export interface WorkflowProblem {
  readonly file: string;
  readonly where: string;
  readonly message: string;
}

export function formatProblem(p: WorkflowProblem): string {
  return `${p.file}: ${p.where}: ${p.message}`;
}

function describe(e: ErrorObject): string {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') return `unknown key "${String(params.additionalProperty)}"`;
  if (e.keyword === 'required') return `missing key "${String(params.missingProperty)}"`;
  if (e.keyword === 'dependencies') return `"${String(params.property)}" needs "${String(params.missingProperty)}" beside it`;
  if (e.keyword === 'enum') return `${e.message ?? 'not allowed'}: ${JSON.stringify(params.allowedValues)}`;
  return e.message ?? e.keyword;
}

/**
 * Problems of one workflow's text (empty: valid). Schema errors under a failed `oneOf` are
 * all listed, since ajv cannot know which branch was meant; the most specific come first.
 */
export function checkWorkflowText(text: string, file: string): WorkflowProblem[] {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  if (doc.errors.length > 0) {
    return doc.errors.map((e) => ({ file, where: e.linePos?.[0] !== undefined ? `line ${e.linePos[0].line}` : 'YAML', message: e.message.split('\n')[0] ?? e.message }));
  }
  const workflow: unknown = doc.toJS();
  if (validate(workflow)) return [];
  const errors = [...(validate.errors ?? [])].sort((a, b) => b.instancePath.split('/').length - a.instancePath.split('/').length);
  const seen = new Set<string>();
  const out: WorkflowProblem[] = [];
  for (const e of errors) {
    const p = { file, where: e.instancePath === '' ? '/' : e.instancePath, message: describe(e) };
    const key = formatProblem(p);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(p);
  }
  return out;
}

export function checkWorkflowFile(path: string): WorkflowProblem[] {
  return checkWorkflowText(readFileSync(path, 'utf8'), path);
}

export function workflowFiles(dir = WORKFLOW_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const files = process.argv.length > 2 ? process.argv.slice(2) : workflowFiles();
  const problems = files.flatMap(checkWorkflowFile);
  for (const p of problems) process.stderr.write(`${formatProblem(p)}\n`);
  if (problems.length === 0) process.stdout.write(`${files.length} workflow(s) valid\n`);
  process.exitCode = problems.length === 0 ? 0 : 1;
}
