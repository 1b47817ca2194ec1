/**
 * Jepsen's per-process timeline for the run report: one column per client process, time
 * running down, each operation a bar from its invocation to its completion coloured by how
 * it ended (ok / fail / info; an info op that never completed runs to the end, faded), and
 * the fault windows drawn across every column.
 *
 * Why canvas and embedded data instead of SVG like the other charts: a run has up to
 * hundreds of thousands of operations, and one SVG element per operation makes a page that
 * takes many seconds to open (and tens of MB). Here the operations are packed into typed
 * arrays (12 bytes each, base64 in a JSON script element), and a small inline script
 * draws only the visible time window on a canvas, so a 100k-op report opens in well under
 * 2 s (`npm run bench:report`). The page still asks nothing of the network.
 *
 * With more than MAX_COLUMNS processes (every crashed op replaces its process, so long runs
 * have thousands), processes share columns by `process mod concurrency`, Jepsen's worker
 * threads: process 13 of a 10-client run is drawn in column 3, where its predecessor crashed.
 */
import type { Op } from '../../checkers/history/types.ts';
import { esc } from './svg.ts';

/** More columns than this and the bars are thinner than a few pixels on a laptop screen. */
export const MAX_COLUMNS = 100;

const NS_PER_MS = 1e6;

export const TIMELINE_KIND = { ok: 0, fail: 1, info: 2, unfinished: 3 } as const;

export interface TimelineWindow {
  /** ms since the test started */
  readonly fromMs: number;
  readonly toMs: number;
  readonly label: string;
  readonly detail: string;
  readonly open: boolean;
}

export interface TimelineMarker {
  readonly atMs: number;
  readonly label: string;
}

/** The operations packed for the page; `bin` holds the typed arrays, little-endian. */
export interface TimelineData {
  readonly n: number;
  /** Column titles, left to right. */
  readonly columns: readonly string[];
  /** Processes were folded into columns by `process mod concurrency`. */
  readonly folded: boolean;
  readonly endMs: number;
  /** Distinct operation descriptions; each op points into this. */
  readonly labels: readonly string[];
  /** base64 of: start ms f32[n], end ms f32[n], label u32[n], column u16[n], kind u8[n]. */
  readonly bin: string;
  readonly faults: readonly TimelineWindow[];
  readonly markers: readonly TimelineMarker[];
}

function short(v: unknown, max: number): string {
  if (v === undefined) return '';
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? typeof v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function describe(inv: Op, done: Op | null): string {
  const key = inv.key !== undefined ? `[${short(inv.key, 12)}] ` : '';
  const arg = inv.value === null || inv.value === undefined ? '' : ` ${short(inv.value, 24)}`;
  const result = done === null ? ' → (no answer)' : done.type === 'ok' ? (done.value === null || done.value === undefined || JSON.stringify(done.value) === JSON.stringify(inv.value) ? '' : ` → ${short(done.value, 24)}`) : ` → ${done.type}${done.error !== undefined ? ` ${short(done.error, 24)}` : ''}`;
  return `${key}${inv.f}${arg}${result}`;
}

function byNumberThenName(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), 'en', { numeric: true });
}

/**
 * Packs the client operations of `history`. Pairs invocations with completions itself
 * rather than with checkers' pairOps: the timeline needs an info op's own completion time
 * (pairOps sets it to +Infinity, as the checkers must), and a malformed history should
 * still draw (an invoke on a busy process ends the open op as unfinished, no throw).
 */
export function timelineData(history: readonly Op[], faults: readonly TimelineWindow[], markers: readonly TimelineMarker[], concurrency?: number): TimelineData {
  const starts: number[] = [];
  const ends: number[] = [];
  const kinds: number[] = [];
  const labelOf: number[] = [];
  const procs: (string | number)[] = [];
  const labels: string[] = [];
  const labelIndex = new Map<string, number>();
  const open = new Map<string | number, Op>();
  let endNs = 0;
  const push = (inv: Op, done: Op | null): void => {
    const text = describe(inv, done);
    let li = labelIndex.get(text);
    if (li === undefined) {
      li = labels.length;
      labels.push(text);
      labelIndex.set(text, li);
    }
    starts.push(inv.time / NS_PER_MS);
    ends.push(done === null ? Number.NaN : done.time / NS_PER_MS);
    kinds.push(done === null ? TIMELINE_KIND.unfinished : done.type === 'ok' ? TIMELINE_KIND.ok : done.type === 'fail' ? TIMELINE_KIND.fail : TIMELINE_KIND.info);
    labelOf.push(li);
    procs.push(inv.process);
  };
  for (const op of history) {
    if (op.time > endNs) endNs = op.time;
    if (op.process === 'nemesis') continue;
    const prior = open.get(op.process);
    if (op.type === 'invoke') {
      if (prior !== undefined) push(prior, null);
      open.set(op.process, op);
    } else if (prior !== undefined) {
      push(prior, op);
      open.delete(op.process);
    }
  }
  for (const inv of open.values()) push(inv, null);
  const endMs = endNs / NS_PER_MS;
  const n = starts.length;

  const distinct = [...new Set(procs)].sort(byNumberThenName);
  const width = concurrency !== undefined && concurrency > 0 ? Math.floor(concurrency) : null;
  const folded = distinct.length > MAX_COLUMNS && width !== null && distinct.every((p) => typeof p === 'number');
  let columns: string[];
  let columnOf: (p: string | number) => number;
  if (folded) {
    const w = width as number;
    columns = Array.from({ length: w }, (_, i) => String(i));
    columnOf = (p) => (p as number) % w;
  } else {
    columns = distinct.map(String);
    const index = new Map(distinct.map((p, i) => [p, i]));
    columnOf = (p) => index.get(p) as number;
  }

  // One buffer, 4-byte fields first so each typed view is aligned.
  const buf = Buffer.alloc(n * 4 * 3 + n * 2 + n);
  for (let i = 0; i < n; i++) {
    buf.writeFloatLE(starts[i] as number, i * 4);
    buf.writeFloatLE(Number.isNaN(ends[i] as number) ? endMs : (ends[i] as number), n * 4 + i * 4);
    buf.writeUInt32LE(labelOf[i] as number, n * 8 + i * 4);
    buf.writeUInt16LE(columnOf(procs[i] as string | number), n * 12 + i * 2);
    buf.writeUInt8(kinds[i] as number, n * 14 + i);
  }
  return { n, columns, folded, endMs, labels, bin: buf.toString('base64'), faults, markers };
}

/** The report section: controls, column heads, the canvas, and the script that draws it. */
export function timelineSection(data: TimelineData): string {
  if (data.n === 0) return `<section id="timeline"><h2>Timeline</h2><p class="sub">No client operations were recorded.</p></section>`;
  // `<` escaped so that no value in the data can close the script element.
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  const fold = data.folded
    ? `<p class="sub">${data.columns.length} columns for more than ${MAX_COLUMNS} processes: each column is one client thread (process mod ${data.columns.length}); a crashed process's successor continues in its column.</p>`
    : '';
  return `<section id="timeline"><h2>Timeline</h2>
<p class="sub">One column per ${data.folded ? 'client thread' : 'process'}, time running down; each operation is a bar from invocation to completion: <span class="swatch" style="background:${COLORS.ok}"></span>ok <span class="swatch" style="background:${COLORS.fail}"></span>fail <span class="swatch" style="background:${COLORS.info}"></span>info (<span class="swatch" style="background:${COLORS.info};opacity:.45"></span>never answered). <span class="swatch" style="background:#f4a26155;border:1px solid #f4a261"></span>fault in effect. Hover a bar for the operation; double-click to zoom in there.</p>${fold}
<div class="tl-controls"><label>window <select id="tl-span"><option value="0">whole run</option><option value="60000">60 s</option><option value="10000">10 s</option><option value="1000">1 s</option><option value="100">100 ms</option></select></label>
<button type="button" id="tl-prev" title="earlier">◀</button><input type="range" id="tl-start" min="0" max="1000" value="0" step="1"><button type="button" id="tl-next" title="later">▶</button>
<span id="tl-range" class="sub"></span></div>
<div class="tl-wrap"><div class="tl-head" id="tl-head">${data.columns.map((c) => `<span class="tl-col" data-process="${esc(c)}">${esc(c)}</span>`).join('')}</div>
<canvas id="tl-canvas" data-columns="${data.columns.length}" data-ops="${data.n}" data-drawn="false"></canvas><div id="tl-tip" class="tl-tip" hidden></div></div>
<noscript><p class="sub">The timeline is drawn by a script; this browser has scripts off.</p></noscript>
<script type="application/json" id="tl-data">${json}</script>
<script>${SCRIPT}</script></section>`;
}

const COLORS = { ok: '#1a7f37', fail: '#cf222e', info: '#d4a72c' };

export const TIMELINE_CSS = `
.tl-controls{display:flex;align-items:center;gap:8px;margin:6px 0 8px}
.tl-controls input[type=range]{flex:1}
.tl-wrap{position:relative}
.tl-head{position:relative;height:18px;font-size:11px;color:#57606a}
.tl-col{position:absolute;top:0;text-align:center;overflow:hidden;white-space:nowrap}
#tl-canvas{display:block;width:100%;height:620px;border:1px solid #eaeef2;border-radius:4px;cursor:crosshair}
.tl-tip{position:absolute;pointer-events:none;background:#1f2328;color:#fff;font-size:12px;padding:4px 7px;border-radius:4px;white-space:pre;z-index:2}
`;

/**
 * The page side, plain ES2019 (no build step). Layout numbers are written to the canvas's
 * data attributes so a test can find where an operation was drawn.
 */
const SCRIPT = `(function(){
var D=JSON.parse(document.getElementById('tl-data').textContent);
var raw=atob(D.bin),bytes=new Uint8Array(raw.length);for(var i=0;i<raw.length;i++)bytes[i]=raw.charCodeAt(i);
var n=D.n,buf=bytes.buffer,T0=new Float32Array(buf,0,n),T1=new Float32Array(buf,n*4,n),LB=new Uint32Array(buf,n*8,n),COL=new Uint16Array(buf,n*12,n),K=new Uint8Array(buf,n*14,n);
var byCol=[];for(var c=0;c<D.columns.length;c++)byCol.push([]);for(i=0;i<n;i++)byCol[COL[i]].push(i);
var cv=document.getElementById('tl-canvas'),ctx=cv.getContext('2d'),tip=document.getElementById('tl-tip'),head=document.getElementById('tl-head');
var spanSel=document.getElementById('tl-span'),startIn=document.getElementById('tl-start'),rangeOut=document.getElementById('tl-range');
var FILL=['${COLORS.ok}','${COLORS.fail}','${COLORS.info}','${COLORS.info}'],LEFT=54,TOP=6,BOTTOM=6;
var w0=0,w1=Math.max(D.endMs,1),L={};
function fmt(ms){return ms===0?'0':ms>=1000?(ms/1000).toFixed(ms>=100000?0:2)+' s':ms.toFixed(1)+' ms'}
function layout(){var r=cv.getBoundingClientRect(),dpr=window.devicePixelRatio||1;cv.width=Math.round(r.width*dpr);cv.height=Math.round(r.height*dpr);ctx.setTransform(dpr,0,0,dpr,0,0);
L={w:r.width,h:r.height,left:LEFT,top:TOP,height:r.height-TOP-BOTTOM,colW:(r.width-LEFT-4)/D.columns.length};
var spans=head.children;for(var c=0;c<spans.length;c++){spans[c].style.left=(L.left+c*L.colW)+'px';spans[c].style.width=L.colW+'px';}
for(var k in L)cv.dataset[k]=String(L[k]);}
function y(t){return L.top+(t-w0)/(w1-w0)*L.height}
function draw(){var W=L.w,H=L.h;ctx.clearRect(0,0,W,H);ctx.font='11px system-ui,sans-serif';
for(var c=0;c<D.columns.length;c++)if(c%2){ctx.fillStyle='#f6f8fa';ctx.fillRect(L.left+c*L.colW,L.top,L.colW,L.height);}
var step=[1,2,5,10,20,50,100,200,500,1000,2000,5000,10000,20000,60000,120000,300000,600000,1800000,3600000].find(function(s){return (w1-w0)/s<=12})||3600000;
ctx.fillStyle='#57606a';ctx.strokeStyle='#eaeef2';ctx.textAlign='right';
for(var t=Math.ceil(w0/step)*step;t<=w1;t+=step){var yy=y(t);ctx.beginPath();ctx.moveTo(L.left,yy);ctx.lineTo(W,yy);ctx.stroke();ctx.fillText(fmt(t),L.left-12,yy+4);}
D.faults.forEach(function(f){if(f.toMs<w0||f.fromMs>w1)return;var a=Math.max(y(f.fromMs),L.top),b=Math.min(y(f.toMs),L.top+L.height);
ctx.fillStyle='#f4a261';ctx.fillRect(L.left-8,a,5,Math.max(b-a,2));});
var cw=Math.max(L.colW-(L.colW>6?3:1),1),px=(w1-w0)/L.height;
for(var pass=0;pass<4;pass++){ctx.fillStyle=FILL[pass];ctx.globalAlpha=pass===3?0.45:1;
for(i=0;i<n;i++){if(K[i]!==pass)continue;var a0=T0[i],a1=T1[i];if(a1<w0||a0>w1)continue;var ya=y(a0),yb=y(a1);if(yb-ya<1)yb=ya+1;
ctx.fillRect(L.left+COL[i]*L.colW+(L.colW-cw)/2,ya,cw,yb-ya);}}
ctx.globalAlpha=1;
// Faults across every column, over the bars (dense runs cover the background), named with a white halo.
D.faults.forEach(function(f){if(f.toMs<w0||f.fromMs>w1)return;var a=Math.max(y(f.fromMs),L.top),b=Math.min(y(f.toMs),L.top+L.height);ctx.fillStyle='rgba(244,162,97,0.25)';ctx.fillRect(L.left,a,L.w-L.left,Math.max(b-a,1));var yy=a+12;ctx.textAlign='left';ctx.lineWidth=3;ctx.strokeStyle='#fff';ctx.strokeText(f.label,L.left+4,yy);ctx.fillStyle='#b5651d';ctx.fillText(f.label,L.left+4,yy);ctx.lineWidth=1;});
D.markers.forEach(function(m){if(m.atMs<w0||m.atMs>w1)return;var yy=y(m.atMs);ctx.strokeStyle='#6c4ab6';ctx.setLineDash([4,3]);ctx.beginPath();ctx.moveTo(L.left,yy);ctx.lineTo(W,yy);ctx.stroke();ctx.setLineDash([]);ctx.fillStyle='#6c4ab6';ctx.textAlign='right';ctx.fillText(m.label,W-4,yy-3);});
rangeOut.textContent=fmt(w0)+' – '+fmt(w1)+' of '+fmt(D.endMs);cv.dataset.w0=String(w0);cv.dataset.w1=String(w1);if(cv.dataset.drawn!=='true')cv.dataset.firstDrawnMs=String(performance.now());cv.dataset.drawn='true';}
function setWindow(a,span){var end=Math.max(D.endMs,1);if(!(span>0)||span>=end){w0=0;w1=end;}else{w0=Math.min(Math.max(a,0),end-span);w1=w0+span;}
startIn.max=String(Math.max(0,Math.round(end-(w1-w0))));startIn.value=String(Math.round(w0));draw();}
spanSel.addEventListener('change',function(){setWindow((w0+w1)/2-Number(spanSel.value)/2,Number(spanSel.value));});
startIn.addEventListener('input',function(){setWindow(Number(startIn.value),w1-w0);});
document.getElementById('tl-prev').addEventListener('click',function(){setWindow(w0-(w1-w0)*0.8,w1-w0);});
document.getElementById('tl-next').addEventListener('click',function(){setWindow(w0+(w1-w0)*0.8,w1-w0);});
function at(ev){var r=cv.getBoundingClientRect(),x=ev.clientX-r.left,yy=ev.clientY-r.top,c=Math.floor((x-L.left)/L.colW);if(c<0||c>=D.columns.length)return null;
var t=w0+(yy-L.top)/L.height*(w1-w0),slack=(w1-w0)/L.height*2,best=-1,list=byCol[c];
for(var j=0;j<list.length;j++){var k=list[j];if(T0[k]-slack<=t&&t<=T1[k]+slack&&(best<0||T0[k]>T0[best]))best=k;}return best<0?null:{i:best,x:x,y:yy};}
cv.addEventListener('mousemove',function(ev){var h=at(ev);if(h===null){tip.hidden=true;return;}var i=h.i;
tip.textContent=D.labels[LB[i]]+'\\n'+['ok','fail','info','info (never answered)'][K[i]]+' · column '+D.columns[COL[i]]+'\\n'+fmt(T0[i])+' → '+fmt(T1[i])+' ('+(T1[i]-T0[i]).toFixed(1)+' ms)';
tip.hidden=false;tip.style.left=Math.min(h.x+14,L.w-260)+'px';tip.style.top=(h.y+head.offsetHeight+12)+'px';});
cv.addEventListener('mouseleave',function(){tip.hidden=true;});
cv.addEventListener('dblclick',function(ev){var r=cv.getBoundingClientRect(),t=w0+(ev.clientY-r.top-L.top)/L.height*(w1-w0),span=(w1-w0)/4;setWindow(t-span/2,span);});
window.addEventListener('resize',function(){layout();draw();});
layout();setWindow(0,0);})();`;
