/**
 * Storage corruption, as Jepsen's etcd suite injects it: kill one node, damage one of the data
 * files its system names (`PreparedSystem.dataFiles`), start it again on the damaged files.
 * The node must either recover (a torn tail truncated, the rest re-fetched from its peers) or
 * refuse to start with a clear error; it must never serve wrong data, which the workload's
 * checkers judge. The op records exactly what was done (file, offsets or bytes cut) and
 * whether the node came back.
 *
 * - `bitflip`: flip 1–8 random bits of a log or snapshot file;
 * - `truncate`: cut 1 byte to 32 KiB off the end of a log file.
 *
 * Both aim at the bytes a file holds: systems that preallocate their log (etcd's WAL segments
 * are 64 MB of zeros when created) would otherwise have the damage land in space nothing
 * reads. A file's data ends at its last non-zero byte; truncation cuts back from there.
 *
 * One node at a time, so a quorum always keeps undamaged copies.
 */
import type { NodeHandle } from '../runtime/runtime.ts';
import type { Nemesis, NemesisContext } from './nemesis.ts';

const MAX_TRUNCATE = 32 * 1024;
const COME_BACK_MS = 10_000;

type Kind = 'bitflip' | 'truncate';

async function damagedFiles(ctx: NemesisContext, node: NodeHandle, kind: Kind): Promise<{ path: string; size: number }[]> {
  const patterns = ctx.system.dataFiles;
  if (patterns === undefined) throw new Error(`${ctx.system.system.name} names no data files`);
  const eligible = kind === 'truncate' ? patterns.log : [...patterns.log, ...patterns.snapshot];
  const files = await node.listDataFiles();
  return files.filter((f) => f.size > 0 && eligible.some((re) => re.test(f.path))).sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Bytes up to and including the last non-zero one (all of them when the file does not end in zeros). */
export function usedLength(data: Buffer): number {
  let i = data.length;
  while (i > 0 && data[i - 1] === 0) i--;
  return Math.max(1, i);
}

/** Whether the node answers its status within `ms` after a restart. */
async function cameBack(ctx: NemesisContext, node: NodeHandle, ms: number): Promise<boolean> {
  const clock = ctx.cluster.clock;
  const deadline = clock.now() + ms;
  while (clock.now() < deadline) {
    if ((await ctx.system.status(node, 1000, ctx.cluster)) !== null) return true;
    await clock.sleep(250);
  }
  return false;
}

function corruptionNemesis(kind: Kind): Nemesis {
  let target: string | null = null;
  /** The damaged file's original bytes, to undo the damage if the node refused to start on it. */
  let original: { path: string; data: Buffer } | null = null;
  return {
    name: kind,
    requires: ['data-files'],
    async start(ctx) {
      const running = ctx.cluster.nodes.filter((n) => n.state === 'running');
      if (running.length < ctx.cluster.nodes.length) return { skipped: 'a node is already down' };
      const node = ctx.rng.pick(running);
      target = node.id;
      await node.kill();
      ctx.nodeDown(node.id);
      const files = await damagedFiles(ctx, node, kind);
      if (files.length === 0) {
        await node.start();
        return { node: node.id, skipped: 'no data files of that kind yet' };
      }
      const file = ctx.rng.pick(files);
      const data = Buffer.from(await node.readDataFile(file.path));
      original = { path: file.path, data: Buffer.from(data) };
      let done: Record<string, unknown>;
      const used = usedLength(data);
      if (kind === 'bitflip') {
        const flips = Array.from({ length: 1 + ctx.rng.int(8) }, () => ({ offset: ctx.rng.int(used), bit: ctx.rng.int(8) }));
        for (const f of flips) data[f.offset] = (data[f.offset] ?? 0) ^ (1 << f.bit);
        await node.writeDataFile(file.path, data);
        done = { dataBytes: used, flips };
      } else {
        const cut = 1 + ctx.rng.int(Math.min(used, MAX_TRUNCATE));
        await node.writeDataFile(file.path, data.subarray(0, used - cut));
        done = { dataBytes: used, cutBytes: cut, newSize: used - cut };
      }
      await node.start();
      const back = await cameBack(ctx, node, COME_BACK_MS);
      if (!back) {
        // It refused (or crashed on) the damaged files: mark it down; its log says why.
        await node.kill().catch(() => {});
        ctx.nodeDown(node.id);
      }
      return { node: node.id, file: file.path, size: file.size, ...done, outcome: back ? 'restarted and answering' : `not answering ${COME_BACK_MS / 1000} s after restart (see nodes/${node.id}.log)` };
    },
    async stop(ctx) {
      if (target === null) return { node: null };
      const node = ctx.cluster.node(target);
      const saved = original;
      target = null;
      original = null;
      if (node.state === 'running') return { node: node.id, state: 'running' };
      // It refused the damaged file and never ran on it: undo the damage (the disk "healed"),
      // so later faults meet a whole cluster. A node that did start keeps what it wrote.
      if (saved !== null) await node.writeDataFile(saved.path, saved.data);
      await node.start();
      return { node: node.id, restoredFile: saved?.path ?? null, restarted: true, answering: await cameBack(ctx, node, COME_BACK_MS) };
    },
  };
}

export function fileNemeses(): Nemesis[] {
  return [corruptionNemesis('bitflip'), corruptionNemesis('truncate')];
}

/** The system's own maintenance operations on one node (etcd: compaction, defragmentation; the store: a snapshot now). */
export function adminNemesis(): Nemesis {
  return {
    name: 'admin',
    requires: ['admin'],
    async start(ctx) {
      const admin = ctx.system.admin;
      if (admin === undefined) throw new Error(`${ctx.system.system.name} has no admin operations`);
      const running = ctx.cluster.nodes.filter((n) => n.state === 'running');
      if (running.length === 0) return { skipped: 'no node running' };
      const node = ctx.rng.pick(running);
      return { node: node.id, did: await admin(node, ctx.cluster, (n) => ctx.rng.int(n)) };
    },
    stop: () => Promise.resolve({}),
  };
}
