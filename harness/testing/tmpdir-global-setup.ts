/**
 * Vitest global setup: the whole test run gets one temporary directory, and every test's
 * `os.tmpdir()` (workers and the processes they spawn inherit TMPDIR) points into it, so
 * whatever a test or a killed worker leaves behind goes with the run. Without it each
 * `npm test` left a dozen or more directories in /tmp (CLI fixtures, history files, results
 * dirs, node bundles): many tests make a temp dir and never remove it, and vitest stops its
 * fork workers with a signal, so their exit handlers (impl/node/testing/cluster.ts) never run.
 *
 * A run interrupted before teardown leaves just this one directory, named for what it is.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const outer = tmpdir();
  const root = mkdtempSync(join(outer, 'jepsen-ts-test-'));
  // Throwaway PostgreSQL servers run as the postgres user: it must be able to reach its own directory in here.
  chmodSync(root, 0o755);
  const previous = process.env['TMPDIR'];
  process.env['TMPDIR'] = root;
  // For the few outputs a person should look at after the run (the report's screenshots).
  process.env['JEPSEN_TEST_OUTER_TMPDIR'] = outer;
  return () => {
    if (previous === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = previous;
    rmSync(root, { recursive: true, force: true });
  };
}
