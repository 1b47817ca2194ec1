/**
 * Watches: some processes put unique values on a few keys under `w/`, others hold a watch
 * stream on the prefix for a second or two, then resume from the last revision they saw
 * (one history op per connection, as Jepsen's etcd watch test). The watch checker proves
 * every watcher saw each committed change once, in revision order, with no gaps or phantoms.
 */
import fc from 'fast-check';
import type { Checker } from '../checkers/checker.ts';
import { WatchChecker } from '../checkers/watch/watch.ts';
import { standardCheckers } from './checkers.ts';
import type { ClientSession, OpSpec, Outcome, Workload } from './workload.ts';
import { classify } from './workload.ts';

const PREFIX = 'w/';

interface WatchArg {
  readonly watcher: string;
  readonly prefix: string;
  readonly fromRevision?: number;
  readonly durationMs: number;
}

export function watchWorkload(options: { readonly keys: number } = { keys: 3 }): Workload {
  const keys = Array.from({ length: options.keys }, (_, i) => `${PREFIX}k${i}`);
  return {
    name: 'watch',
    description: `puts on ${keys.length} keys under ${PREFIX}, watch streams on the prefix resumed from the last revision seen (watch checker)`,
    operations: () =>
      fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...keys).map((key): OpSpec => ({ f: 'put', key, value: null })) },
        { weight: 1, arbitrary: fc.integer({ min: 500, max: 2000 }).map((durationMs): OpSpec => ({ f: 'watch', value: durationMs })) },
      ),
    prepare(session: ClientSession, op: OpSpec): OpSpec {
      if (op.f === 'put') return { f: 'put', key: op.key ?? keys[0] ?? 'w/k0', value: { value: session.uniqueValue() } };
      const last = session.memory.get('lastRevision');
      const arg: WatchArg = {
        watcher: session.clientId,
        prefix: PREFIX,
        durationMs: op.value as number,
        ...(typeof last === 'number' ? { fromRevision: last + 1 } : {}),
      };
      return { f: 'watch', value: arg };
    },
    async invoke(session: ClientSession, op: OpSpec): Promise<Outcome> {
      if (op.f === 'watch') return watchOnce(session, op.value as WatchArg);
      const arg = op.value as { value: number };
      const { outcome, node } = await session.request('/v1/kv/put', {
        method: 'POST',
        body: { key: op.key, ...arg, clientId: session.clientId, seq: session.nextSeq() },
      });
      return classify(outcome, node, false, (b) => ({ version: b.version, modRevision: b.modRevision }));
    },
    finalReads: () => [],
    checkers: (): Checker[] => [new WatchChecker(), ...standardCheckers({ model: null })],
  };
}

interface WatchLine {
  readonly type?: string;
  readonly revision?: number;
}

/**
 * One watch connection for `durationMs` (or until the stream breaks). Always `ok`: a watch
 * changes nothing, and what it delivered is what it delivered; `error` says why it ended early.
 */
async function watchOnce(session: ClientSession, arg: WatchArg): Promise<Outcome> {
  const node = session.node;
  const events: WatchLine[] = [];
  let progressRevision: number | undefined;
  let error: string | undefined;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), arg.durationMs);
  try {
    const q = `prefix=${encodeURIComponent(arg.prefix)}${arg.fromRevision !== undefined ? `&fromRevision=${arg.fromRevision}` : ''}`;
    const res = await fetch(`${session.urlOf(node)}/v1/watch?${q}`, { signal: abort.signal });
    if (!res.ok || res.body === null) {
      error = `http-${res.status}`;
    } else {
      const decoder = new TextDecoder();
      let buf = '';
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk as Uint8Array, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line === '') continue;
          const e = JSON.parse(line) as WatchLine;
          if (e.type === 'progress') progressRevision = e.revision;
          else events.push(e);
        }
      }
      error = 'stream ended';
    }
  } catch (e) {
    if (!abort.signal.aborted) error = e instanceof Error ? e.message : String(e);
  } finally {
    clearTimeout(timer);
  }
  const lastEvent = events.at(-1)?.revision;
  const last = Math.max(lastEvent ?? 0, progressRevision ?? 0, (arg.fromRevision ?? 1) - 1);
  if (last > 0) session.memory.set('lastRevision', last);
  return { type: 'ok', value: { events, ...(progressRevision !== undefined ? { progressRevision } : {}), ...(error !== undefined ? { error } : {}) }, node };
}
