/**
 * The pages of `npm run runs -- serve`, as pure functions from recorded runs to HTML: the
 * list of runs (newest first, coloured by verdict, filterable) and the comparison of two
 * runs or two releases. Self-contained: inline CSS and one small inline script (filters
 * submit on change; the compare button waits for two runs); nothing loads from elsewhere.
 * Every figure is printed by compare.ts's own formatting, so the page shows exactly what
 * `npm run runs -- compare` prints.
 */
import type { Validity } from '../../checkers/checker.ts';
import { esc } from '../report/svg.ts';
import { formatChange, formatFigure, showValidity, type RunComparison, type VerdictChange } from './compare.ts';
import type { RunSummary } from './runs.ts';

export interface RunFilters {
  readonly release?: string;
  readonly system?: string;
  readonly workload?: string;
  readonly nemesis?: string;
}

/** What the filter menus offer: the distinct values recorded. */
export interface FilterChoices {
  /** A git revision (newest run first) or a store version. */
  readonly releases: readonly { readonly value: string; readonly label: string }[];
  readonly systems: readonly string[];
  readonly workloads: readonly string[];
  readonly nemeses: readonly string[];
}

function verdictClass(v: Validity): 'valid' | 'invalid' | 'unknown' {
  return v === true ? 'valid' : v === false ? 'invalid' : 'unknown';
}

function when(d: Date): string {
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

function release(r: RunSummary): string {
  const rev = r.gitRevision === null ? '' : `<code title="${esc(r.gitRevision)}">${esc(r.gitRevision.slice(0, 12))}</code>`;
  const version = r.storeVersion ?? (r.harnessVersion !== null ? `harness ${r.harnessVersion}` : '');
  return `${rev}${rev !== '' && version !== '' ? '<br>' : ''}<span class="sub">${esc(version)}</span>`;
}

function percent(x: number | null): string {
  return formatFigure(x === null ? null : x * 100, '%');
}

export function reportHref(r: RunSummary): string {
  return `/runs/${r.id}/report.html`;
}

function select(name: string, label: string, values: readonly { value: string; label: string }[], selected: string | undefined, anyLabel = 'any'): string {
  const options = [`<option value="">${esc(anyLabel)}</option>`, ...values.map((v) => `<option value="${esc(v.value)}"${v.value === selected ? ' selected' : ''}>${esc(v.label)}</option>`)];
  return `<label>${esc(label)} <select name="${esc(name)}" id="${esc(`${name}-select`)}">${options.join('')}</select></label>`;
}

const plain = (xs: readonly string[]): { value: string; label: string }[] => xs.map((x) => ({ value: x, label: x }));

export function renderRunsPage(runs: readonly RunSummary[], filters: RunFilters, choices: FilterChoices, limit: number): string {
  const rows = runs
    .map((r) => {
      const v = verdictClass(r.valid);
      const failing = Object.entries(r.checkers)
        .filter(([, c]) => c.valid !== true)
        .map(([name, c]) => `${name}: ${c.summary}`)
        .join('\n');
      return `<tr class="run v-${v}" data-verdict="${v}" data-run-id="${r.id}">
<td><input type="checkbox" name="run" value="${r.id}" aria-label="select run #${r.id}"></td><td class="num">#${r.id}</td><td>${esc(when(r.startedAt))}</td>
<td>${esc(r.system)}</td><td>${esc(r.workload)}</td><td>${esc(r.nemesis)}</td>
<td class="verdict"${failing !== '' ? ` title="${esc(failing)}"` : ''}>${v}</td><td>${release(r)}</td>
<td class="num">${formatFigure(r.okPerS, 'ops/s')}</td><td class="num">${formatFigure(r.latencyP99Ms, 'ms')}</td><td class="num">${percent(r.availability)}</td>
<td class="num">${percent(r.faultAvailability)}</td><td class="num">${formatFigure(r.leaderlessMaxMs, 'ms')}</td>
<td><a class="report" href="${reportHref(r)}">report</a></td></tr>`;
    })
    .join('\n');
  const keep = (['workload', 'nemesis', 'system'] as const)
    .map((k) => (filters[k] !== undefined ? `<input type="hidden" name="${k}" value="${esc(filters[k])}">` : ''))
    .join('');
  const empty = runs.length === 0 ? `<p class="sub" id="no-runs">No recorded runs${Object.values(filters).some((x) => x !== undefined) ? ' match these filters' : ' yet (a run records itself when it finishes; or `npm run runs -- record DIR`)'}.</p>` : '';
  return page(
    'jepsen-ts runs',
    `<header class="top"><h1>Runs <span class="sub">— ${runs.length} shown, newest first${runs.length === limit ? ` (the newest ${limit})` : ''}</span></h1></header>
<section><form id="filters" method="get" action="/">
${select('release', 'release', choices.releases, filters.release)}
${select('system', 'system', plain(choices.systems), filters.system)}
${select('workload', 'workload', plain(choices.workloads), filters.workload)}
${select('nemesis', 'nemesis', plain(choices.nemeses), filters.nemesis)}
<button type="submit">filter</button> <a href="/">clear</a></form></section>
<section><form id="compare-runs" method="get" action="/compare">
<table id="runs"><thead><tr><th></th><th class="num">run</th><th>started (UTC)</th><th>system</th><th>workload</th><th>nemesis</th><th>verdict</th><th>release</th><th class="num">throughput</th><th class="num">p99</th><th class="num">availability</th><th class="num">availability in faults</th><th class="num">longest leaderless</th><th></th></tr></thead>
<tbody>${rows}</tbody></table>${empty}
<p><button type="submit" id="compare-selected" disabled>compare the two selected runs</button> <span class="sub">(the older one is the base)</span></p></form></section>
<section><form id="compare-releases" method="get" action="/compare"><h2>Compare two releases</h2>
<p class="sub">The newest run of each release${keep !== '' ? ' with the filters above' : ''}, as <code>npm run runs -- compare --base REV --head REV</code>.</p>
${select('base', 'base', choices.releases, undefined, 'choose')} ${select('head', 'head', choices.releases, undefined, 'choose')}${keep}
<button type="submit" id="compare-releases-button">compare releases</button></form></section>`,
    LIST_SCRIPT,
  );
}

function verdictRow(c: VerdictChange, name: string): string {
  const status = c.regression ? '<b class="bad">REGRESSION</b>' : c.changed ? 'changed' : '';
  return `<tr data-checker="${esc(c.checker)}"><td>${esc(name)}</td><td class="v-${esc(showValidity(c.base))}">${esc(showValidity(c.base))}</td><td class="v-${esc(showValidity(c.head))}">${esc(showValidity(c.head))}</td><td>${status}</td></tr>`;
}

function runLine(role: string, r: RunSummary): string {
  return `<p class="side" id="${role}"><b>${role}</b> <a href="${reportHref(r)}">#${r.id}</a> <code>${esc(r.runId)}</code> @ <code>${esc(r.gitRevision?.slice(0, 12) ?? '?')}</code>${r.storeVersion !== null ? ` (${esc(r.storeVersion)})` : ''} — ${esc(r.system)} ${esc(r.workload)}/${esc(r.nemesis)}, ${esc(when(r.startedAt))}, <span class="v-${verdictClass(r.valid)}">${verdictClass(r.valid)}</span></p>`;
}

/** `what`: how the two were chosen, e.g. "runs #3 and #5" or "releases abc and def". */
export function renderComparePage(c: RunComparison, what: string): string {
  const setup = c.setupDifferences.length === 0 ? '' : `<p class="warn" id="setup">setup differs (figures may not be comparable): ${esc(c.setupDifferences.join('; '))}</p>`;
  const metrics = c.metrics
    .map((m) => {
      const change = formatChange(m);
      return `<tr data-metric="${esc(m.metric)}" class="${m.regression ? 'regression' : m.change}"><td>${esc(m.metric)}</td><td class="num base">${esc(formatFigure(m.base, m.unit))}</td><td class="num head">${esc(formatFigure(m.head, m.unit))}</td><td class="change">${esc(change)}</td></tr>`;
    })
    .join('\n');
  const regressions =
    c.regressions.length === 0 ? '<p id="regressions" class="good">no regressions</p>' : `<p id="regressions" class="bad">${c.regressions.length} regression(s): ${esc(c.regressions.join('; '))}</p>`;
  return page(
    `compare ${what}`,
    `<header class="top"><h1>Comparison <span class="sub">— ${esc(what)}</span></h1><p><a href="/">← all runs</a></p></header>
<section>${runLine('base', c.base)}${runLine('head', c.head)}${setup}${regressions}</section>
<section><h2>Verdicts</h2><table id="verdicts"><thead><tr><th>checker</th><th>base</th><th>head</th><th></th></tr></thead><tbody>
${verdictRow(c.verdict, 'overall')}
${c.checkers.map((ch) => verdictRow(ch, ch.checker)).join('\n')}</tbody></table></section>
<section><h2>Figures</h2><table id="metrics"><thead><tr><th>metric</th><th class="num">base</th><th class="num">head</th><th>change</th></tr></thead><tbody>
${metrics}</tbody></table>
<p class="sub">Throughput over the client phase; "during faults" over every fault window together (failover); the longest time without a leader from the election checker. A regression is a verdict getting worse, a figure worse by more than 10 % (latency also by more than 1 ms, leaderless time by more than 250 ms), an availability down more than 2 points, or info ops up more than 1 point.</p></section>`,
    '',
  );
}

export function renderErrorPage(status: number, message: string): string {
  return page(`${status}`, `<header class="top"><h1>${status}</h1><p id="error">${esc(message)}</p><p><a href="/">← all runs</a></p></header>`, '');
}

const CSS = `
:root{--ok:#1a7f37;--bad:#cf222e;--unk:#9a6700;--mute:#57606a}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
header.top,section{max-width:1280px;margin:0 auto}
header.top{padding:20px 24px 4px}
h1{font-size:20px;margin:0 0 6px}h2{font-size:16px;margin:0 0 8px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:14px 18px;margin-top:12px}
.sub{color:var(--mute)}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eaeef2;padding:5px 7px;text-align:left;vertical-align:top}
th{font-weight:600;color:var(--mute);font-size:12px;text-transform:uppercase;letter-spacing:.03em}
.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:0 .3em;border-radius:4px}
form label{margin-right:12px}
tr.run td:first-child{border-left:5px solid transparent}
tr.v-valid{background:#dafbe1}tr.v-valid td:first-child{border-left-color:var(--ok)}
tr.v-invalid{background:#ffebe9}tr.v-invalid td:first-child{border-left-color:var(--bad)}
tr.v-unknown{background:#fff8c5}tr.v-unknown td:first-child{border-left-color:var(--unk)}
td.verdict{font-weight:700;text-transform:uppercase}
tr.v-valid td.verdict,td.v-valid,span.v-valid{color:var(--ok)}tr.v-invalid td.verdict,td.v-invalid,span.v-invalid{color:var(--bad)}tr.v-unknown td.verdict,td.v-unknown,span.v-unknown{color:var(--unk)}
.bad{color:var(--bad)}.good{color:var(--ok)}.warn{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:6px 10px}
tr.regression td{background:#ffebe9}tr.worse td.change{color:var(--bad)}tr.better td.change{color:var(--ok)}
p.side{margin:4px 0}
`;

/** Filters submit as soon as one changes; the compare button is enabled for exactly two runs. */
const LIST_SCRIPT = `(function(){
var f=document.getElementById('filters');f.querySelectorAll('select').forEach(function(s){s.addEventListener('change',function(){f.submit();});});
var form=document.getElementById('compare-runs'),btn=document.getElementById('compare-selected');
function sync(){var n=form.querySelectorAll('input[name=run]:checked').length;btn.disabled=n!==2;btn.textContent=n===2?'compare the two selected runs':'select two runs to compare ('+n+' selected)';}
form.addEventListener('change',sync);sync();})();`;

function page(title: string, body: string, script: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><link rel="icon" href="data:,"><style>${CSS}</style></head>
<body>
${body}
${script !== '' ? `<script>${script}</script>` : ''}
</body></html>
`;
}
