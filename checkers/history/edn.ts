import { HistoryError } from './errors.ts';

/**
 * A reader for the subset of EDN that Jepsen writes to `history.edn`
 * (https://github.com/edn-format/edn), mapped onto JSON-like values:
 *
 * - keywords and symbols become strings without the colon (`:invoke` -> "invoke",
 *   `:jepsen/x` -> "jepsen/x"); strings keep their escapes' meaning; characters become strings
 * - integers become numbers, or decimal strings when beyond 2^53 (`N` suffix allowed);
 *   floats and `M` decimals become numbers; `nil` -> null
 * - vectors, lists and sets become arrays; maps become objects whose keys are the
 *   stringified keys
 * - a tagged literal `#tag form` becomes its form (`#inst "..."` -> the string, and
 *   jepsen.history's records `#jepsen.history.Op{...}` -> the map); `#_ form` is discarded
 * - `;` comments and commas are whitespace
 *
 * Every array and object created remembers the 1-based line it started on (`lineOf`),
 * so the history reader can name the line of a bad operation.
 */
export class EdnReader {
  private pos = 0;
  private line = 1;
  readonly lineOf = new WeakMap<object, number>();

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  /** Reads the next top-level form, or returns `EOF` at the end of the text. */
  next(): { value: unknown; line: number } | typeof EOF {
    this.skipSpace();
    if (this.pos >= this.text.length) return EOF;
    const line = this.line;
    const value = this.readForm();
    return { value, line };
  }

  private fail(reason: string, line = this.line): never {
    throw new HistoryError(this.file, line, `EDN: ${reason}`);
  }

  private skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 10) {
        this.line++;
        this.pos++;
      } else if (c === 32 || c === 9 || c === 13 || c === 44 /* , */) {
        this.pos++;
      } else if (c === 59 /* ; */) {
        while (this.pos < t.length && t.charCodeAt(this.pos) !== 10) this.pos++;
      } else if (c === 35 /* # */ && t.charCodeAt(this.pos + 1) === 95 /* _ */) {
        this.pos += 2;
        this.skipSpace();
        if (this.pos >= t.length) this.fail('#_ at end of input has nothing to discard');
        this.readForm();
      } else {
        return;
      }
    }
  }

  private readForm(): unknown {
    this.skipSpace();
    const t = this.text;
    if (this.pos >= t.length) this.fail('unexpected end of input');
    const c = t[this.pos] as string;
    const startLine = this.line;
    switch (c) {
      case '{': {
        this.pos++;
        const obj: Record<string, unknown> = {};
        this.lineOf.set(obj, startLine);
        for (;;) {
          this.skipSpace();
          if (this.pos >= t.length) this.fail(`map opened at line ${startLine} is never closed`, startLine);
          if (t[this.pos] === '}') {
            this.pos++;
            return obj;
          }
          const k = this.readForm();
          this.skipSpace();
          if (t[this.pos] === '}') this.fail(`map has a key (${String(keyString(k))}) without a value`);
          const v = this.readForm();
          obj[keyString(k)] = v;
        }
      }
      case '[':
      case '(':
        this.pos++;
        return this.readSeq(c === '[' ? ']' : ')', startLine);
      case '#': {
        const n = t[this.pos + 1];
        if (n === '{') {
          this.pos += 2;
          return this.readSeq('}', startLine);
        }
        if (n === '#') {
          // ##Inf, ##-Inf, ##NaN
          this.pos += 2;
          const sym = this.readToken();
          if (sym === 'Inf') return Number.POSITIVE_INFINITY;
          if (sym === '-Inf') return Number.NEGATIVE_INFINITY;
          if (sym === 'NaN') return Number.NaN;
          return this.fail(`unknown symbolic value ##${sym}`);
        }
        // Tagged literal: #tag form. The tag is a symbol; keep the form.
        this.pos++;
        const tag = this.readToken();
        if (tag.length === 0) this.fail(`unexpected character after #: ${JSON.stringify(n ?? '')}`);
        return this.readForm();
      }
      case '"':
        return this.readString();
      case '\\':
        return this.readChar();
      case ']':
      case ')':
      case '}':
        return this.fail(`unexpected ${c}`);
      default:
        return this.readAtom();
    }
  }

  private readSeq(close: string, startLine: number): unknown[] {
    const out: unknown[] = [];
    this.lineOf.set(out, startLine);
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.text.length) this.fail(`${close === ']' ? 'vector' : close === ')' ? 'list' : 'set'} opened at line ${startLine} is never closed`, startLine);
      if (this.text[this.pos] === close) {
        this.pos++;
        return out;
      }
      out.push(this.readForm());
    }
  }

  private readString(): string {
    const t = this.text;
    const startLine = this.line;
    this.pos++;
    let out = '';
    let chunkStart = this.pos;
    for (;;) {
      if (this.pos >= t.length) this.fail(`string opened at line ${startLine} is never closed`, startLine);
      const c = t[this.pos];
      if (c === '"') {
        out += t.slice(chunkStart, this.pos);
        this.pos++;
        return out;
      }
      if (c === '\n') this.line++;
      if (c === '\\') {
        out += t.slice(chunkStart, this.pos);
        const e = t[this.pos + 1] ?? '';
        this.pos += 2;
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case 'u': {
            const hex = t.slice(this.pos, this.pos + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail(`bad \\u escape in string: \\u${hex}`);
            out += String.fromCharCode(parseInt(hex, 16));
            this.pos += 4;
            break;
          }
          default:
            this.fail(`unknown string escape \\${e}`);
        }
        chunkStart = this.pos;
        continue;
      }
      this.pos++;
    }
  }

  private readChar(): string {
    this.pos++;
    const tok = this.readToken();
    const named: Record<string, string> = { newline: '\n', space: ' ', tab: '\t', return: '\r', backspace: '\b', formfeed: '\f' };
    if (tok.length === 0) {
      // A delimiter character such as \( or \,
      const c = this.text[this.pos] ?? this.fail('character literal at end of input');
      this.pos++;
      return c;
    }
    if (tok.length === 1) return tok;
    const n = named[tok];
    if (n !== undefined) return n;
    if (/^u[0-9a-fA-F]{4}$/.test(tok)) return String.fromCharCode(parseInt(tok.slice(1), 16));
    return this.fail(`unknown character literal \\${tok}`);
  }

  private readToken(): string {
    const t = this.text;
    const start = this.pos;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      // whitespace, comma, ; " ( ) [ ] { } end a token
      if (c === 32 || c === 9 || c === 10 || c === 13 || c === 44 || c === 59 || c === 34 || c === 40 || c === 41 || c === 91 || c === 93 || c === 123 || c === 125) break;
      this.pos++;
    }
    return t.slice(start, this.pos);
  }

  private readAtom(): unknown {
    const tok = this.readToken();
    if (tok.length === 0) this.fail(`unexpected character ${JSON.stringify(this.text[this.pos])}`);
    if (tok === 'nil') return null;
    if (tok === 'true') return true;
    if (tok === 'false') return false;
    if (tok.startsWith(':')) {
      if (tok.length === 1) this.fail('empty keyword ":"');
      return tok.slice(tok.startsWith('::') ? 2 : 1);
    }
    const c0 = tok.charCodeAt(0);
    const isDigit = (c: number): boolean => c >= 48 && c <= 57;
    if (isDigit(c0) || ((c0 === 45 || c0 === 43) && tok.length > 1 && isDigit(tok.charCodeAt(1)))) return this.number(tok);
    // A symbol: read as its name.
    return tok;
  }

  private number(tok: string): number | string {
    const int = /^([+-]?)(\d+)(N?)$/.exec(tok);
    if (int !== null) {
      const n = Number(tok.replace(/N$/, ''));
      if (Number.isSafeInteger(n)) return n;
      // Beyond 2^53 a JS number would silently round; keep the exact digits.
      return (int[1] === '-' ? '-' : '') + (int[2] as string).replace(/^0+(?=\d)/, '');
    }
    if (/^[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?$/.test(tok)) return Number(tok.replace(/M$/, ''));
    if (/^[+-]?\d+\/\d+$/.test(tok)) {
      const [a, b] = tok.split('/') as [string, string];
      return Number(a) / Number(b);
    }
    return this.fail(`malformed number ${tok}`);
  }
}

export const EOF: unique symbol = Symbol('EOF');

function keyString(k: unknown): string {
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'boolean' || k === null) return String(k);
  return JSON.stringify(k);
}

/** Parses a whole EDN text into its top-level forms (for tests and small inputs). */
export function parseEdn(text: string, file = '<edn>'): unknown[] {
  const r = new EdnReader(text, file);
  const out: unknown[] = [];
  for (let f = r.next(); f !== EOF; f = r.next()) out.push(f.value);
  return out;
}
