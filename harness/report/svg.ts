/**
 * Small hand-written SVG charts for the run report.
 *
 * Why not a chart library: the report must be ONE self-contained file that opens offline,
 * years later, from a CI artifact or an email attachment — no CDN script, no web font, no
 * network. A library would have to be inlined through a bundler (this repo has none for the
 * report) and would render in the browser with JavaScript; strings of SVG built here render
 * anywhere, diff cleanly, and are easy to assert on in tests. The charts needed (lines over
 * time, shaded bands, lanes of bars) are a few hundred lines.
 */

import { esc } from '../../checkers/html.ts';

export { esc };

/** A shaded time range (a fault window), seconds since the test started. */
export interface Band {
  readonly from: number;
  readonly to: number;
  readonly label: string;
  /** Extra text for the hover title. */
  readonly detail?: string;
  /** Still in effect when the history ended. */
  readonly open?: boolean;
}

/** A vertical marker at one instant (a nemesis op that is not a window, e.g. heal). */
export interface Marker {
  readonly at: number;
  readonly label: string;
  readonly detail?: string;
}

export interface LineSeries {
  readonly name: string;
  readonly color: string;
  /** [t seconds, y]; null y is a gap in the line. */
  readonly points: readonly (readonly [number, number | null])[];
  readonly dashed?: boolean;
}

export interface LineChartSpec {
  /** Becomes `data-chart` (tests and CSS find the chart by it). */
  readonly id: string;
  readonly title: string;
  readonly yLabel: string;
  readonly series: readonly LineSeries[];
  readonly xMax: number;
  readonly bands?: readonly Band[];
  readonly markers?: readonly Marker[];
  /** Log scale for latencies: a 2 s timeout and a 3 ms read on one readable axis. */
  readonly log?: boolean;
  readonly width?: number;
  readonly height?: number;
}

const FONT = 'font-family="system-ui,sans-serif"';
export const BAND_FILL = '#f4a261';

export interface Frame {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
  x(t: number): number;
}

export function frame(width: number, height: number, xMax: number, left = 58, top = 26, rightPad = 16, bottomPad = 30): Frame {
  const right = width - rightPad;
  const bottom = height - bottomPad;
  const span = xMax > 0 ? xMax : 1;
  return { width, height, left, right, top, bottom, x: (t) => left + (Math.min(Math.max(t, 0), span) / span) * (right - left) };
}

/** Round tick step (1, 2, 5 × 10^k) giving about `want` ticks over [0, max]. */
export function niceStep(max: number, want = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / want;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const n = raw / mag;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

function fmt(n: number): string {
  if (n === 0) return '0';
  if (Math.abs(n) >= 1000) return `${+(n / 1000).toFixed(1)}k`;
  if (Math.abs(n) < 1) return String(+n.toFixed(2));
  return String(+n.toFixed(1));
}

/** Time axis ticks and vertical grid lines, seconds. */
export function timeAxis(f: Frame, xMax: number): string {
  const step = niceStep(xMax, 10);
  const out: string[] = [];
  for (let t = 0; t <= xMax + 1e-9; t += step) {
    const x = f.x(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${f.top}" x2="${x}" y2="${f.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${f.bottom + 14}" text-anchor="middle" ${FONT} font-size="11" fill="#555">${fmt(t)}</text>`);
  }
  out.push(`<text x="${f.right}" y="${f.bottom + 27}" text-anchor="end" ${FONT} font-size="11" fill="#777">seconds since start</text>`);
  out.push(`<line x1="${f.left}" y1="${f.bottom}" x2="${f.right}" y2="${f.bottom}" stroke="#999"/>`);
  return out.join('');
}

/** Shaded fault windows, labelled at the top, with a hover title. */
export function bandsSvg(f: Frame, bands: readonly Band[]): string {
  return bands
    .map((b, i) => {
      const x1 = f.x(b.from);
      const x2 = Math.max(f.x(b.to), x1 + 2);
      const title = `${b.label}: ${b.from.toFixed(1)} s – ${b.to.toFixed(1)} s${b.open === true ? ' (still active at the end)' : ''}${b.detail !== undefined ? `\n${b.detail}` : ''}`;
      // Inside the band's top edge, alternating rows so adjacent windows' labels do not collide.
      const ly = f.top + 12 + (i % 2) * 13;
      return (
        `<g class="fault" data-fault="${esc(b.label)}"><title>${esc(title)}</title>` +
        `<rect x="${x1.toFixed(1)}" y="${f.top}" width="${(x2 - x1).toFixed(1)}" height="${f.bottom - f.top}" fill="${BAND_FILL}" fill-opacity="0.18" stroke="${BAND_FILL}" stroke-opacity="0.6" stroke-dasharray="${b.open === true ? '4 3' : '0'}"/>` +
        `<text x="${(x1 + 3).toFixed(1)}" y="${ly}" ${FONT} font-size="11" fill="#b5651d">${esc(b.label)}</text></g>`
      );
    })
    .join('');
}

export function markersSvg(f: Frame, markers: readonly Marker[]): string {
  return markers
    .map((m) => {
      const x = f.x(m.at).toFixed(1);
      const title = `${m.label} at ${m.at.toFixed(2)} s${m.detail !== undefined ? `\n${m.detail}` : ''}`;
      return (
        `<g class="marker" data-marker="${esc(m.label)}"><title>${esc(title)}</title>` +
        `<line x1="${x}" y1="${f.top}" x2="${x}" y2="${f.bottom}" stroke="#6c4ab6" stroke-width="1.5" stroke-dasharray="3 3"/>` +
        `<text x="${x}" y="${f.bottom - 4}" ${FONT} font-size="10" fill="#6c4ab6" text-anchor="end" transform="rotate(-90 ${x} ${f.bottom - 4})" dy="-3">${esc(m.label)}</text></g>`
      );
    })
    .join('');
}

function legend(series: readonly LineSeries[], f: Frame): string {
  let x = f.right;
  const items: string[] = [];
  for (const s of [...series].reverse()) {
    const w = 26 + s.name.length * 6.5;
    x -= w;
    items.push(
      `<line x1="${x.toFixed(1)}" y1="10" x2="${(x + 16).toFixed(1)}" y2="10" stroke="${s.color}" stroke-width="2.5"${s.dashed === true ? ' stroke-dasharray="5 3"' : ''}/>` +
        `<text x="${(x + 20).toFixed(1)}" y="14" ${FONT} font-size="11" fill="#333">${esc(s.name)}</text>`,
    );
  }
  return `<g class="legend">${items.join('')}</g>`;
}

/** A line chart over time with fault windows shaded behind the lines. */
export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 1000;
  const height = spec.height ?? 240;
  const f = frame(width, height, spec.xMax);
  const ys = spec.series.flatMap((s) => s.points.map((p) => p[1]).filter((y): y is number => y !== null && Number.isFinite(y)));
  const yMaxRaw = ys.length === 0 ? 1 : Math.max(...ys);
  let yOf: (v: number) => number;
  const grid: string[] = [];
  if (spec.log === true) {
    const positive = ys.filter((y) => y > 0);
    const lo = 10 ** Math.floor(Math.log10(positive.length === 0 ? 1 : Math.min(...positive)));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(yMaxRaw, lo * 10)));
    const span = Math.log10(hi) - Math.log10(lo);
    yOf = (v) => f.bottom - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / span) * (f.bottom - f.top);
    for (let d = lo; d <= hi * 1.0001; d *= 10) grid.push(yTick(f, yOf(d), fmt(d)));
  } else {
    const step = niceStep(yMaxRaw, 4);
    const yMax = Math.max(step, Math.ceil(yMaxRaw / step) * step);
    yOf = (v) => f.bottom - (v / yMax) * (f.bottom - f.top);
    for (let v = 0; v <= yMax + 1e-9; v += step) grid.push(yTick(f, yOf(v), fmt(v)));
  }
  const lines: string[] = [];
  for (const s of spec.series) {
    // One polyline per run of non-null points: a gap means "no ok op completed then".
    const runs: string[][] = [[]];
    let dots = '';
    for (const [t, y] of s.points) {
      if (y === null || !Number.isFinite(y)) {
        if ((runs[runs.length - 1] as string[]).length > 0) runs.push([]);
        continue;
      }
      const px = f.x(t).toFixed(1);
      const py = yOf(y).toFixed(1);
      (runs[runs.length - 1] as string[]).push(`${px},${py}`);
      if (s.points.length <= 200) dots += `<circle cx="${px}" cy="${py}" r="1.8" fill="${s.color}"><title>${esc(`${s.name} at ${t} s: ${fmt(y)} ${spec.yLabel}`)}</title></circle>`;
    }
    const polys = runs
      .filter((r) => r.length > 0)
      .map((r) => `<polyline points="${r.join(' ')}" fill="none" stroke="${s.color}" stroke-width="1.8" stroke-linejoin="round"${s.dashed === true ? ' stroke-dasharray="5 3"' : ''}/>`)
      .join('');
    lines.push(`<g class="series" data-series="${esc(s.name)}">${polys}${dots}</g>`);
  }
  return (
    `<svg class="chart" data-chart="${esc(spec.id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${esc(spec.title)}">` +
    `<text x="${f.left}" y="14" ${FONT} font-size="13" font-weight="600" fill="#222">${esc(spec.title)}</text>` +
    legend(spec.series, f) +
    grid.join('') +
    timeAxis(f, spec.xMax) +
    bandsSvg(f, spec.bands ?? []) +
    markersSvg(f, spec.markers ?? []) +
    lines.join('') +
    `<text x="12" y="${(f.top + f.bottom) / 2}" ${FONT} font-size="11" fill="#555" text-anchor="middle" transform="rotate(-90 12 ${(f.top + f.bottom) / 2})">${esc(spec.yLabel)}</text>` +
    `</svg>`
  );
}

function yTick(f: Frame, y: number, label: string): string {
  return (
    `<line x1="${f.left}" y1="${y.toFixed(1)}" x2="${f.right}" y2="${y.toFixed(1)}" stroke="#eee"/>` +
    `<text x="${f.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" ${FONT} font-size="11" fill="#555">${label}</text>`
  );
}

export interface LaneBar {
  readonly lane: string;
  readonly from: number;
  readonly to: number;
  readonly label: string;
  readonly color: string;
  readonly detail: string;
  readonly open?: boolean;
}

export interface LaneChartSpec {
  readonly id: string;
  readonly title: string;
  readonly lanes: readonly string[];
  readonly bars: readonly LaneBar[];
  readonly xMax: number;
  readonly bands?: readonly Band[];
  readonly markers?: readonly Marker[];
  readonly width?: number;
}

/** One row per lane (a node, a fault), bars over time: the nemesis timeline and leader chart. */
export function laneChart(spec: LaneChartSpec): string {
  const width = spec.width ?? 1000;
  const laneH = 24;
  const height = 26 + spec.lanes.length * laneH + 30;
  // Room for the longest lane name ("isolate-leader"), but never less than the line charts' margin so short names keep the axes aligned.
  const left = Math.max(58, 12 + Math.max(0, ...spec.lanes.map((l) => l.length)) * 6.6);
  const f = frame(width, height, spec.xMax, left, 26);
  const laneIndex = new Map(spec.lanes.map((l, i) => [l, i]));
  const labels = spec.lanes
    .map((l, i) => `<text x="${(f.left - 6).toFixed(1)}" y="${f.top + i * laneH + 16}" text-anchor="end" ${FONT} font-size="11" fill="#333">${esc(l)}</text>`)
    .join('');
  const stripes = spec.lanes
    .map((_, i) => (i % 2 === 1 ? `<rect x="${f.left}" y="${f.top + i * laneH}" width="${f.right - f.left}" height="${laneH}" fill="#fafafa"/>` : ''))
    .join('');
  const bars = spec.bars
    .map((b) => {
      const i = laneIndex.get(b.lane);
      if (i === undefined) return '';
      const x1 = f.x(b.from);
      const x2 = Math.max(f.x(b.to), x1 + 3);
      const y = f.top + i * laneH + 3;
      // The label goes inside the bar, cut to fit; a bar too narrow for it (an instant) gets it alongside.
      const fits = Math.floor((x2 - x1 - 8) / 6.2);
      const inside = fits >= 4 ? (b.label.length <= fits ? b.label : `${b.label.slice(0, fits - 1)}…`) : null;
      const text =
        inside !== null
          ? `<text x="${(x1 + 4).toFixed(1)}" y="${y + 13}" ${FONT} font-size="11" fill="#fff">${esc(inside)}</text>`
          : x2 - x1 < 12
            ? `<text x="${(x2 + 4).toFixed(1)}" y="${y + 13}" ${FONT} font-size="11" fill="${b.color}">${esc(b.label)}</text>`
            : '';
      return (
        `<g class="bar" data-lane="${esc(b.lane)}"><title>${esc(b.detail)}</title>` +
        `<rect x="${x1.toFixed(1)}" y="${y}" width="${(x2 - x1).toFixed(1)}" height="${laneH - 6}" rx="3" fill="${b.color}"${b.open === true ? ' fill-opacity="0.7"' : ''}/>${text}</g>`
      );
    })
    .join('');
  return (
    `<svg class="chart" data-chart="${esc(spec.id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="${esc(spec.title)}">` +
    `<text x="${f.left}" y="14" ${FONT} font-size="13" font-weight="600" fill="#222">${esc(spec.title)}</text>` +
    stripes +
    timeAxis(f, spec.xMax) +
    bandsSvg(f, spec.bands ?? []) +
    markersSvg(f, spec.markers ?? []) +
    labels +
    bars +
    `</svg>`
  );
}
