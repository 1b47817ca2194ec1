/**
 * What `npm run check -- --model list-append` prints for one file: a human verdict with the
 * operations that prove it, or one JSON object (`--json`). checkers/cli.ts calls these.
 */
import { isCycleAnomaly, type AppendResult } from './append.ts';

/** How many anomalies of each forbidden type the text output explains in full. */
const SHOWN_PER_TYPE = 3;

export function appendHuman(file: string, r: AppendResult, htmlFile: string | undefined): string {
  const verdict = r.valid === true ? 'VALID' : r.valid === false ? 'INVALID' : 'UNKNOWN';
  const lines = [`${file}: ${verdict} (list-append, ${r.consistency}, ${r.txns} txns, ${r.microOps} micro-ops, ${r.keys} key(s), ${r.ms} ms)`];
  lines.push(`  ${r.valid === false ? r.summary.replace(/; e\.g\. .*$/, '') : r.summary}`);
  for (const t of r.forbiddenTypes) {
    const listed = r.anomalies[t] ?? [];
    const count = r.anomalyCounts[t] ?? listed.length;
    lines.push(`  ${t} (${count}${count > SHOWN_PER_TYPE ? `, ${Math.min(SHOWN_PER_TYPE, listed.length)} shown` : ''}):`);
    for (const a of listed.slice(0, SHOWN_PER_TYPE)) {
      if (isCycleAnomaly(a)) lines.push(...a.explanation.split('\n').map((l) => `    ${l}`));
      else lines.push(`    ${a.explanation}`);
    }
  }
  for (const note of r.searchCutShort ?? []) lines.push(`  search cut short: ${note}`);
  if (r.valid === 'unknown') lines.push('  raise --budget-s, or split the history');
  if (htmlFile !== undefined) lines.push(`  html: ${htmlFile}`);
  return lines.join('\n') + '\n';
}

export function appendJson(file: string, r: AppendResult, htmlFile: string | undefined): string {
  return (
    JSON.stringify({
      file,
      valid: r.valid,
      model: 'list-append',
      consistency: r.consistency,
      txns: r.txns,
      microOps: r.microOps,
      keys: r.keys,
      ms: r.ms,
      summary: r.summary,
      anomalyTypes: r.anomalyTypes,
      forbiddenTypes: r.forbiddenTypes,
      anomalyCounts: r.anomalyCounts,
      anomalies: r.anomalies,
      edges: r.edges,
      components: r.components,
      timings: r.timings,
      ...(r.unknownReason !== undefined ? { unknownReason: r.unknownReason } : {}),
      ...(htmlFile !== undefined ? { html: htmlFile } : {}),
    }) + '\n'
  );
}
