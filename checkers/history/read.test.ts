import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HistoryError } from './errors.ts';
import { detectFormat, parseHistory, parseJsonLines, readHistoryFile, toJsonLines } from './read.ts';
import type { Op } from './types.ts';

const line = (o: Record<string, unknown>): string => JSON.stringify(o);
const inv = (index: number, process: number | string, f = 'read', value: unknown = null): string => line({ index, time: index * 10, process, type: 'invoke', f, value });
const ok = (index: number, process: number | string, f = 'read', value: unknown = 1): string => line({ index, time: index * 10, process, type: 'ok', f, value });

function errorOf(fn: () => unknown): HistoryError {
  try {
    fn();
  } catch (e) {
    if (e instanceof HistoryError) return e;
    throw e;
  }
  throw new Error('expected a HistoryError');
}

describe('JSON Lines reader', () => {
  it('reads ops in Jepsen vocabulary, skipping blank lines and keeping key, error and node', () => {
    const text = [
      line({ index: 0, time: 5, process: 0, type: 'invoke', f: 'write', key: 'a', value: 1, node: 'n1' }),
      '',
      line({ index: 1, time: 9, process: 0, type: 'info', f: 'write', key: 'a', value: 1, error: 'timeout' }),
      line({ index: 2, time: 11, process: 'nemesis', type: 'info', f: 'kill', value: ['n2'] }),
    ].join('\n');
    const ops = parseJsonLines(text, 'h.jsonl');
    expect(ops).toEqual([
      { index: 0, time: 5, process: 0, type: 'invoke', f: 'write', key: 'a', value: 1, node: 'n1' },
      { index: 1, time: 9, process: 0, type: 'info', f: 'write', key: 'a', value: 1, error: 'timeout' },
      { index: 2, time: 11, process: 'nemesis', type: 'info', f: 'kill', value: ['n2'] },
    ]);
  });

  it('round-trips through the writer', () => {
    const ops: Op[] = [
      { index: 0, time: 0, process: 3, type: 'invoke', f: 'cas', key: 7, value: [1, 2] },
      { index: 1, time: 4, process: 3, type: 'fail', f: 'cas', key: 7, value: [1, 2], error: { code: 'version-conflict' } },
    ];
    expect(parseJsonLines(toJsonLines(ops), 'x')).toEqual(ops);
  });

  it('rejects bad JSON naming file and line', () => {
    const e = errorOf(() => parseJsonLines(`${inv(0, 0)}\n${ok(1, 0)}\n{"index": 2,`, 'run/history.jsonl'));
    expect(e.file).toBe('run/history.jsonl');
    expect(e.line).toBe(3);
    expect(e.message).toMatch(/^run\/history\.jsonl:3: bad JSON/);
  });

  it('rejects a missing field', () => {
    const e = errorOf(() => parseJsonLines(line({ index: 0, time: 0, type: 'invoke', f: 'read', value: null }), 'h'));
    expect(e.message).toBe('h:1: missing field "process"');
  });

  it.each([
    [{ index: -1, time: 0, process: 0, type: 'invoke', f: 'read' }, /"index" must be a non-negative integer/],
    [{ index: 0, time: 'soon', process: 0, type: 'invoke', f: 'read' }, /"time" must be a number/],
    [{ index: 0, time: 0, process: 'p1', type: 'invoke', f: 'read' }, /"process" must be an integer or "nemesis"/],
    [{ index: 0, time: 0, process: 0, type: 'done', f: 'read' }, /"type" must be one of invoke, ok, fail, info/],
    [{ index: 0, time: 0, process: 0, type: 'invoke', f: 3 }, /"f" must be a non-empty string/],
    [{ index: 0, time: 0, process: 0, type: 'invoke', f: 'read', key: [1] }, /"key" must be a string or a number/],
  ])('rejects an ill-typed field: %j', (rec, msg) => {
    expect(errorOf(() => parseJsonLines(line(rec), 'h')).message).toMatch(msg);
  });

  it('rejects an index that does not increase', () => {
    const e = errorOf(() => parseJsonLines(`${inv(0, 0)}\n${ok(0, 0)}`, 'h'));
    expect(e.line).toBe(2);
    expect(e.reason).toMatch(/"index" 0 does not increase \(previous 0\)/);
  });

  it('rejects a process invoking twice', () => {
    const e = errorOf(() => parseJsonLines(`${inv(0, 4)}\n${inv(1, 4)}`, 'h'));
    expect(e.line).toBe(2);
    expect(e.reason).toBe('process 4 invokes again while its operation from line 1 (index 0) is still open');
  });

  it('rejects a completion without an invocation', () => {
    const e = errorOf(() => parseJsonLines(`${inv(0, 0)}\n${ok(1, 0)}\n${ok(2, 0)}`, 'h'));
    expect(e.line).toBe(3);
    expect(e.reason).toBe('process 0 completes (ok) an operation it never invoked');
  });

  it('rejects a completion of a different function', () => {
    expect(errorOf(() => parseJsonLines(`${inv(0, 0, 'read')}\n${ok(1, 0, 'write')}`, 'h')).reason).toMatch(/completes "write" but invoked "read" at line 1/);
  });

  it('lets the nemesis log info pairs without pairing rules, and a crashed process retire', () => {
    const text = [
      line({ index: 0, time: 0, process: 'nemesis', type: 'info', f: 'start', value: null }),
      line({ index: 1, time: 1, process: 'nemesis', type: 'info', f: 'start', value: 'ok' }),
      inv(2, 0, 'write', 1),
      line({ index: 3, time: 30, process: 0, type: 'info', f: 'write', value: 1 }),
      inv(4, 0, 'read'),
    ].join('\n');
    expect(parseJsonLines(text, 'h')).toHaveLength(5);
  });

  it('reads a file from disk and names unreadable files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'read-test-'));
    const file = join(dir, 'h.jsonl');
    writeFileSync(file, `${inv(0, 0)}\n${ok(1, 0)}\n`);
    expect(readHistoryFile(file)).toHaveLength(2);
    expect(errorOf(() => readHistoryFile(join(dir, 'missing.jsonl'))).message).toMatch(/missing\.jsonl: cannot read file: ENOENT/);
  });
});

describe('format detection', () => {
  it.each([
    ['{"index":0}', 'jsonl'],
    ['  \n{ "index": 0 }', 'jsonl'],
    ['', 'jsonl'],
    ['[{:type :invoke}]', 'edn'],
    ['({:type :invoke})', 'edn'],
    ['{:type :invoke}', 'edn'],
    ['; comment\n{:type :invoke}', 'edn'],
    ['#jepsen.history.Op{:index 0}', 'edn'],
  ])('%j is %s', (text, format) => {
    expect(detectFormat(text)).toBe(format);
  });

  it('ignores a byte-order mark and CRLF line ends', () => {
    expect(parseHistory(`\ufeff${inv(0, 0)}\r\n${ok(1, 0)}\r\n`, 'h')).toHaveLength(2);
  });

  it('parseHistory reads either format into the same ops', () => {
    const edn = '[{:index 0 :time 0 :process 0 :type :invoke :f :write :value 1}\n {:index 1 :time 5 :process 0 :type :ok :f :write :value 1}]';
    const jsonl = `${line({ index: 0, time: 0, process: 0, type: 'invoke', f: 'write', value: 1 })}\n${line({ index: 1, time: 5, process: 0, type: 'ok', f: 'write', value: 1 })}`;
    expect(parseHistory(edn, 'a.edn')).toEqual(parseHistory(jsonl, 'a.jsonl'));
  });
});
