import { readFileSync, writeFileSync } from 'node:fs';
import { EdnReader, EOF } from './edn.ts';
import { HistoryError } from './errors.ts';
import type { Op } from './types.ts';
import { HistoryValidator, type ReadOptions } from './validate.ts';

export type HistoryFormat = 'jsonl' | 'edn';

/**
 * Reads a history file in either format, deciding by content rather than by name:
 * JSON Lines starts with `{"`, Jepsen EDN with `[`, `(`, `{:`, `#` or a `;` comment.
 * Throws `HistoryError` naming the file and line on anything malformed.
 */
export function readHistoryFile(path: string, options: ReadOptions = {}): Op[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new HistoryError(path, 0, `cannot read file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  return parseHistory(text, path, options);
}

export function parseHistory(text: string, file: string, options: ReadOptions = {}): Op[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a UTF-8 byte-order mark
  const format = detectFormat(text);
  return format === 'jsonl' ? parseJsonLines(text, file, options) : parseEdnHistory(text, file, options);
}

export function detectFormat(text: string): HistoryFormat {
  let i = 0;
  for (;;) {
    while (i < text.length && /\s|,/.test(text[i] as string)) i++;
    if (text[i] === ';') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    break;
  }
  if (text[i] !== '{') return i >= text.length ? 'jsonl' : 'edn';
  i++;
  while (i < text.length && /\s/.test(text[i] as string)) i++;
  return text[i] === '"' || text[i] === '}' ? 'jsonl' : 'edn';
}

/** One JSON object per line; blank lines are allowed. */
export function parseJsonLines(text: string, file: string, options: ReadOptions = {}): Op[] {
  const v = new HistoryValidator(file, 'jsonl', options);
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    lineNo++;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim().length === 0) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      throw new HistoryError(file, lineNo, `bad JSON: ${(err as Error).message}`);
    }
    v.add(raw, lineNo);
  }
  return v.finish();
}

/**
 * Jepsen's `history.edn`: either a single vector (or list) of operation maps, or one map
 * per line (what `jepsen.store` writes since jepsen.history).
 */
export function parseEdnHistory(text: string, file: string, options: ReadOptions = {}): Op[] {
  const reader = new EdnReader(text, file);
  const v = new HistoryValidator(file, 'edn', options);
  for (let form = reader.next(); form !== EOF; form = reader.next()) {
    if (Array.isArray(form.value)) {
      for (const item of form.value as unknown[]) {
        const line = typeof item === 'object' && item !== null ? (reader.lineOf.get(item) ?? form.line) : form.line;
        v.add(item, line);
      }
    } else {
      v.add(form.value, form.line);
    }
  }
  return v.finish();
}

/** Serializes a history as JSON Lines (the native format), one op per line. */
export function toJsonLines(history: readonly Op[]): string {
  let out = '';
  for (const op of history) out += JSON.stringify(op) + '\n';
  return out;
}

export function writeHistoryFile(path: string, history: readonly Op[]): void {
  writeFileSync(path, toJsonLines(history));
}
