import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HistoryWriter } from './history-writer.ts';

describe('HistoryWriter', () => {
  it('puts every op on disk by the next flush, with increasing index and time', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hist-')), 'history.jsonl');
    const h = new HistoryWriter(path);
    h.record({ process: 0, type: 'invoke', f: 'read', key: 'r0', value: null });
    // Off the hot path: buffered until the flush timer (or an explicit flush) writes it.
    expect(readFileSync(path, 'utf8')).toBe('');
    h.flush();
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(1);
    h.record({ process: 0, type: 'ok', f: 'read', key: 'r0', value: { version: 1, value: 3 }, node: 'n1' });
    h.record({ process: 'nemesis', type: 'invoke', f: 'start-partition', value: null });
    h.close();
    const ops = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { index: number; time: number; process: unknown });
    expect(ops.map((o) => o.index)).toEqual([0, 1, 2]);
    expect(ops[1]?.time).toBeGreaterThanOrEqual(ops[0]?.time ?? Infinity);
    expect(ops[2]?.process).toBe('nemesis');
  });

  it('the flush timer writes buffered ops within its interval (a crash of the harness loses at most that)', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hist-')), 'history.jsonl');
    const h = new HistoryWriter(path, { flushEveryMs: 20 });
    h.record({ process: 0, type: 'invoke', f: 'read', key: 'r0', value: null });
    await new Promise((r) => setTimeout(r, 200));
    expect(readFileSync(path, 'utf8').trim().split('\n')).toHaveLength(1);
    h.close();
  });
});
