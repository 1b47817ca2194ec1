import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { renderRunReport } from '../../harness/report/report.ts';
import { readHistoryFile } from '../history/read.ts';
import { checkAppend } from './append.ts';

const VALID_RUN = fileURLToPath(new URL('../../harness/report/testdata/valid-run', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'append-report-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The report's valid fixture with an append checker result stored as a run would store it (JSON). */
function runWithAppendResult(name: string, history: string): string {
  const dir = join(scratch, name);
  cpSync(VALID_RUN, dir, { recursive: true });
  const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { valid: unknown; checkers: Record<string, unknown> };
  const r = checkAppend(readHistoryFile(fileURLToPath(new URL(`./testdata/${history}`, import.meta.url))));
  results.checkers['append'] = JSON.parse(JSON.stringify(r)) as unknown;
  if (r.valid !== true) results.valid = r.valid;
  writeFileSync(join(dir, 'results.json'), JSON.stringify(results));
  return dir;
}

describe('run report with the append checker', () => {
  it('embeds the cycle picture for an invalid list-append verdict', async () => {
    const html = await renderRunReport(runWithAppendResult('invalid', 'elle-paper-g-single.edn'));
    expect(html).toContain('<section id="append"><h2>Why the history is not strict-serializable</h2>');
    const srcdoc = /<section id="append">[\s\S]*?srcdoc="([^"]*)"/.exec(html)?.[1] ?? '';
    expect(srcdoc).toContain('&lt;svg');
    expect(srcdoc).toContain('G-single');
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
  });

  it('adds nothing for a valid one', async () => {
    const html = await renderRunReport(runWithAppendResult('valid', 'valid-vector.edn'));
    expect(html).not.toContain('id="append"');
  });
});
