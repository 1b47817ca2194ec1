/**
 * What the harness does with a finished run directory after writing results.json: write
 * report.html, and when JEPSEN_DATABASE_URL is set, record the run in PostgreSQL. One call:
 *
 *   await publishRun(dir, log);
 *
 * Never throws: the verdict is already on disk and must decide the exit status, so a report
 * or database failure is logged as a warning line, not turned into a harness failure.
 */
import { connect, DATABASE_URL_ENV, databaseUrlFromEnv } from '../results-db/db.ts';
import { recordRun, type RecordOutcome } from '../results-db/runs.ts';
import { migrate } from '../results-db/schema.ts';
import { writeRunReport } from './report.ts';

export interface Published {
  /** Path of report.html, or null when writing it failed. */
  readonly report: string | null;
  /** The database row, or null when JEPSEN_DATABASE_URL is unset or recording failed. */
  readonly recorded: RecordOutcome | null;
  /** One line per failure (also passed to `log`). */
  readonly warnings: readonly string[];
}

export async function publishRun(runDir: string, log: (line: string) => void = (l) => process.stderr.write(`${l}\n`), env: NodeJS.ProcessEnv = process.env): Promise<Published> {
  const warnings: string[] = [];
  const warn = (line: string): void => {
    warnings.push(line);
    log(line);
  };
  const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));
  let report: string | null = null;
  try {
    report = await writeRunReport(runDir);
    log(`report: ${report}`);
  } catch (e) {
    warn(`warning: no report written: ${message(e)}`);
  }
  let recorded: RecordOutcome | null = null;
  const url = env[DATABASE_URL_ENV];
  if (url !== undefined && url.trim() !== '') {
    try {
      const sql = await connect(databaseUrlFromEnv(env), { connectTimeoutS: 5 });
      try {
        await migrate(sql);
        recorded = await recordRun(sql, runDir);
        log(`recorded in the results database as run #${recorded.id}`);
      } finally {
        await sql.end({ timeout: 5 });
      }
    } catch (e) {
      warn(`warning: run not recorded in the results database: ${message(e)}`);
    }
  }
  return { report, recorded, warnings };
}
