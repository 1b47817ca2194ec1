import { describe, expect, it } from 'vitest';
import { checkAppend, type CycleAnomaly } from './append.ts';
import { renderAppendHtml, renderCycleHtml } from './html.ts';
import { concurrently, serially } from './notation.ts';

/** Every URL-like attribute in the page: only in-page anchors and the SVG namespace are allowed. */
function externalReferences(html: string): string[] {
  const refs = [...html.matchAll(/(?:src|href|xlink:href|url)\s*[=(]\s*["']?([^"') >]+)/g)].map((m) => m[1]!);
  const xmlns = [...html.matchAll(/xmlns="([^"]+)"/g)].map((m) => m[1]!);
  return [...refs.filter((r) => !r.startsWith('#')), ...xmlns.filter((x) => x !== 'http://www.w3.org/2000/svg')];
}

describe('append checker HTML', () => {
  it('draws a cycle: one box per transaction, one labelled arrow per edge, explanations listed', () => {
    const r = checkAppend(concurrently('rxry1', 'ax1ay1', 'rx1'));
    const c = r.anomalies['G-single']![0] as CycleAnomaly;
    const html = renderCycleHtml(c, 'g-single-0');
    expect(html.match(/<g class="txn /g)).toHaveLength(2);
    expect(html.match(/<g class="edge (rw|wr)"/g)).toHaveLength(2);
    expect(html).toContain('>1 rw x</text>');
    expect(html).toContain('>2 wr y</text>');
    expect(html).toContain('marker-end="url(#g-single-0-rw)"');
    for (const s of c.steps) expect(html).toContain(s.explanation.replace(/"/g, '&quot;').replace(/'/g, '&#39;'));
    expect(html).toContain('a contradiction');
    expect(externalReferences(html)).toEqual([]);
  });

  it('marks real-time edges and escapes what it shows', () => {
    const r = checkAppend(serially('ax1', 'rx', 'rx1'));
    const c = r.anomalies['G-single-realtime']![0] as CycleAnomaly;
    const html = renderCycleHtml(c, 'id with <spaces>');
    expect(html).toContain('stroke-dasharray="5 3"');
    expect(html).toContain('url(#id_with__spaces_-rt)');
    expect(html).not.toContain('<spaces>');
  });

  it('renders a whole page for valid and invalid results, with nothing fetched', () => {
    const invalid = renderAppendHtml(checkAppend(concurrently('ax1ay1', 'ax2ay2', 'rx12ry21', 'ax3', 'ax4', 'rx1234', 'rx1243')), 'run <1>');
    expect(invalid).toMatch(/^<!doctype html>/);
    expect(invalid).toContain('<title>run &lt;1&gt;: invalid</title>');
    expect(invalid).toContain('<a href="#G0">G0</a>');
    expect(invalid).toContain('<h2 id="incompatible-order">');
    expect(invalid).toContain('<svg');
    expect(externalReferences(invalid)).toEqual([]);
    const valid = renderAppendHtml(checkAppend(serially('ax1', 'rx1')));
    expect(valid).toContain('list-append: <span class="v-valid">valid</span>');
    expect(valid).not.toContain('<svg');
  });
});
