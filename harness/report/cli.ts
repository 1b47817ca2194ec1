/**
 * npm run report -- RUN_DIR [--out FILE]
 *
 * Writes the run's self-contained HTML report (default RUN_DIR/report.html) and prints its path.
 * Exit status: 0 written, 64 usage, 66 the run directory is missing or malformed (the message
 * names the file), 70 anything else.
 */
import { Command, CommanderError } from 'commander';
import { HistoryError } from '../../checkers/history/errors.ts';
import { RunDirError } from './load-run.ts';
import { writeRunReport } from './report.ts';

const program = new Command()
  .name('npm run report --')
  .description('write the self-contained HTML report of a finished run directory')
  .argument('<run-dir>', 'a run directory, e.g. results/register-partition/20260101T000000Z or results/latest')
  .option('--out <file>', 'where to write the report (default: <run-dir>/report.html)')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

try {
  program.parse(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode === 0 ? 0 : 64);
  throw e;
}
const [runDir] = program.args;
const opts = program.opts<{ out?: string }>();
try {
  const path = await writeRunReport(runDir as string, opts.out);
  process.stdout.write(`${path}\n`);
} catch (e) {
  if (e instanceof RunDirError || e instanceof HistoryError) {
    process.stderr.write(`report: ${e.message}\n`);
    process.exit(66);
  }
  process.stderr.write(`report: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(70);
}
