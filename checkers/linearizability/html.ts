import { pairOps } from '../history/pair.ts';
import type { CompletedOp, Op } from '../history/types.ts';
import { describeOp, showKey, type LinearizabilityResult } from './check.ts';
import { CHECKER_PAGE_CSS, esc } from '../html.ts';

/** At most this many operations are drawn. */
const MAX_DRAWN_OPS = 200;
/** How many ops of the end of the prefix the timeline reaches back over. */
const WINDOW_PREFIX = 12;

/**
 * A self-contained HTML page (inline CSS, SVG and a few lines of JS; no external resources)
 * that explains a linearizability verdict: the summary, a per-key table, and for an
 * invalid key a timeline with one lane per process, each operation a bar from invocation
 * to completion (`info` ops run off the right edge: they may take effect until the end of
 * time), the longest linearizable prefix in green with its order, and the operation that
 * could not be linearized in red. Hovering a bar shows the operation and the model state.
 */
export function renderLinearizabilityHtml(result: LinearizabilityResult, history: readonly Op[], title = 'linearizability'): string {
  const verdict = result.valid === true ? 'valid' : result.valid === false ? 'invalid' : 'unknown';
  const parts: string[] = [];
  parts.push(`<h1>${esc(title)}: <span class="v-${verdict}">${verdict}</span></h1>`);
  parts.push(`<p class="summary">${esc(result.summary)}</p>`);
  parts.push(
    `<p class="meta">model <b>${esc(result.model)}</b> · ${result.ops} ops · ${result.keys} keys · ${result.states} configurations · ${result.ms} ms</p>`,
  );
  const f = result.failure;
  if (f !== undefined) {
    parts.push(timeline(result, history));
    parts.push('<h2>Longest linearizable prefix</h2>');
    parts.push(`<p>Initial state: <code>${esc(f.initialState)}</code></p><ol class="prefix">`);
    for (const s of f.prefix) parts.push(`<li>${esc(describeOp(s.op))} <span class="arrow">⇒</span> <code>${esc(s.state)}</code></li>`);
    parts.push('</ol>');
    parts.push(`<p class="bad">Cannot be linearized next: ${esc(describeOp(f.op))}</p>`);
    parts.push(`<p>States the model could have been in: ${f.states.map((s) => `<code>${esc(s)}</code>`).join(' ')}</p>`);
  }
  parts.push('<h2>Keys</h2><table><tr><th>key</th><th>verdict</th><th>ops</th><th>configurations</th><th>ms</th></tr>');
  const rows = [...result.perKey].sort((a, b) => rank(a.valid) - rank(b.valid)).slice(0, 500);
  for (const k of rows) {
    const v = k.valid === true ? 'valid' : k.valid === false ? 'invalid' : 'unknown';
    parts.push(`<tr><td>${esc(showKey(k.key))}</td><td class="v-${v}">${v}${k.reason !== undefined ? ` (${esc(k.reason)})` : ''}</td><td>${k.ops}</td><td>${k.states}</td><td>${k.ms}</td></tr>`);
  }
  for (const k of result.keysLeft.filter((key) => !result.perKey.some((p) => p.key === key)).slice(0, 500)) {
    parts.push(`<tr><td>${esc(showKey(k))}</td><td class="v-unknown">not checked</td><td></td><td></td><td></td></tr>`);
  }
  parts.push('</table>');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}: ${verdict}</title>
<style>
${CHECKER_PAGE_CSS}
.meta{color:#555}.bad{color:#cf222e;font-weight:600}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}
svg text{font:11px system-ui,sans-serif}
.op rect{stroke:#333;stroke-width:.5}.op.ok rect{fill:#cfe3ff}.op.info rect{fill:url(#hatch)}.op.fail rect{fill:#eee;stroke-dasharray:2 2}
.op.lin rect{fill:#b7ebc0;stroke:#1a7f37}.op.failing rect{fill:#ffcdd2;stroke:#cf222e;stroke-width:2}
.op:hover rect{stroke-width:2}
#detail{position:fixed;right:1em;top:1em;max-width:40em;background:#fffbe6;border:1px solid #d4a72c;padding:.5em;display:none;white-space:pre-wrap;font:12px monospace}
.legend span{display:inline-block;width:1em;height:.8em;border:1px solid #333;margin:0 .3em 0 1em;vertical-align:middle}
</style></head><body>
${parts.join('\n')}
<div id="detail"></div>
<script>
(function(){var d=document.getElementById('detail');
document.querySelectorAll('.op').forEach(function(g){
g.addEventListener('mouseenter',function(){d.textContent=g.getAttribute('data-detail');d.style.display='block';});
g.addEventListener('mouseleave',function(){d.style.display='none';});});})();
</script>
</body></html>
`;
}

function rank(v: unknown): number {
  return v === false ? 0 : v === 'unknown' ? 1 : 2;
}

function timeline(result: LinearizabilityResult, history: readonly Op[]): string {
  const f = result.failure;
  if (f === undefined) return '';
  const keyOps = pairOps(history).filter((op) => (op.key ?? null) === f.key);
  const order = new Map<number, { n: number; state: string }>();
  f.prefix.forEach((s, i) => order.set(s.op.invokeIndex, { n: i + 1, state: s.state }));
  // A window a person can read: from the last WINDOW_PREFIX ops of the prefix to just past
  // the failing op, with every op overlapping it (crashed ops only if invoked inside it).
  const tail = f.prefix.slice(-WINDOW_PREFIX).map((st) => st.op);
  const from = Math.min(f.op.start, ...tail.map((op) => op.start));
  const failEnd = Number.isFinite(f.op.end) ? f.op.end : f.op.start;
  const to = failEnd + (failEnd - from) * 0.05;
  let drawn: CompletedOp[] = keyOps.filter((op) => op.start <= to && (Number.isFinite(op.end) ? op.end >= from : op.start >= from));
  let note = '';
  if (drawn.length > MAX_DRAWN_OPS) drawn = drawn.slice(-MAX_DRAWN_OPS);
  if (drawn.length < keyOps.length) note = `<p class="meta">Showing the ${drawn.length} operations around the failure (the key has ${keyOps.length}); the full prefix is listed below.</p>`;
  const processes = [...new Set(drawn.map((op) => String(op.process)))].sort((a, b) => Number(a) - Number(b) || a.localeCompare(b));
  const lane = new Map(processes.map((p, i) => [p, i]));
  // The x axis is history order (one slot per event), not wall time: operations stay wide
  // enough to label and to hover, and the order of events is what linearizability is about.
  const events = [...new Set(drawn.flatMap((op) => (op.completeIndex === null ? [op.invokeIndex] : [op.invokeIndex, op.completeIndex])))].sort((p, q) => p - q);
  const slot = new Map(events.map((e, i) => [e, i]));
  const width = 1100;
  const left = 70;
  const laneH = 22;
  const infoEnd = width - 10;
  const step = (infoEnd - left - 30) / Math.max(1, events.length);
  const x = (eventIndex: number): number => left + (slot.get(eventIndex) ?? 0) * step;
  const bars: string[] = [];
  for (const op of drawn) {
    const y = 20 + (lane.get(String(op.process)) as number) * laneH;
    const x1 = x(op.invokeIndex);
    const x2 = op.completeIndex !== null && op.type !== 'info' ? x(op.completeIndex) + step * 0.8 : infoEnd;
    const lin = order.get(op.invokeIndex);
    const failing = op.invokeIndex === f.op.invokeIndex;
    const cls = ['op', op.type, lin !== undefined ? 'lin' : '', failing ? 'failing' : ''].filter((c) => c !== '').join(' ');
    const detail = [
      describeOp(op),
      `invoked at ${op.start} ns${Number.isFinite(op.end) ? `, completed at ${op.end} ns` : ', never completed (may take effect any time after)'}`,
      lin !== undefined ? `linearized #${lin.n}; state after: ${lin.state}` : failing ? 'could not be linearized after the prefix' : op.type === 'fail' ? 'failed: did not happen' : 'not in the prefix',
    ].join('\n');
    const label = lin !== undefined ? `#${lin.n}` : failing ? `${op.f}!` : op.f;
    bars.push(
      `<g class="${cls}" data-detail="${esc(detail)}"><rect x="${x1.toFixed(1)}" y="${y}" width="${(x2 - x1).toFixed(1)}" height="${laneH - 6}" rx="3"></rect>` +
        // Labels only where they fit; hovering shows every bar's details.
        (x2 - x1 > label.length * 6.5 ? `<text x="${(x1 + 3).toFixed(1)}" y="${y + 12}">${esc(label)}</text>` : '') +
        `<title>${esc(detail)}</title></g>`,
    );
  }
  const labels = processes.map((p, i) => `<text x="4" y="${20 + i * laneH + 12}">p ${esc(p)}</text>`).join('');
  const height = 30 + processes.length * laneH;
  return `<h2>Key ${esc(showKey(f.key))}</h2>${note}
<p class="meta">Lanes are processes; bars run from invocation to completion in history order; #n is the position in the linearization. Hover a bar for details.</p>
<p class="legend"><span style="background:#b7ebc0"></span>linearized prefix<span style="background:#ffcdd2"></span>cannot be linearized<span style="background:#cfe3ff"></span>ok<span style="background:#f6d6a8"></span>info (open-ended)<span style="background:#eee"></span>fail</p>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">
<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#f6d6a8"></rect><line x1="0" y1="0" x2="0" y2="6" stroke="#d4a72c" stroke-width="2"></line></pattern></defs>
${labels}
${bars.join('\n')}
</svg>`;
}
