/** Shared test helpers for the storage tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { StorageLogger } from '../disk-storage.ts';
import type { ConfState, Entry, EntryType, HardState, Index, NodeId, Term } from '../../raft/types.ts';

export function tempDir(prefix = 'disk-storage-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function ent(i: number, t: number, data = `e${i}t${t}`, type: EntryType = 'normal'): Entry {
  return { index: i as Index, term: t as Term, type, data: new TextEncoder().encode(data) };
}

export function ents(from: number, to: number, t: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(ent(i, t));
  return out;
}

export function hs(t: number, commit: number, vote: string | null = null): HardState {
  return { term: t as Term, commit: commit as Index, vote: vote as NodeId | null };
}

export const conf = (...voters: string[]): ConfState => ({ voters: voters as NodeId[], learners: [] });

export interface CapturedLog extends StorageLogger {
  readonly lines: { level: string; msg: string; fields?: Record<string, unknown> }[];
}

export function captureLogger(): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const push = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push(fields === undefined ? { level, msg } : { level, msg, fields });
  };
  return { lines, info: push('info'), warn: push('warn'), error: push('error') };
}

export const text = (e: Entry): string => new TextDecoder().decode(e.data);
