/**
 * Pictures of the append checker's verdicts, self-contained (inline SVG and CSS, nothing
 * fetched): `renderCycleHtml` draws one cycle — transactions as boxes on a ring, each edge
 * an arrow labelled ww / wr / rw / rt with its explanation (listed below the picture and
 * shown on hover); `renderAppendHtml` is a whole page for a result (the report embeds it).
 */
import { isCycleAnomaly, showTxn, type AppendAnomaly, type AppendResult, type CycleAnomaly, type TxnRef } from './append.ts';
import type { EdgeKind } from './graph.ts';
import { CHECKER_PAGE_CSS, esc } from '../html.ts';

const KIND_COLOURS: Record<EdgeKind, string> = { ww: '#0969da', wr: '#1a7f37', rw: '#bc4c00', rt: '#8250df' };
const KIND_WORDS: Record<EdgeKind, string> = { ww: 'write-write', wr: 'write-read', rw: 'read-write (anti-dependency)', rt: 'real time' };

const BOX_W = 230;
const BOX_H = 54;

/**
 * One cycle as an HTML fragment: an SVG of the cycle and the list of its edges. `idPrefix`
 * keeps the arrowhead ids of several cycles on one page apart.
 */
export function renderCycleHtml(anomaly: CycleAnomaly, idPrefix = 'cycle'): string {
  const n = anomaly.txns.length;
  // Two transactions side by side; more on an ellipse (boxes are wide), T1 at the top, clockwise.
  const ry = n <= 2 ? 0 : Math.max(130, (n * BOX_H * 1.6) / (2 * Math.PI));
  const rx = n <= 2 ? 190 : ry + BOX_W * 0.55;
  const width = Math.ceil(2 * rx + BOX_W + 40);
  const height = Math.ceil(2 * ry + BOX_H + 90);
  const cx = width / 2;
  const cy = height / 2;
  const centre = (i: number): [number, number] => {
    if (n <= 2) return [cx + (i === 0 ? -rx : rx), cy];
    const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
    return [cx + rx * Math.cos(a), cy + ry * Math.sin(a)];
  };
  const id = safeId(idPrefix);
  const defs = (Object.keys(KIND_COLOURS) as EdgeKind[])
    .map((k) => `<marker id="${id}-${k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${KIND_COLOURS[k]}"/></marker>`)
    .join('');
  const arrows: string[] = [];
  anomaly.steps.forEach((s, i) => {
    const [x1, y1] = centre(s.from);
    const [x2, y2] = centre(s.to);
    // Bend every arrow to its left so the two arrows of a 2-cycle do not overlap.
    const dx = x2 - x1;
    const dy = y2 - y1;
    const len = Math.hypot(dx, dy) || 1;
    const bend = n <= 2 ? 50 : 28;
    const mx = (x1 + x2) / 2 + (dy / len) * bend;
    const my = (y1 + y2) / 2 - (dx / len) * bend;
    const [sx, sy] = boxExit(x1, y1, mx, my);
    const [ex, ey] = boxExit(x2, y2, mx, my);
    const colour = KIND_COLOURS[s.kind];
    const lx = 0.25 * sx + 0.5 * mx + 0.25 * ex;
    const ly = 0.25 * sy + 0.5 * my + 0.25 * ey;
    const label = `${i + 1} ${s.kind}${s.key !== undefined ? ` ${String(s.key)}` : ''}`;
    const lw = label.length * 6.6 + 10;
    arrows.push(
      `<g class="edge ${s.kind}"><title>${esc(s.explanation)}</title>` +
        `<path d="M${f(sx)},${f(sy)} Q${f(mx)},${f(my)} ${f(ex)},${f(ey)}" fill="none" stroke="${colour}" stroke-width="2"${s.kind === 'rt' ? ' stroke-dasharray="5 3"' : ''} marker-end="url(#${id}-${s.kind})"/>` +
        `<rect x="${f(lx - lw / 2)}" y="${f(ly - 9)}" width="${f(lw)}" height="18" rx="9" fill="#fff" stroke="${colour}"/>` +
        `<text x="${f(lx)}" y="${f(ly + 4)}" text-anchor="middle" fill="${colour}">${esc(label)}</text></g>`,
    );
  });
  const boxes = anomaly.txns.map((t, i) => {
    const [x, y] = centre(i);
    const ops = showTxn(t.value);
    const shown = ops.length > 36 ? `${ops.slice(0, 35)}…` : ops;
    return (
      `<g class="txn ${t.type}"><title>${esc(`T${i + 1} = ${describeTxn(t)}: ${ops}`)}</title>` +
      `<rect x="${f(x - BOX_W / 2)}" y="${f(y - BOX_H / 2)}" width="${BOX_W}" height="${BOX_H}" rx="6"/>` +
      `<text x="${f(x)}" y="${f(y - 6)}" text-anchor="middle" class="name">T${i + 1} · index ${t.index} · p${esc(String(t.process))}${t.type !== 'ok' ? ` · ${t.type}` : ''}</text>` +
      `<text x="${f(x)}" y="${f(y + 13)}" text-anchor="middle" class="ops">${esc(shown)}</text></g>`
    );
  });
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" class="cycle" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(`${anomaly.type} cycle of ${n} transactions`)}">` +
    `<defs>${defs}</defs>${arrows.join('')}${boxes.join('')}</svg>`;
  const steps = anomaly.steps
    .map((s, i) => `<li><span class="kind" style="color:${KIND_COLOURS[s.kind]}">${s.kind}</span> T${s.from + 1} → T${s.to + 1}: ${esc(s.explanation)}${i === anomaly.steps.length - 1 ? ' — <b>a contradiction</b>' : ''}</li>`)
    .join('');
  const kinds = [...new Set(anomaly.steps.map((s) => s.kind))];
  const legend = kinds.map((k) => `<span class="kind" style="color:${KIND_COLOURS[k]}">${k}</span> ${KIND_WORDS[k]}`).join(' · ');
  const txns = anomaly.txns.map((t, i) => `<tr><td>T${i + 1}</td><td>${esc(describeTxn(t))}</td><td><code>${esc(showTxn(t.value))}</code></td></tr>`).join('');
  return `<figure class="append-cycle">
<figcaption><b>${esc(anomaly.type)}</b>: a cycle of ${n} transactions${anomaly.componentSize > n ? ` (its strongly connected component has ${anomaly.componentSize})` : ''}</figcaption>
${svg}
<p class="legend">${legend}</p>
<ol class="steps">${steps}</ol>
<table class="txns"><tr><th></th><th>transaction</th><th>micro-ops</th></tr>${txns}</table>
</figure>`;
}

/** The CSS `renderCycleHtml` fragments expect (a page embedding them includes it once). */
export const APPEND_CSS = `
.append-cycle{margin:0 0 1.5em}
.append-cycle figcaption{margin:.3em 0}
svg.cycle text{font:12px system-ui,sans-serif}
svg.cycle .txn rect{fill:#f6f8fa;stroke:#57606a}
svg.cycle .txn.info rect{fill:#fff8c5}
svg.cycle .txn .name{font-weight:600}
svg.cycle .txn .ops{font:11px ui-monospace,monospace;fill:#57606a}
svg.cycle .edge:hover path{stroke-width:4}
.append-cycle .steps{padding-left:1.6em}
.append-cycle .legend{color:#57606a;font-size:12px;margin:0}
.append-cycle .kind{font-weight:700;font-family:ui-monospace,monospace}
.append-cycle table.txns{border-collapse:collapse;font-size:12px}
.append-cycle table.txns td,.append-cycle table.txns th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
`;

/** How many anomalies of each type the page draws or lists. */
const PER_TYPE = 5;

/** A whole page for an append checker result. */
export function renderAppendHtml(result: AppendResult, title = 'list-append'): string {
  const verdict = result.valid === true ? 'valid' : result.valid === false ? 'invalid' : 'unknown';
  const parts: string[] = [];
  parts.push(`<h1>${esc(title)}: <span class="v-${verdict}">${verdict}</span></h1>`);
  parts.push(`<p class="summary">${esc(result.summary)}</p>`);
  parts.push(
    `<p class="meta">${esc(result.consistency)} · ${result.txns} transactions · ${result.microOps} micro-ops · ${result.keys} keys · ${result.edges} edges · ${result.components.count} cyclic components (largest ${result.components.largest}) · ${result.ms} ms</p>`,
  );
  if (result.unknownReason !== undefined) parts.push(`<p class="v-unknown">${esc(result.unknownReason)}</p>`);
  for (const note of result.searchCutShort ?? []) parts.push(`<p class="meta">search cut short: ${esc(note)}</p>`);
  if (result.anomalyTypes.length > 0) {
    parts.push('<table class="counts"><tr><th>anomaly</th><th>count</th><th>forbidden by ' + esc(result.consistency) + '</th></tr>');
    for (const t of result.anomalyTypes) parts.push(`<tr><td><a href="#${safeId(t)}">${esc(t)}</a></td><td>${result.anomalyCounts[t] ?? 0}</td><td>${result.forbiddenTypes.includes(t) ? '<span class="v-invalid">yes</span>' : 'no'}</td></tr>`);
    parts.push('</table>');
  }
  for (const t of result.anomalyTypes) {
    const listed = (result.anomalies[t] ?? []).slice(0, PER_TYPE);
    const count = result.anomalyCounts[t] ?? listed.length;
    parts.push(`<h2 id="${safeId(t)}">${esc(t)} <span class="meta">(${count}${count > listed.length ? `, ${listed.length} shown` : ''})</span></h2>`);
    listed.forEach((a, i) => parts.push(renderAnomaly(a, `${t}-${i}`)));
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}: ${verdict}</title>
<style>
${CHECKER_PAGE_CSS}
.meta{color:#555;font-weight:normal}
table.counts{border-collapse:collapse}table.counts td,table.counts th{border:1px solid #ddd;padding:2px 8px;text-align:left}
.anomaly{margin:0 0 1em}
${APPEND_CSS}
</style></head><body>
${parts.join('\n')}
</body></html>
`;
}

function renderAnomaly(a: AppendAnomaly, id: string): string {
  if (isCycleAnomaly(a)) return renderCycleHtml(a, id);
  const txns = a.txns.map((t) => `<li>${esc(describeTxn(t))}: <code>${esc(showTxn(t.value))}</code></li>`).join('');
  return `<div class="anomaly"><p>${esc(a.explanation)}</p><ul>${txns}</ul></div>`;
}

function describeTxn(t: TxnRef): string {
  return `index ${t.index} (process ${t.process}, ${t.type}, ${t.completeIndex === null ? `invoked at index ${t.invokeIndex}, never completed` : `invoked at index ${t.invokeIndex}`})`;
}

/** Where the segment from a box centre towards (tx, ty) leaves the box. */
function boxExit(x: number, y: number, tx: number, ty: number): [number, number] {
  const dx = tx - x;
  const dy = ty - y;
  const sx = dx === 0 ? Infinity : BOX_W / 2 / Math.abs(dx);
  const sy = dy === 0 ? Infinity : BOX_H / 2 / Math.abs(dy);
  const s = Math.min(sx, sy, 1) * 1.04;
  return [x + dx * s, y + dy * s];
}

function f(v: number): string {
  return v.toFixed(1);
}

function safeId(s: string): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_');
}
