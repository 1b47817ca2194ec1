import { existsSync, readFileSync } from 'node:fs';
import type { NodeEvent } from '../../../checkers/history/types.ts';

/** The node's own role log (`{"kind":"role","ts":<unix ms>,...}`, impl/API.md) on the history's clock. */
export function readRoleEvents(path: string, startedAtMs: number): NodeEvent[] {
  if (!existsSync(path)) return [];
  const out: NodeEvent[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const e = JSON.parse(line) as { kind?: string; ts?: number; node?: string; role?: string; term?: number; leader?: string | null };
      if (e.kind !== 'role' || typeof e.ts !== 'number' || typeof e.node !== 'string' || typeof e.term !== 'number') continue;
      out.push({ kind: 'role', time: (e.ts - startedAtMs) * 1e6, node: e.node, role: e.role ?? 'unknown', term: e.term, leader: e.leader ?? null });
    } catch {
      // A torn last line from a killed node: skip it.
    }
  }
  return out;
}
