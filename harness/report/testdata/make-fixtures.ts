/**
 * Regenerates the report's test run directories from small simulated runs, judged by the
 * checkers' real code (not hand-typed results):
 *
 *   npx tsx harness/report/testdata/make-fixtures.ts
 *
 * `valid-run/`: a 5-node register run with one partition (n1, n2 cut off; n1 led term 2 and
 * keeps believing it does, n3 wins term 3), timeouts and failures during the fault.
 * `invalid-run/`: the same run, but a client talking to the deposed leader n1 during the
 * partition reads a value that had already been overwritten (a stale read), so the
 * linearizability checker rejects it and explains why.
 *
 * Deterministic (a seeded LCG; fixed timestamps), so regenerating gives the same files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mergeValidity, type CheckResult } from '../../../checkers/checker.ts';
import { checkElection } from '../../../checkers/election/election.ts';
import { toJsonLines } from '../../../checkers/history/read.ts';
import type { NodeEvent, Op } from '../../../checkers/history/types.ts';
import { checkLinearizability } from '../../../checkers/linearizability/check.ts';
import { checkReplicas } from '../../../checkers/replicas/replicas.ts';

const S = 1e9;
const MS = 1e6;
const NODES = ['n1', 'n2', 'n3', 'n4', 'n5'];
const KEYS = ['r0', 'r1'];
const PROCESSES = 4;
const END_S = 24;
const PARTITION = { from: 8 * S, to: 15 * S, minority: ['n1', 'n2'], majority: ['n3', 'n4', 'n5'] };

class Lcg {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (Math.imul(this.s, 1664525) + 1013904223) >>> 0;
    return this.s / 2 ** 32;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

interface Planned {
  process: number;
  f: 'read' | 'write';
  key: string;
  start: number;
  end: number;
  type: 'ok' | 'fail' | 'info';
  invokeValue: number | null;
  value: number | null;
  node: string;
}

/**
 * Each process issues one op at a time against its node. Writes take effect at their
 * completion instant and reads see the value at theirs, so the ok history is linearizable
 * by construction. While partitioned, a client of the minority side gets a definite failure
 * (reads; `not-leader`) or a timeout (writes: `info`, and it never took effect).
 */
function simulate(stale: boolean): { ops: Op[]; staleReads: number } {
  const rng = new Lcg(7);
  const planned: Planned[] = [];
  let nextValue = 1;
  const clock = new Array<number>(PROCESSES).fill(0).map((_, p) => 0.3 * S + p * 37 * MS);
  const ids = new Array<number>(PROCESSES).fill(0).map((_, p) => p);
  const inPartition = (t: number): boolean => t >= PARTITION.from && t < PARTITION.to;
  for (;;) {
    // The process whose next op starts first goes next, so the plan is in start order.
    let p = 0;
    for (let i = 1; i < PROCESSES; i++) if ((clock[i] as number) < (clock[p] as number)) p = i;
    const start = clock[p] as number;
    if (start > END_S * S - 1.5 * S) break;
    const node = NODES[p % NODES.length] as string;
    const f = rng.next() < 0.5 ? 'read' : 'write';
    const key = KEYS[rng.int(KEYS.length)] as string;
    const cut = inPartition(start) && PARTITION.minority.includes(node);
    // Latency: a few ms normally, slower while a new leader settles in, the op timeout when cut off.
    const base = (3 + rng.next() * 6 + (rng.next() < 0.05 ? 30 : 0)) * MS;
    const slow = inPartition(start) ? 2.5 : 1;
    let type: Planned['type'] = 'ok';
    let end = start + base * slow;
    if (cut && stale && node === 'n1' && f === 'read') {
      // --unsafe stale-reads: the deposed leader answers reads from its own, frozen state.
      end = start + base;
    } else if (cut) {
      type = f === 'read' ? 'fail' : 'info';
      end = start + (f === 'read' ? 40 * MS : 2000 * MS);
    } else if (start >= PARTITION.from && start < PARTITION.from + 1.2 * S) {
      // The majority has no leader until the election settles (n3 wins at from + 1.2 s).
      type = f === 'read' ? 'fail' : 'info';
      end = start + (f === 'read' ? 25 * MS : 2000 * MS);
    }
    planned.push({ process: ids[p] as number, f, key, start, end, type, invokeValue: f === 'write' ? nextValue++ : null, value: null, node });
    // After an info the process is replaced by a new one (Jepsen semantics).
    if (type === 'info') ids[p] = (ids[p] as number) + PROCESSES;
    clock[p] = end + (60 + rng.next() * 80) * MS;
  }
  // Apply effects in completion order. n1, cut off, still has the state it had when the partition began.
  const state = new Map<string, number | null>(KEYS.map((k) => [k, null]));
  const frozen = new Map<string, number | null>();
  const byEnd = [...planned].sort((a, b) => a.end - b.end);
  let staleReads = 0;
  for (const op of byEnd) {
    if (frozen.size === 0 && op.end >= PARTITION.from) for (const k of KEYS) frozen.set(k, state.get(k) ?? null);
    if (op.type !== 'ok') continue;
    if (op.f === 'write') state.set(op.key, op.invokeValue);
    else if (stale && op.node === 'n1' && op.start >= PARTITION.from && op.start < PARTITION.to) {
      op.value = frozen.get(op.key) ?? null;
      if (op.value !== state.get(op.key)) staleReads += 1;
    } else op.value = state.get(op.key) ?? null;
  }
  if (stale && staleReads === 0) throw new Error('fixture: no read came out stale');
  const raw: Omit<Op, 'index'>[] = [];
  for (const op of planned) {
    raw.push({ time: op.start, process: op.process, type: 'invoke', f: op.f, key: op.key, value: op.invokeValue, node: op.node });
    const done: Omit<Op, 'index'> =
      op.type === 'ok'
        ? { time: op.end, process: op.process, type: 'ok', f: op.f, key: op.key, value: op.f === 'read' ? op.value : op.invokeValue, node: op.node }
        : { time: op.end, process: op.process, type: op.type, f: op.f, key: op.key, value: op.invokeValue, node: op.node, error: op.type === 'info' ? 'timeout after 2000 ms' : 'not-leader' };
    raw.push(done);
  }
  raw.push({ time: PARTITION.from - 20 * MS, process: 'nemesis', type: 'invoke', f: 'start-partition', value: null });
  raw.push({ time: PARTITION.from, process: 'nemesis', type: 'info', f: 'start-partition', value: { minority: PARTITION.minority, majority: PARTITION.majority } });
  raw.push({ time: PARTITION.to - 15 * MS, process: 'nemesis', type: 'invoke', f: 'stop-partition', value: null });
  raw.push({ time: PARTITION.to, process: 'nemesis', type: 'info', f: 'stop-partition', value: 'network healed' });
  raw.push({ time: 21 * S, process: 'nemesis', type: 'invoke', f: 'heal', value: null });
  raw.push({ time: 21 * S + 12 * MS, process: 'nemesis', type: 'info', f: 'heal', value: { network: 'healed', resumed: [], restarted: [] } });
  // Stable sort by time; an op's completion never precedes its invocation.
  const ops = raw
    .map((o, i) => ({ o, i }))
    .sort((a, b) => a.o.time - b.o.time || a.i - b.i)
    .map(({ o }, index) => ({ index, ...o }) as Op);
  return { ops, staleReads };
}

/** Status samples every second, role changes at the election, and final digests. */
function nodeEvents(): NodeEvent[] {
  const ev: NodeEvent[] = [];
  const electedAt = PARTITION.from + 1.2 * S;
  for (let t = 1 * S; t <= END_S * S; t += S) {
    NODES.forEach((node, i) => {
      const time = t + i * 3 * MS;
      const cut = time >= PARTITION.from && time < PARTITION.to;
      let role = 'follower';
      let term = 2;
      let leader: string | null = 'n1';
      if (time >= electedAt) {
        // n1 and n2 hear of term 3 only when the partition heals; n1 keeps leading term 2 until then.
        if (cut && node === 'n1') role = 'leader';
        else if (cut && node === 'n2') leader = 'n1';
        else {
          term = 3;
          leader = 'n3';
          role = node === 'n3' ? 'leader' : 'follower';
        }
      } else if (time >= PARTITION.from) {
        if (node === 'n1') role = 'leader';
        else if (!PARTITION.minority.includes(node)) leader = null;
      } else if (node === 'n1') role = 'leader';
      const commit = Math.floor(t / (S / 10));
      ev.push({ kind: 'status', time, node, role, term, leader, commit, applied: commit });
    });
  }
  ev.push({ kind: 'role', time: 0.8 * S, node: 'n1', role: 'leader', term: 2, leader: 'n1' });
  ev.push({ kind: 'role', time: PARTITION.from + 0.9 * S, node: 'n3', role: 'candidate', term: 3, leader: null });
  ev.push({ kind: 'role', time: electedAt, node: 'n3', role: 'leader', term: 3, leader: 'n3' });
  ev.push({ kind: 'role', time: PARTITION.to + 0.05 * S, node: 'n1', role: 'follower', term: 3, leader: 'n3' });
  const entries = Array.from({ length: 40 }, (_, i) => ({ index: i + 1, term: i < 20 ? 2 : 3, hash: `h${(i * 2654435761) % 100000}` }));
  for (const node of NODES) ev.push({ kind: 'digest', time: 23 * S, node, entries });
  return ev.sort((a, b) => a.time - b.time);
}

async function writeRun(dir: string, stale: boolean): Promise<void> {
  mkdirSync(join(dir, 'nodes'), { recursive: true });
  const { ops } = simulate(stale);
  const events = nodeEvents();
  const results: CheckResult[] = [
    await checkLinearizability(ops, { model: 'register', workers: 0 }),
    checkElection({ history: ops, events }),
    checkReplicas({ history: ops, events }),
  ];
  const valid = mergeValidity(results.map((r) => r.valid));
  if (valid !== !stale) throw new Error(`fixture ${dir}: expected valid=${String(!stale)}, checkers said ${String(valid)}: ${results.map((r) => r.summary).join('; ')}`);
  const counts = { ok: 0, fail: 0, info: 0 };
  for (const o of ops) if (o.process !== 'nemesis' && o.type !== 'invoke') counts[o.type] += 1;
  const runId = stale ? '20260101t000100zinvalid' : '20260101t000000zvalid0';
  const startedAt = stale ? '2026-01-01T00:01:00.000Z' : '2026-01-01T00:00:00.000Z';
  const finishedAt = stale ? '2026-01-01T00:01:31.500Z' : '2026-01-01T00:00:31.200Z';
  const config = {
    workload: 'register',
    nemesis: 'partition',
    nodes: 5,
    concurrency: PROCESSES,
    timeLimitS: 20,
    rate: 25,
    seed: stale ? 43 : 42,
    runtime: 'local',
    resultsDir: 'results',
    unsafe: stale ? ['stale-reads'] : [],
    opTimeoutMs: 2000,
    nemesisIntervalS: 7,
    recoveryS: 3,
    logLevel: 'info',
  };
  const runJson = {
    runId,
    config,
    seed: config.seed,
    startedAt,
    workload: { name: 'register', description: 'read / write on 2 keys (register model; simulated fixture)' },
    nemeses: ['partition'],
    versions: { harness: '0.1.0', node: 'v20.0.0', git: stale ? 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' : 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' },
    command: `harness/cli.ts --nemesis partition --seed ${config.seed}${stale ? ' --unsafe stale-reads' : ''} (fixture)`,
    finishedAt,
    valid,
  };
  writeFileSync(join(dir, 'run.json'), `${JSON.stringify(runJson, null, 2)}\n`);
  writeFileSync(join(dir, 'history.jsonl'), toJsonLines(ops));
  writeFileSync(join(dir, 'events.jsonl'), events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  writeFileSync(join(dir, 'results.json'), `${JSON.stringify({ valid, runId, counts, checkers: Object.fromEntries(results.map((r) => [r.checker, r])) }, null, 2)}\n`);
  for (const n of NODES) writeFileSync(join(dir, 'nodes', `${n}.log`), `fixture: no real node ran (${n})\n`);
  console.log(`${dir}: valid=${String(valid)}, ${ops.length} ops; ${results.map((r) => `${r.checker}: ${r.summary}`).join(' | ')}`);
}

const here = dirname(fileURLToPath(import.meta.url));
await writeRun(join(here, 'valid-run'), false);
await writeRun(join(here, 'invalid-run'), true);
