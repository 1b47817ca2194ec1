/**
 * JSON-line logging on stdout (impl/API.md: "Logs are JSON lines on stdout"), one object a
 * line with `ts`, `level`, `node`, `msg` and any structured fields.
 */
import type { LogLevel } from './config.ts';
import { realClock } from './real-time.ts';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/**
 * `wallMs` stamps each line (the platform's wall clock; virtual in a simulation). The default
 * writer is stdout, where the real process's logs go.
 */
export function createLogger(node: string, level: LogLevel, write: (line: string) => void = (line) => process.stdout.write(line), wallMs: () => number = realClock.wallMs): Logger {
  const min = RANK[level];
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (RANK[lvl] < min) return;
    const ts = isoTime(wallMs);
    let line: string;
    try {
      line = JSON.stringify({ ts, level: lvl, node, msg, ...fields }, errorReplacer);
    } catch {
      line = JSON.stringify({ ts, level: lvl, node, msg, fields: 'unserializable' });
    }
    write(line + '\n');
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  };
}

function isoTime(wallMs: () => number): string {
  // eslint-disable-next-line no-restricted-globals -- formats an instant read from the platform's clock; reads no clock itself
  return new Date(wallMs()).toISOString();
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** A logger that drops everything, for unit tests. */
export const silentLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
