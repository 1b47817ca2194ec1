/**
 * Malformed input: names the file, the line (1-based; 0 when the whole file is at fault)
 * and what was wrong, so a person can open the file at that line and fix it.
 */
export class HistoryError extends Error {
  readonly file: string;
  readonly line: number;
  readonly reason: string;

  constructor(file: string, line: number, reason: string) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`);
    this.name = 'HistoryError';
    this.file = file;
    this.line = line;
    this.reason = reason;
  }
}
