/**
 * Deterministic, compact text renderings of the core's values, for golden files and for
 * simulator traces. One line per message or entry; no blank lines ever (the golden-file
 * format uses blank lines as block separators).
 */
import type { ConfChange, ConfState, Entry, HardState, Message, NodeId, Ready, ReadState, Snapshot, SoftState } from '../types.ts';
import { nodeId } from '../types.ts';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Test node ids are `n1`, `n2`, ...; scripts and output use the bare number. */
export const testNodeId = (k: number | string): NodeId => {
  const s = String(k);
  return nodeId(s.startsWith('n') ? s : `n${s}`);
};
export const shortId = (id: NodeId | null): string => (id === null ? 'none' : id.startsWith('n') ? id.slice(1) : id);

export const utf8 = (s: string): Uint8Array => encoder.encode(s);
export const fromUtf8 = (b: Uint8Array): string => decoder.decode(b);

export const formatIds = (ids: readonly NodeId[]): string => `(${ids.map(shortId).join(',')})`;

export const formatConfState = (c: ConfState): string =>
  `voters=${formatIds(c.voters)} learners=${formatIds(c.learners)}`;

export function formatConfChange(c: ConfChange): string {
  return `${c.type} ${shortId(c.node)}`;
}

/** `term/index type payload`, e.g. `2/6 noop`, `1/3 "x"`, `3/9 conf add-learner 4`. */
export function formatEntry(e: Entry): string {
  const head = `${e.term}/${e.index}`;
  switch (e.type) {
    case 'noop':
      return `${head} noop`;
    case 'normal':
      return `${head} ${JSON.stringify(fromUtf8(e.data))}`;
    case 'conf-change': {
      const text = fromUtf8(e.data);
      try {
        return `${head} conf ${formatConfChange(JSON.parse(text) as ConfChange)}`;
      } catch {
        return `${head} conf ${JSON.stringify(text)}`;
      }
    }
  }
}

export const formatEntries = (es: readonly Entry[]): string => `[${es.map(formatEntry).join(', ')}]`;

export const formatHardState = (h: HardState): string => `term=${h.term} vote=${shortId(h.vote)} commit=${h.commit}`;

export const formatSoftState = (s: SoftState): string => `${s.role} term=${s.term} leader=${shortId(s.leader)}`;

export const formatSnapshotMeta = (s: Snapshot): string =>
  `index=${s.metadata.index} term=${s.metadata.term} ${formatConfState(s.metadata.confState)}`;

export const formatReadState = (r: ReadState): string => `read ${r.requestId} index=${r.index}`;

/** One line per message, only the fields its type uses, e.g. `1->2 append term=2 index=5 logTerm=1 entries=[2/6 noop] commit=5`. */
export function formatMessage(m: Message): string {
  const head = `${shortId(m.from)}->${shortId(m.to)} ${m.type} term=${m.term}`;
  const ctx = m.context === null ? '' : ` ctx=${JSON.stringify(m.context)}`;
  switch (m.type) {
    case 'pre-vote':
    case 'vote':
      return `${head} index=${m.index} logTerm=${m.logTerm}`;
    case 'pre-vote-resp':
    case 'vote-resp':
      return `${head}${m.reject ? ' rejected' : ' granted'}`;
    case 'append':
      return `${head} index=${m.index} logTerm=${m.logTerm} entries=${formatEntries(m.entries)} commit=${m.commit}`;
    case 'append-resp':
      return m.reject
        ? `${head} index=${m.index} rejected hint=${m.rejectHint} hintTerm=${m.rejectHintTerm}`
        : `${head} index=${m.index}`;
    case 'heartbeat':
      return `${head} commit=${m.commit}${ctx}`;
    case 'heartbeat-resp':
      return `${head}${ctx}`;
    case 'snapshot':
      return `${head} snapshot=${m.snapshot === null ? 'none' : formatSnapshotMeta(m.snapshot)}`;
    case 'timeout-now':
      return head;
    case 'read-index':
      return `${head}${ctx}`;
    case 'read-index-resp':
      return `${head} index=${m.index}${m.reject ? ' rejected' : ''}${ctx}`;
  }
}

/**
 * Identical lines counted once, in first-seen order, as `line (xN)`: a leader that ticked
 * ten times without handling its Ready has ten identical heartbeats per follower.
 */
export function collapseRepeats(lines: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const l of lines) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts].map(([l, n]) => (n === 1 ? l : `${l} (x${n})`));
}

/** A Ready, indented, one item per line; empty sections are left out. */
export function formatReady(r: Ready, indent = '  '): string[] {
  const out: string[] = [];
  out.push(`${indent}state: ${formatSoftState(r.softState)}`);
  if (r.hardState !== null) out.push(`${indent}hard state: ${formatHardState(r.hardState)}`);
  if (r.snapshot !== null) out.push(`${indent}snapshot: ${formatSnapshotMeta(r.snapshot)}`);
  if (r.entries.length > 0) {
    out.push(`${indent}entries:`);
    for (const e of r.entries) out.push(`${indent}  ${formatEntry(e)}`);
  }
  if (r.committedEntries.length > 0) {
    out.push(`${indent}committed:`);
    for (const e of r.committedEntries) out.push(`${indent}  ${formatEntry(e)}`);
  }
  if (r.messages.length > 0) {
    out.push(`${indent}messages:`);
    for (const m of collapseRepeats(r.messages.map(formatMessage))) out.push(`${indent}  ${m}`);
  }
  if (r.persistedMessages.length > 0) {
    out.push(`${indent}messages after persist:`);
    for (const m of collapseRepeats(r.persistedMessages.map(formatMessage))) out.push(`${indent}  ${m}`);
  }
  for (const rs of r.readStates) out.push(`${indent}${formatReadState(rs)}`);
  return out;
}
