/**
 * The run report: one self-contained `report.html` per run directory — verdict first, then
 * the configuration, each checker's verdict with expandable details, charts of throughput
 * and latency with the fault windows shaded, the nemesis timeline, who led when, and for a
 * non-linearizable history the linearizability checker's own explanation page, embedded.
 *
 * Nothing in the page loads from anywhere: inline CSS, inline SVG (see svg.ts for why the
 * charts are hand-drawn) and one line of script (sizing the embedded explanation), so the file opens offline from a CI
 * artifact years later and looks the same.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppendResult } from '../../checkers/append/append.ts';
import { renderAppendHtml } from '../../checkers/append/html.ts';
import type { CheckResult, Validity } from '../../checkers/checker.ts';
import type { NodeEvent } from '../../checkers/history/types.ts';
import type { LinearizabilityResult } from '../../checkers/linearizability/check.ts';
import { renderLinearizabilityHtml } from '../../checkers/linearizability/html.ts';
import { checkPerf, type PerfResult } from '../../checkers/perf/perf.ts';
import { loadRun, type LoadedRun } from './load-run.ts';
import { esc, laneChart, lineChart, type Band, type LaneBar, type Marker } from './svg.ts';
import { TIMELINE_CSS, timelineData, timelineSection } from './timeline.ts';

const NS = 1e9;

/** Async so that a future version may read large runs as streams without changing callers. */
export function renderRunReport(runDir: string): Promise<string> {
  return Promise.resolve().then(() => renderLoadedRun(loadRun(runDir)));
}

/** Writes `<runDir>/report.html` (or `out`) and returns its path. */
export async function writeRunReport(runDir: string, out?: string): Promise<string> {
  const html = await renderRunReport(runDir);
  const path = out ?? join(loadRun(runDir, { withHistory: false }).dir, 'report.html');
  writeFileSync(path, html);
  return path;
}

/** Perf figures: the run's own perf checker result when it ran one, else computed here from the history. */
export function perfOf(run: LoadedRun): PerfResult {
  const stored = run.results.checkers.perf as PerfResult | undefined;
  if (stored !== undefined && Array.isArray(stored.series) && Array.isArray(stored.faults)) return stored;
  return checkPerf({ history: run.history });
}

export function verdictWord(v: Validity): 'valid' | 'invalid' | 'unknown' {
  return v === true ? 'valid' : v === false ? 'invalid' : 'unknown';
}

export function renderLoadedRun(run: LoadedRun): string {
  const perf = perfOf(run);
  const cfg = run.run.config;
  const workload = cfg.workload ?? run.run.workload?.name ?? '?';
  const nemesis = cfg.nemesis ?? (run.run.nemeses ?? []).join(',');
  const verdict = verdictWord(run.results.valid);
  const checkers = Object.values(run.results.checkers);
  const xMax = Math.max(perf.durationS, ...run.events.map((e) => e.time / NS), 1);
  const bands: Band[] = perf.faults.map((w) => ({
    from: w.from / NS,
    to: w.to / NS,
    label: w.name,
    detail: JSON.stringify(w.value),
    open: !w.closed,
  }));
  const markers: Marker[] = perf.nemesisEvents.map((e) => ({ at: e.time / NS, label: e.f, detail: JSON.stringify(e.value) }));

  const body: string[] = [];
  body.push(header(run, workload, nemesis, verdict, checkers));
  body.push(configSection(run, perf));
  body.push(checkersSection(checkers));
  body.push(chartsSection(perf, xMax, bands, markers));
  body.push(faultsSection(perf, xMax));
  body.push(leaderSection(run.events, xMax, bands, markers));
  body.push(timelineOf(run, perf));
  body.push(linearizabilitySection(run));
  body.push(appendSection(run));
  const title = `${workload} / ${nemesis}: ${verdict}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}${TIMELINE_CSS}</style></head>
<body>
${body.join('\n')}
<footer>jepsen-ts run report · ${esc(run.dir)} · generated ${esc(new Date().toISOString())}</footer>
</body></html>
`;
}

const CSS = `
:root{--ok:#1a7f37;--bad:#cf222e;--unk:#9a6700;--fault:#f4a261;--mute:#57606a}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#f6f8fa}
main,header.top,section{max-width:1100px;margin:0 auto}
header.top{padding:22px 24px 8px}
h1{font-size:20px;margin:0 0 6px}h2{font-size:16px;margin:0 0 10px}
section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px 20px;margin-top:14px}
.verdict{display:flex;align-items:center;gap:18px;border-radius:10px;padding:16px 22px;color:#fff;margin:10px 0 4px}
.verdict .word{font-size:40px;font-weight:800;letter-spacing:.04em;text-transform:uppercase}
.verdict .why{font-size:14px;opacity:.95}
.verdict.valid{background:var(--ok)}.verdict.invalid{background:var(--bad)}.verdict.unknown{background:var(--unk)}
.v-valid{color:var(--ok);font-weight:700}.v-invalid{color:var(--bad);font-weight:700}.v-unknown{color:var(--unk);font-weight:700}
.sub{color:var(--mute)}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #eaeef2;padding:5px 8px;text-align:left;vertical-align:top}
th{font-weight:600;color:var(--mute);font-size:12px;text-transform:uppercase;letter-spacing:.03em}
table.kv td:first-child{color:var(--mute);width:14em}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:0 28px}
details summary{cursor:pointer}
details pre{max-height:420px;overflow:auto;background:#f6f8fa;border:1px solid #eaeef2;border-radius:6px;padding:8px;font-size:12px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:0 .3em;border-radius:4px}
.num{text-align:right;font-variant-numeric:tabular-nums}
.chart{display:block;margin:4px 0 14px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-1px;margin-right:4px}
iframe.explain{width:100%;height:760px;border:1px solid #d0d7de;border-radius:6px;background:#fff}
footer{max-width:1100px;margin:14px auto 30px;color:var(--mute);font-size:12px;padding:0 4px}
`;

function header(run: LoadedRun, workload: string, nemesis: string, verdict: string, checkers: readonly CheckResult[]): string {
  const failing = checkers.filter((c) => c.valid !== true);
  const why =
    failing.length === 0
      ? `all ${checkers.length} checkers passed`
      : failing.map((c) => `<b>${esc(c.checker)}</b>: ${esc(c.summary)}`).join('<br>');
  return `<header class="top">
<h1>${esc(workload)} · nemesis ${esc(nemesis)} <span class="sub">— run ${esc(run.run.runId)}</span></h1>
<div class="verdict ${verdict}" id="verdict" data-verdict="${verdict}"><div class="word">${verdict}</div><div class="why">${why}</div></div>
</header>`;
}

function durationOf(run: LoadedRun): number | null {
  if (run.run.finishedAt === undefined) return null;
  const ms = Date.parse(run.run.finishedAt) - Date.parse(run.run.startedAt);
  return Number.isFinite(ms) ? ms / 1000 : null;
}

function configSection(run: LoadedRun, perf: PerfResult): string {
  const c = run.run.config;
  const v = run.run.versions ?? {};
  const dur = durationOf(run);
  const rows: [string, string][] = [
    ['workload', `${esc(c.workload ?? run.run.workload?.name ?? '?')}${run.run.workload?.description !== undefined ? ` <span class="sub">— ${esc(run.run.workload.description)}</span>` : ''}`],
    ['nemesis', esc(c.nemesis ?? (run.run.nemeses ?? []).join(','))],
    ['nodes', esc(String(c.nodes ?? '?'))],
    ['concurrency', esc(String(c.concurrency ?? '?'))],
    ['seed', `<code>${esc(String(run.run.seed ?? c.seed ?? '?'))}</code>`],
    ['git revision', `<code>${esc(v.git ?? 'unknown')}</code>`],
    ['runtime', esc(String(c.runtime ?? '?'))],
    ['unsafe', esc((c.unsafe ?? []).length === 0 ? 'none' : (c.unsafe ?? []).join(', '))],
  ];
  const rows2: [string, string][] = [
    ['started', esc(run.run.startedAt)],
    ['wall-clock duration', dur === null ? 'unfinished' : `${dur.toFixed(1)} s`],
    ['history span', `${perf.durationS.toFixed(1)} s (time limit ${esc(String(c.timeLimitS ?? '?'))} s, rate ${esc(String(c.rate ?? '?'))}/s)`],
    ['operations', `${perf.ops} — <span class="v-valid">${perf.counts.ok} ok</span>, <span class="v-invalid">${perf.counts.fail} fail</span>, <span class="v-unknown">${perf.counts.info} info</span>`],
    ['latency (ok ops)', perf.latency.count === 0 ? 'none' : `p50 ${ms(perf.latency.p50)} · p99 ${ms(perf.latency.p99)} · max ${ms(perf.latency.max)}`],
    ['versions', esc(`harness ${v.harness ?? '?'}, node ${v.node ?? '?'}${v.store !== undefined ? `, store ${v.store}` : ''}`)],
    ['command', `<code>${esc(run.run.command ?? '')}</code>`],
  ];
  const table = (rs: [string, string][]): string => `<table class="kv">${rs.map(([k, val]) => `<tr><td>${esc(k)}</td><td>${val}</td></tr>`).join('')}</table>`;
  return `<section id="config"><h2>Configuration</h2><div class="grid">${table(rows)}${table(rows2)}</div></section>`;
}

function ms(v: number | null): string {
  return v === null ? '–' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;
}

/** JSON for the details pane, with long arrays cut so a 100k-op result stays readable. */
function detailsJson(r: CheckResult): string {
  const omit = new Set(['checker', 'valid', 'summary']);
  const trimmed = JSON.stringify(
    Object.fromEntries(Object.entries(r).filter(([k]) => !omit.has(k))),
    (_k, val: unknown) => (Array.isArray(val) && val.length > 50 ? [...(val as unknown[]).slice(0, 50), `… ${val.length - 50} more`] : val),
    2,
  );
  return trimmed;
}

function checkersSection(checkers: readonly CheckResult[]): string {
  const rows = checkers
    .map((c) => {
      const v = verdictWord(c.valid);
      return `<tr data-checker="${esc(c.checker)}"><td><b>${esc(c.checker)}</b></td><td class="v-${v}">${v}</td><td><details><summary>${esc(c.summary)}</summary><pre>${esc(detailsJson(c))}</pre></details></td></tr>`;
    })
    .join('\n');
  return `<section id="checkers"><h2>Checkers</h2><table><tr><th style="width:11em">checker</th><th style="width:6em">verdict</th><th>summary (click for details)</th></tr>
${rows}</table></section>`;
}

function chartsSection(perf: PerfResult, xMax: number, bands: readonly Band[], markers: readonly Marker[]): string {
  const pts = (get: (p: PerfResult['series'][number]) => number | null): [number, number | null][] => perf.series.map((p) => [p.t + perf.bucketMs / 2000, get(p)]);
  const throughput = lineChart({
    id: 'throughput',
    title: `Throughput (completions per second, ${perf.bucketMs} ms buckets)`,
    yLabel: 'ops/s',
    xMax,
    bands,
    markers,
    series: [
      { name: 'ok', color: '#1a7f37', points: pts((p) => p.okPerSec) },
      { name: 'fail', color: '#cf222e', points: pts((p) => p.failPerSec) },
      { name: 'info', color: '#d4a72c', points: pts((p) => p.infoPerSec) },
    ],
  });
  const latency = lineChart({
    id: 'latency',
    title: 'Latency of ok operations (log scale)',
    yLabel: 'ms',
    xMax,
    bands,
    markers,
    log: true,
    series: [
      { name: 'p50', color: '#0969da', points: pts((p) => p.p50) },
      { name: 'p99', color: '#8250df', points: pts((p) => p.p99), dashed: true },
    ],
  });
  const empty = perf.series.length === 0 ? '<p class="sub">No client operations were recorded.</p>' : '';
  return `<section id="charts"><h2>Throughput and latency</h2>${empty}${throughput}${latency}
<p class="sub"><span class="swatch" style="background:#f4a26155;border:1px solid #f4a261"></span>shaded: fault in effect (from the nemesis start op's completion to the stop op's). Dashed purple lines: other nemesis actions. Hover for details.</p></section>`;
}

function faultsSection(perf: PerfResult, xMax: number): string {
  const lanes = [...new Set(perf.faults.map((w) => w.name))];
  const nemesisLanes = perf.nemesisEvents.length > 0 ? [...lanes, 'other'] : lanes;
  const bars: LaneBar[] = perf.faults.map((w) => ({
    lane: w.name,
    from: w.from / NS,
    to: w.to / NS,
    label: shortValue(w.value),
    color: '#e07a2f',
    detail: `${w.name} ${(w.from / NS).toFixed(1)}–${(w.to / NS).toFixed(1)} s${w.closed ? '' : ' (never stopped)'}\n${JSON.stringify(w.value)}`,
    open: !w.closed,
  }));
  for (const e of perf.nemesisEvents) {
    bars.push({ lane: 'other', from: e.time / NS, to: e.time / NS, label: e.f, color: '#6c4ab6', detail: `${e.f} at ${(e.time / NS).toFixed(2)} s\n${JSON.stringify(e.value)}` });
  }
  const timeline =
    nemesisLanes.length === 0
      ? '<p class="sub">No faults were injected.</p>'
      : laneChart({ id: 'nemesis', title: 'Nemesis timeline', lanes: nemesisLanes, bars, xMax });
  const row = (name: string, from: string, to: string, s: PerfResult['outsideFaults'], value: string): string =>
    `<tr><td>${name}</td><td class="num">${from}</td><td class="num">${to}</td><td class="num">${s.counts.ok}/${s.counts.fail}/${s.counts.info}</td><td class="num">${s.availability === null ? '–' : `${(s.availability * 100).toFixed(1)}%`}</td><td class="num">${s.okPerSec.toFixed(1)}</td><td class="num">${ms(s.latency.p50)}</td><td class="num">${ms(s.latency.p99)}</td><td>${value}</td></tr>`;
  const rows = perf.faults.map((w) => row(esc(w.name), (w.from / NS).toFixed(1), `${(w.to / NS).toFixed(1)}${w.closed ? '' : ' (open)'}`, w, `<code>${esc(shortValue(w.value, 80))}</code>`));
  rows.push(row('<i>outside faults</i>', '', '', perf.outsideFaults, ''));
  const warnings = perf.warnings.length === 0 ? '' : `<p class="sub">Warnings: ${perf.warnings.map(esc).join('; ')}</p>`;
  return `<section id="faults"><h2>Faults</h2>${timeline}
<table><tr><th>fault</th><th class="num">from s</th><th class="num">to s</th><th class="num">ok/fail/info</th><th class="num">availability</th><th class="num">ok/s</th><th class="num">p50</th><th class="num">p99</th><th>what</th></tr>${rows.join('')}</table>${warnings}</section>`;
}

function shortValue(v: unknown, max = 40): string {
  if (v === null || v === undefined) return '';
  let s: string;
  if (typeof v === 'object' && !Array.isArray(v)) {
    s = Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${k}: ${Array.isArray(x) ? x.map((y) => (typeof y === 'string' ? y : JSON.stringify(y))).join(',') : typeof x === 'string' ? x : JSON.stringify(x)}`)
      .join(' · ');
  } else s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export interface LeaderInterval {
  readonly node: string;
  readonly term: number;
  /** seconds */
  readonly from: number;
  readonly to: number;
}

/**
 * When each node believed it led, from its own role changes and status samples in
 * events.jsonl: a node leads from an event saying `role: leader` until its next event says
 * otherwise (another role or term), or until the last event of the run.
 */
export function leaderIntervals(events: readonly NodeEvent[]): LeaderInterval[] {
  const sorted = events.filter((e) => e.kind === 'role' || e.kind === 'status').sort((a, b) => a.time - b.time);
  const end = sorted[sorted.length - 1]?.time ?? 0;
  const open = new Map<string, { term: number; from: number }>();
  const out: LeaderInterval[] = [];
  for (const e of sorted) {
    const cur = open.get(e.node);
    const leads = e.role === 'leader';
    if (cur !== undefined && (!leads || e.term !== cur.term)) {
      out.push({ node: e.node, term: cur.term, from: cur.from / NS, to: e.time / NS });
      open.delete(e.node);
    }
    if (leads && !open.has(e.node)) open.set(e.node, { term: e.term, from: e.time });
  }
  for (const [node, cur] of open) out.push({ node, term: cur.term, from: cur.from / NS, to: end / NS });
  return out.sort((a, b) => a.from - b.from);
}

const TERM_COLORS = ['#0969da', '#1a7f37', '#8250df', '#bf3989', '#9a6700', '#0a7ea4', '#cf222e', '#57606a'];

function leaderSection(events: readonly NodeEvent[], xMax: number, bands: readonly Band[], markers: readonly Marker[]): string {
  const intervals = leaderIntervals(events);
  const nodes = [...new Set(events.filter((e) => e.kind !== 'digest').map((e) => e.node))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (nodes.length === 0) return `<section id="leaders"><h2>Leaders</h2><p class="sub">No node events were recorded (events.jsonl is missing or empty).</p></section>`;
  const bars: LaneBar[] = intervals.map((iv) => ({
    lane: iv.node,
    from: iv.from,
    to: iv.to,
    label: `term ${iv.term}`,
    color: TERM_COLORS[iv.term % TERM_COLORS.length] as string,
    detail: `${iv.node} led term ${iv.term} from ${iv.from.toFixed(2)} s to ${iv.to.toFixed(2)} s`,
  }));
  const chart = laneChart({ id: 'leaders', title: 'Leader over time (as each node saw itself)', lanes: nodes, bars, xMax, bands, markers });
  const byTerm = new Map<number, { nodes: Set<string>; from: number }>();
  for (const iv of intervals) {
    const t = byTerm.get(iv.term) ?? { nodes: new Set<string>(), from: iv.from };
    t.nodes.add(iv.node);
    t.from = Math.min(t.from, iv.from);
    byTerm.set(iv.term, t);
  }
  const rows = [...byTerm.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([term, t]) => {
      const many = t.nodes.size > 1;
      return `<tr><td class="num">${term}</td><td${many ? ' class="v-invalid"' : ''}>${esc([...t.nodes].join(', '))}${many ? ' — more than one leader in this term' : ''}</td><td class="num">${t.from.toFixed(2)}</td></tr>`;
    })
    .join('');
  return `<section id="leaders"><h2>Leaders</h2>${chart}
<table style="width:auto"><tr><th class="num">term</th><th>leader</th><th class="num">first seen, s</th></tr>${rows}</table></section>`;
}

/** The per-process timeline (timeline.ts), with the same fault windows and nemesis markers as the charts. */
function timelineOf(run: LoadedRun, perf: PerfResult): string {
  const faults = perf.faults.map((w) => ({ fromMs: w.from / 1e6, toMs: w.to / 1e6, label: w.name, detail: JSON.stringify(w.value), open: !w.closed }));
  const markers = perf.nemesisEvents.map((e) => ({ atMs: e.time / 1e6, label: e.f }));
  const concurrency = run.run.config.concurrency;
  return timelineSection(timelineData(run.history, faults, markers, typeof concurrency === 'number' ? concurrency : undefined));
}

function linearizabilitySection(run: LoadedRun): string {
  const r = run.results.checkers.linearizability as LinearizabilityResult | undefined;
  if (r === undefined || r.valid !== false || r.failure === undefined) return '';
  // JSON turned CompletedOp.end = Infinity (an info op) into null; the renderer reads the history for bars.
  const fixed = { ...r, perKey: r.perKey ?? [], keysLeft: r.keysLeft ?? [] } as LinearizabilityResult;
  let page: string;
  try {
    page = renderLinearizabilityHtml(fixed, run.history, 'linearizability');
  } catch (e) {
    return `<section id="linearizability"><h2>Why the history is not linearizable</h2><p class="v-invalid">could not render the explanation: ${esc(e instanceof Error ? e.message : String(e))}</p></section>`;
  }
  // An iframe's srcdoc keeps the checker's page (its own CSS and hover script) from clashing
  // with this one. No `sandbox` attribute: a sandboxed srcdoc frame gets an opaque origin and
  // headless Chromium painted it blank in screenshots; the page is our own escaped output.
  // The onload line grows the frame to its content so the page scrolls as one.
  return `<section id="linearizability"><h2>Why the history is not linearizable</h2>
<p>${esc(r.summary)}</p>
<iframe class="explain" title="linearizability explanation" onload="try{this.style.height=Math.min(this.contentDocument.documentElement.scrollHeight+20,1100)+'px'}catch(e){}" srcdoc="${esc(page)}"></iframe></section>`;
}

/** The list-append checker's own page (its cycles drawn), embedded like the linearizability one. */
function appendSection(run: LoadedRun): string {
  const r = run.results.checkers.append as AppendResult | undefined;
  if (r === undefined || r.valid !== false || !Array.isArray(r.anomalyTypes)) return '';
  let page: string;
  try {
    page = renderAppendHtml(r, 'list-append');
  } catch (e) {
    return `<section id="append"><h2>Why the history is not ${esc(r.consistency)}</h2><p class="v-invalid">could not render the explanation: ${esc(e instanceof Error ? e.message : String(e))}</p></section>`;
  }
  return `<section id="append"><h2>Why the history is not ${esc(r.consistency)}</h2>
<p>${esc(r.summary)}</p>
<iframe class="explain" title="list-append explanation" onload="try{this.style.height=Math.min(this.contentDocument.documentElement.scrollHeight+20,1100)+'px'}catch(e){}" srcdoc="${esc(page)}"></iframe></section>`;
}
