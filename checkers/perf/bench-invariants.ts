/**
 * Time the invariant checkers on generated valid histories of N operations (default 100000):
 * `npm run bench:invariants -- [N]`. Prints one line per checker; the last line is JSON.
 */
import type { NodeEvent, Op } from '../history/types.ts';
import { checkSet } from '../set/set.ts';
import { checkPerf } from './perf.ts';
import { checkLease } from '../lease/lease.ts';
import { checkWatch } from '../watch/watch.ts';
import { checkElection } from '../election/election.ts';
import { checkReplicas } from '../replicas/replicas.ts';

const N = Number(process.argv[2] ?? 100000);
if (!Number.isInteger(N) || N < 100) throw new Error(`N must be an integer >= 100, got ${process.argv[2]}`);
const figures: Record<string, number> = {};
function time(name: string, f: () => { valid: unknown; summary: string }): void {
  const t0 = performance.now();
  const r = f();
  const ms = Math.round(performance.now() - t0);
  figures[name.split(' ')[0]!] = ms;
  if (r.valid !== true) throw new Error(`${name}: expected a valid verdict, got ${String(r.valid)}: ${r.summary}`);
  console.log(`${name}: ${ms} ms (${r.summary.slice(0, 90)})`);
}
// set: N adds over 20 processes, a read every 100 adds
{
  const ops: Op[] = [];
  let t = 0;
  const present: number[] = [];
  for (let i = 0; i < N; i++) {
    ops.push({ index: ops.length, time: (t += 1000), process: i % 20, type: 'invoke', f: 'add', value: i });
    ops.push({ index: ops.length, time: (t += 1000), process: i % 20, type: 'ok', f: 'add', value: i });
    present.push(i);
    if (i % Math.max(1, Math.floor(N / 200)) === 0) {
      ops.push({ index: ops.length, time: (t += 1000), process: 99, type: 'invoke', f: 'read', value: null });
      ops.push({ index: ops.length, time: (t += 1000), process: 99, type: 'ok', f: 'read', value: [...present] });
    }
  }
  ops.push({ index: ops.length, time: (t += 1000), process: 99, type: 'invoke', f: 'read', value: null });
  ops.push({ index: ops.length, time: t + 1000, process: 99, type: 'ok', f: 'read', value: [...present] });
  time(`set ${N} adds, 200 reads`, () => checkSet({ history: ops }));
  time(`perf on the set history (${ops.length} ops)`, () => checkPerf({ history: ops }));
}
// lease: N grants round robin
{
  const ops: Op[] = [];
  let t = 0;
  for (let i = 0; i < N; i++) {
    const p = i % 5;
    const t0 = (t += 1_000_000);
    ops.push({ index: ops.length, time: t0, process: p, type: 'invoke', f: 'acquire', key: `L${i % 10}`, value: { holder: `h${p}`, ttlMs: 100 } });
    ops.push({ index: ops.length, time: (t += 1_000_000), process: p, type: 'ok', f: 'acquire', key: `L${i % 10}`, value: { token: i + 1 } });
    t += 150_000_000 / 10;
  }
  time(`lease ${N} grants`, () => checkLease({ history: ops }));
}
// watch: N puts, 5 watchers each with 10 sessions
{
  const ops: Op[] = [];
  let t = 0;
  const events: { revision: number; type: 'put'; key: string; value: string }[] = [];
  for (let i = 0; i < N; i++) {
    const key = `/a/${i % 50}`;
    ops.push({ index: ops.length, time: (t += 1000), process: 1, type: 'invoke', f: 'put', key, value: { value: `v${i}` } });
    ops.push({ index: ops.length, time: (t += 1000), process: 1, type: 'ok', f: 'put', key, value: { modRevision: i + 2 } });
    events.push({ revision: i + 2, type: 'put', key, value: `v${i}` });
  }
  for (let w = 0; w < 5; w++) {
    for (let s = 0; s < 10; s++) {
      const slice = events.slice((s * N) / 10, ((s + 1) * N) / 10);
      ops.push({ index: ops.length, time: (t += 1000), process: 10 + w, type: 'invoke', f: 'watch', value: { watcher: `w${w}`, prefix: '/a/', fromRevision: slice[0]!.revision } });
      ops.push({ index: ops.length, time: (t += 1000), process: 10 + w, type: 'ok', f: 'watch', value: { events: slice } });
    }
  }
  time(`watch ${N} puts x 5 watchers`, () => checkWatch({ history: ops }));
}
// election + replicas: N/10 status samples, 3 nodes
{
  const events: NodeEvent[] = [];
  for (let i = 0; i < N / 10; i++) {
    const term = 1 + Math.floor(i / 100);
    const leader = `n${1 + (term % 3)}`;
    for (const n of ['n1', 'n2', 'n3']) events.push({ kind: 'status', time: i * 1e7, node: n, role: n === leader ? 'leader' : 'follower', term, leader, commit: i, applied: i });
  }
  time(`election ${events.length} samples`, () => checkElection({ history: [], events }));
  const digests: NodeEvent[] = [];
  for (const n of ['n1', 'n2', 'n3']) for (let b = 0; b < 10; b++) digests.push({ kind: 'digest', time: b, node: n, entries: Array.from({ length: N / 10 }, (_, k) => ({ index: b * (N / 10) + k + 1, term: 1, hash: `h${b * (N / 10) + k}` })) });
  time(`replicas 3 nodes x ${N} entries`, () => checkReplicas({ history: [], events: digests }));
}
console.log(JSON.stringify({ n: N, ms: figures, rssMb: Math.round(process.memoryUsage().rss / 2 ** 20) }));
