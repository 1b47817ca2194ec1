import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseEdn } from './edn.ts';
import { HistoryError } from './errors.ts';
import { parseEdnHistory, readHistoryFile } from './read.ts';

const testdata = (name: string): string => fileURLToPath(new URL(`../testdata/${name}`, import.meta.url));

describe('EDN reader', () => {
  it('reads scalars: keywords, strings with escapes, integers, big integers, floats, nil, booleans, characters', () => {
    expect(parseEdn(':invoke :jepsen.history/op "a\\tb\\"c\\\\\\u00e9\\n" 42 -7 +3 12345678901234567890N 9007199254740993 7N 1.5 -2e3 3.25M nil true false \\a \\newline')).toEqual([
      'invoke',
      'jepsen.history/op',
      'a\tb"c\\é\n',
      42,
      -7,
      3,
      '12345678901234567890',
      '9007199254740993',
      7,
      1.5,
      -2000,
      3.25,
      null,
      true,
      false,
      'a',
      '\n',
    ]);
  });

  it('reads collections: vectors, lists, sets, maps with keyword and other keys', () => {
    expect(parseEdn('[1 [2 3]] (a b) #{:x :y} {:a 1, "b" [2], 3 nil}')).toEqual([[1, [2, 3]], ['a', 'b'], ['x', 'y'], { a: 1, b: [2], '3': null }]);
  });

  it('skips comments, commas, #_ discarded forms; keeps the form of a tagged literal', () => {
    expect(parseEdn('; header\n[1, #_ 2 3] #_{:gone 1} #inst "2024-01-02T03:04:05Z" #uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6" #jepsen.history.Op{:index 0}')).toEqual([
      [1, 3],
      '2024-01-02T03:04:05Z',
      'f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
      { index: 0 },
    ]);
  });

  it.each([
    ['[1 2', /vector opened at line 1 is never closed/],
    ['{:a}', /map has a key \(a\) without a value/],
    ['"abc', /string opened at line 1 is never closed/],
    ['\n\n)', /^x:3: EDN: unexpected \)/],
    ['"\\q"', /unknown string escape \\q/],
    ['1.2.3', /malformed number 1\.2\.3/],
  ])('rejects %j naming the line', (text, msg) => {
    expect(() => parseEdn(text, 'x')).toThrow(msg);
  });
});

describe('Jepsen history.edn shapes', () => {
  it('one vector of maps: nemesis ops, info and fail completions, unknown keys ignored', () => {
    const ops = readHistoryFile(testdata('register-vector.edn'));
    expect(ops).toHaveLength(14);
    expect(ops[0]).toEqual({ index: 0, time: 1000000, process: 0, type: 'invoke', f: 'write', value: 3 });
    expect(ops[3]).toMatchObject({ process: 'nemesis', type: 'info', f: 'start-partition' });
    expect(ops[4]?.value).toEqual(['isolated', { n1: ['n2', 'n3'] }]);
    expect(ops[8]).toMatchObject({ type: 'fail', f: 'cas', error: 'timeout-not-really' });
    expect(ops[10]).toMatchObject({ process: 5, node: 'n2' });
  });

  it('one map per line, jepsen.history Op records, a discarded op and big numbers inside values', () => {
    const ops = readHistoryFile(testdata('register-per-line.edn'));
    expect(ops.map((o) => o.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(ops[3]).toEqual({ index: 3, time: 121988211, process: 2, type: 'invoke', f: 'cas', value: [1, 2] });
    expect(ops[7]?.value).toEqual({ n1: '12345678901234567890', n2: -3, note: 'tab\there "quoted" é', ratio: 1500, c: 'a' });
    expect(ops[8]?.time).toBe(200000000.5);
  });

  it('old histories without :index or :time get positions for both (Knossos data files)', () => {
    const ops = parseEdnHistory('({:type :invoke, :f :read, :value nil, :process 1}\n {:type :ok, :f :read, :value 3, :process 1})', 'k.edn');
    expect(ops.map((o) => [o.index, o.time])).toEqual([
      [0, 0],
      [1, 1],
    ]);
  });

  it('maps jepsen.independent [k v] tuples to key and value only when asked', () => {
    const plain = readHistoryFile(testdata('independent.edn'));
    expect(plain[0]).toMatchObject({ value: [0, 1] });
    expect(plain[0]?.key).toBeUndefined();
    const split = readHistoryFile(testdata('independent.edn'), { independentKeys: true });
    expect(split[0]).toMatchObject({ key: 0, value: 1 });
    expect(split[4]).toMatchObject({ key: 0, value: null, f: 'read', type: 'invoke' });
  });

  it('names file and line of a bad op inside a vector', () => {
    const text = '[{:type :invoke :f :read :process 0}\n {:type :ok :f :read :process 0 :value 1}\n {:type :ok :f :read :process 0 :value 2}]';
    let caught: unknown;
    try {
      parseEdnHistory(text, 'h.edn');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(HistoryError);
    expect((caught as HistoryError).message).toBe('h.edn:3: process 0 completes (ok) an operation it never invoked');
  });

  it('rejects a process that is neither an integer nor :nemesis', () => {
    expect(() => parseEdnHistory('{:type :invoke :f :read :process :client-7}', 'h.edn')).toThrow(/h\.edn:1: "process" must be an integer or "nemesis"/);
  });
});
