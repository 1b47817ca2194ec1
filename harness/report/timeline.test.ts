import { describe, expect, it } from 'vitest';
import type { Op } from '../../checkers/history/types.ts';
import { MAX_COLUMNS, TIMELINE_KIND, timelineData, timelineSection } from './timeline.ts';

const MS = 1e6;
let index = 0;
const op = (timeMs: number, process: number | 'nemesis', type: Op['type'], f: string, value: unknown): Op => ({ index: index++, time: timeMs * MS, process, type, f, value });

/** Decodes the packed arrays the page decodes. */
function unpack(bin: string, n: number): { start: number[]; end: number[]; label: number[]; column: number[]; kind: number[] } {
  const b = Buffer.from(bin, 'base64');
  const range = (k: number, read: (i: number) => number): number[] => Array.from({ length: k }, (_, i) => read(i));
  return {
    start: range(n, (i) => b.readFloatLE(i * 4)),
    end: range(n, (i) => b.readFloatLE(n * 4 + i * 4)),
    label: range(n, (i) => b.readUInt32LE(n * 8 + i * 4)),
    column: range(n, (i) => b.readUInt16LE(n * 12 + i * 2)),
    kind: range(n, (i) => b.readUInt8(n * 14 + i)),
  };
}

describe('timelineData', () => {
  it('one column per process; each op from invoke to completion with how it ended; nemesis ops are not columns', () => {
    const h = [
      op(0, 0, 'invoke', 'write', 1),
      op(1, 1, 'invoke', 'read', null),
      op(2, 'nemesis', 'invoke', 'start-partition', null),
      op(3, 1, 'ok', 'read', 1),
      op(5, 0, 'info', 'write', 1),
      op(6, 2, 'invoke', 'write', 2),
      op(8, 2, 'fail', 'write', 2),
      op(9, 1, 'invoke', 'read', null),
    ];
    const d = timelineData(h, [], []);
    expect(d.columns).toEqual(['0', '1', '2']);
    expect(d.n).toBe(4);
    expect(d.endMs).toBe(9);
    const u = unpack(d.bin, d.n);
    // Order of completion, then the unfinished ones.
    expect(u.start).toEqual([1, 0, 6, 9]);
    expect(u.end).toEqual([3, 5, 8, 9]);
    expect(u.column).toEqual([1, 0, 2, 1]);
    expect(u.kind).toEqual([TIMELINE_KIND.ok, TIMELINE_KIND.info, TIMELINE_KIND.fail, TIMELINE_KIND.unfinished]);
    expect(u.label.map((i) => d.labels[i])).toEqual(['read → 1', 'write 1 → info', 'write 2 → fail', 'read → (no answer)']);
  });

  it('repeated descriptions share one label; a busy process invoking again leaves the first op unfinished instead of throwing', () => {
    const h = [op(0, 0, 'invoke', 'read', null), op(1, 0, 'ok', 'read', 5), op(2, 0, 'invoke', 'read', null), op(3, 0, 'ok', 'read', 5), op(4, 0, 'invoke', 'write', 6), op(5, 0, 'invoke', 'write', 7), op(6, 0, 'ok', 'write', 7)];
    const d = timelineData(h, [], []);
    expect(d.labels).toEqual(['read → 5', 'write 6 → (no answer)', 'write 7']);
    expect(unpack(d.bin, d.n).kind).toEqual([0, 0, TIMELINE_KIND.unfinished, 0]);
  });

  it(`folds more than ${MAX_COLUMNS} processes into client threads (process mod concurrency)`, () => {
    const h: Op[] = [];
    for (let p = 0; p < 150; p++) h.push(op(p, p, 'invoke', 'write', p), op(p + 0.5, p, 'info', 'write', p));
    const d = timelineData(h, [], [], 10);
    expect(d.folded).toBe(true);
    expect(d.columns).toHaveLength(10);
    expect(unpack(d.bin, d.n).column.slice(0, 13)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]);
    // Without a concurrency to fold by, every process keeps its column.
    expect(timelineData(h, [], []).columns).toHaveLength(150);
  });
});

describe('timelineSection', () => {
  it('embeds the data so that no value can close the script element', () => {
    const h = [op(0, 0, 'invoke', 'write', '</script><img src=x>'), op(1, 0, 'ok', 'write', '</script><img src=x>')];
    const html = timelineSection(timelineData(h, [{ fromMs: 0, toMs: 1, label: '</script>', detail: '', open: false }], []));
    expect(html.match(/<\/script>/g)).toHaveLength(2); // the data element's and the drawing script's own
    expect(html).toContain('data-columns="1"');
    expect(html).toContain('<span class="tl-col" data-process="0">0</span>');
  });

  it('says so when there are no client operations', () => {
    expect(timelineSection(timelineData([op(0, 'nemesis', 'invoke', 'heal', null)], [], []))).toContain('No client operations were recorded.');
  });
});
