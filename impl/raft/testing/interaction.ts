/**
 * A scripted interaction environment for the Raft core, in the spirit of etcd's rafttest
 * InteractionEnv: a small command language whose output is deterministic text, checked
 * against golden files (`impl/raft/testdata/*.txt`).
 *
 * Golden-file format (datadriven): comment lines start with `#`; a block is one command
 * line, a `----` line, and the expected output up to the next blank line.
 *
 * Commands (node ids are numbers; `(1,2,3)` is a list):
 *   add-nodes N [voters=(..)] [learners=(..)] [pre-vote=B] [check-quorum=B] [election=N] [heartbeat=N]
 *             [max-inflight=N] [max-msg-bytes=N]      new nodes; without voters=, later nodes join empty
 *   campaign ID | propose ID DATA | propose-conf-change ID add-learner|promote|remove NODE
 *   read-index ID REQ | transfer-leadership FROM TO
 *   tick ID [N] | tick-all N
 *   process-ready [ID..]        take each Ready, persist it, send, apply, advance
 *   ready ID / persist ID       the two halves of process-ready (messages leave at `ready`;
 *                               gated messages only at `persist`); a crash in between loses the Ready
 *   deliver-msgs [ID..] [drop=(..)] [type=T] [count=N]
 *                               deliver queued messages to the given recipients (all if none);
 *                               drop= discards those addressed to the listed nodes
 *   drop-msgs [ID..]            discard queued messages (to the given recipients)
 *   partition (1,2) (3) | heal
 *   crash ID | restart ID | compact ID INDEX
 *   stabilize [ID..]            process-ready and deliver until nothing moves
 *   status ID | raft-log ID | raft-state | applied ID
 */
import type { Message, NodeId, RaftConfig, SoftState } from '../types.ts';
import { ProposalDropped } from '../types.ts';
import { newDisk } from './disk.ts';
import {
  collapseRepeats,
  formatConfState,
  formatEntry,
  formatHardState,
  formatMessage,
  formatReady,
  formatSoftState,
  shortId,
  testNodeId,
  utf8,
} from './format.ts';
import { SeededRng } from './prng.ts';
import { TestNode } from './test-node.ts';

// ---- datadriven file format ---------------------------------------------------------

export interface Block {
  /** Comment and blank lines preceding the command, verbatim. */
  readonly preamble: string[];
  readonly line: number;
  readonly command: string;
  readonly expected: string;
}

export interface ParsedFile {
  readonly blocks: Block[];
  /** Comment and blank lines after the last block. */
  readonly trailer: string[];
}

export function parseDataDriven(text: string, file: string): ParsedFile {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const blocks: Block[] = [];
  let preamble: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line.trim() === '' || line.startsWith('#')) {
      preamble.push(line);
      i++;
      continue;
    }
    const command = line.trim();
    const at = i + 1;
    if (lines[i + 1] !== '----') throw new Error(`${file}:${at}: command "${command}" must be followed by a "----" line`);
    i += 2;
    const out: string[] = [];
    while (i < lines.length && (lines[i] as string).trim() !== '') out.push(lines[i++] as string);
    blocks.push({ preamble, line: at, command, expected: out.join('\n') });
    preamble = [];
  }
  return { blocks, trailer: preamble };
}

export function renderDataDriven(parsed: ParsedFile, outputs: readonly string[]): string {
  const out: string[] = [];
  parsed.blocks.forEach((b, i) => {
    out.push(...b.preamble, b.command, '----', outputs[i] ?? b.expected);
  });
  out.push(...parsed.trailer);
  return `${out.join('\n')}\n`;
}

// ---- command parsing ----------------------------------------------------------------

interface Command {
  readonly name: string;
  readonly args: string[];
  readonly opts: Map<string, string>;
}

function parseCommand(text: string): Command {
  const tokens: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (/\s/.test(ch) && depth === 0) {
      if (cur !== '') tokens.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur !== '') tokens.push(cur);
  const [name, ...rest] = tokens;
  if (name === undefined) throw new Error('empty command');
  const args: string[] = [];
  const opts = new Map<string, string>();
  for (const t of rest) {
    const eq = t.indexOf('=');
    if (eq > 0 && !t.startsWith('(')) opts.set(t.slice(0, eq), t.slice(eq + 1));
    else args.push(t);
  }
  return { name, args, opts };
}

function parseList(s: string, what: string): number[] {
  const m = /^\((.*)\)$/.exec(s.replace(/\s+/g, ''));
  if (m === null) throw new Error(`${what}: expected a list like (1,2,3), got "${s}"`);
  const body = m[1] as string;
  if (body === '') return [];
  return body.split(',').map((x) => parseNumber(x, what));
}

function parseNumber(s: string, what: string): number {
  if (!/^\d+$/.test(s)) throw new Error(`${what}: expected a non-negative integer, got "${s}"`);
  return Number(s);
}

function parseBool(s: string, what: string): boolean {
  if (s === 'true') return true;
  if (s === 'false') return false;
  throw new Error(`${what}: expected true or false, got "${s}"`);
}

// ---- the environment ----------------------------------------------------------------

export class InteractionEnv {
  private readonly nodes = new Map<number, TestNode>();
  private queue: Message[] = [];
  private side = new Map<NodeId, number>();
  private readonly lastState = new Map<NodeId, string>();
  private readonly lastReadyState = new Map<NodeId, string>();

  /** Run one command; returns its output (never empty, never containing a blank line). */
  run(text: string): string {
    const cmd = parseCommand(text);
    const out: string[] = [];
    this.dispatch(cmd, out);
    out.push(...this.stateChanges());
    const result = out.length === 0 ? 'ok' : out.join('\n');
    return result;
  }

  private node(arg: string | undefined, what: string): TestNode {
    if (arg === undefined) throw new Error(`${what}: missing node id`);
    const k = parseNumber(arg, what);
    const n = this.nodes.get(k);
    if (n === undefined) throw new Error(`${what}: no node ${k}`);
    return n;
  }

  private upNode(arg: string | undefined, what: string): TestNode {
    const n = this.node(arg, what);
    if (!n.up) throw new Error(`${what}: node ${shortId(n.id)} is down`);
    if (n.pending !== null) throw new Error(`${what}: node ${shortId(n.id)} is between "ready" and "persist"`);
    return n;
  }

  private targets(args: readonly string[], what: string): TestNode[] {
    if (args.length === 0) return [...this.nodes.values()];
    return args.map((a) => this.node(a, what));
  }

  private checkOpts(cmd: Command, allowed: readonly string[]): void {
    for (const k of cmd.opts.keys()) {
      if (!allowed.includes(k)) throw new Error(`${cmd.name}: unknown option "${k}" (allowed: ${allowed.join(', ') || 'none'})`);
    }
  }

  private dispatch(cmd: Command, out: string[]): void {
    const { name, args, opts } = cmd;
    switch (name) {
      case 'add-nodes': {
        this.checkOpts(cmd, ['voters', 'learners', 'pre-vote', 'check-quorum', 'election', 'heartbeat', 'max-inflight', 'max-msg-bytes']);
        const count = parseNumber(args[0] ?? '', 'add-nodes');
        const firstNew = this.nodes.size + 1;
        const fresh = Array.from({ length: count }, (_, i) => firstNew + i);
        const voters = opts.has('voters') ? parseList(opts.get('voters') as string, 'add-nodes voters') : this.nodes.size === 0 ? fresh : [];
        const learners = opts.has('learners') ? parseList(opts.get('learners') as string, 'add-nodes learners') : [];
        const optNum = (k: string): number | undefined => (opts.has(k) ? parseNumber(opts.get(k) as string, `add-nodes ${k}`) : undefined);
        const optBool = (k: string): boolean => (opts.has(k) ? parseBool(opts.get(k) as string, `add-nodes ${k}`) : false);
        const electionTicks = optNum('election') ?? 10;
        const heartbeatTicks = optNum('heartbeat') ?? 1;
        const maxInflightMsgs = optNum('max-inflight');
        const maxMsgBytes = optNum('max-msg-bytes');
        const conf = { voters: voters.map(testNodeId), learners: learners.map(testNodeId) };
        for (const k of fresh) {
          const id = testNodeId(k);
          const makeConfig = (incarnation: number): RaftConfig => ({
            id,
            electionTicks,
            heartbeatTicks,
            // Timers are seeded by node and incarnation, so every script replays exactly.
            rng: new SeededRng(k * 1000 + incarnation),
            preVote: optBool('pre-vote'),
            checkQuorum: optBool('check-quorum'),
            ...(maxInflightMsgs === undefined ? {} : { maxInflightMsgs }),
            ...(maxMsgBytes === undefined ? {} : { maxMsgBytes, maxInflightBytes: Math.max(maxMsgBytes, 16 * 1024 * 1024) }),
          });
          const disk = newDisk(voters.includes(k) || learners.includes(k) ? conf : { voters: [], learners: [] });
          const n = new TestNode(id, makeConfig, disk);
          this.nodes.set(k, n);
          // Apply the bootstrap log (the founding membership) right away, quietly: every
          // script would otherwise start with the same screenful of conf-change entries.
          if (n.rawNode().hasReady()) {
            const r = n.takeReady();
            this.lastReadyState.set(id, formatSoftState(r.softState));
            const { gated } = n.finishReady();
            this.queue.push(...r.messages, ...gated);
          }
          out.push(this.statusLine(n));
          this.lastState.set(id, formatSoftState(n.rawNode().softState()));
        }
        return;
      }
      case 'campaign':
        this.upNode(args[0], name).rawNode().campaign();
        return;
      case 'propose': {
        const n = this.upNode(args[0], name);
        const data = args[1];
        if (data === undefined) throw new Error('propose: missing DATA');
        this.dropping(out, () => n.rawNode().propose(utf8(data)));
        return;
      }
      case 'propose-conf-change': {
        const n = this.upNode(args[0], name);
        const type = args[1];
        if (type !== 'add-learner' && type !== 'promote' && type !== 'remove') {
          throw new Error(`propose-conf-change: type must be add-learner, promote or remove, got "${type}"`);
        }
        const target = testNodeId(parseNumber(args[2] ?? '', 'propose-conf-change NODE'));
        this.dropping(out, () => n.rawNode().proposeMembershipChange({ type, node: target }));
        return;
      }
      case 'read-index': {
        const n = this.upNode(args[0], name);
        const req = args[1];
        if (req === undefined) throw new Error('read-index: missing REQ');
        n.rawNode().readIndex(req);
        return;
      }
      case 'transfer-leadership': {
        const n = this.upNode(args[0], name);
        const to = this.node(args[1], `${name} TO`);
        n.rawNode().transferLeadership(to.id);
        return;
      }
      case 'tick': {
        const n = this.upNode(args[0], name);
        const times = args[1] === undefined ? 1 : parseNumber(args[1], 'tick N');
        for (let i = 0; i < times; i++) n.rawNode().tick();
        return;
      }
      case 'tick-all': {
        const times = parseNumber(args[0] ?? '', 'tick-all N');
        for (let i = 0; i < times; i++) for (const n of this.nodes.values()) if (n.up && n.pending === null) n.rawNode().tick();
        return;
      }
      case 'process-ready':
        for (const n of this.targets(args, name)) if (n.up && n.pending === null && n.rawNode().hasReady()) this.processReady(n, out);
        return;
      case 'ready': {
        const n = this.upNode(args[0], name);
        if (!n.rawNode().hasReady()) {
          out.push(`> ${shortId(n.id)} has no Ready`);
          return;
        }
        out.push(`> ${shortId(n.id)} took a Ready (not yet persisted)`);
        const r = n.takeReady();
        out.push(...this.readyLines(n, r));
        this.queue.push(...r.messages);
        return;
      }
      case 'persist': {
        const n = this.node(args[0], name);
        if (!n.up || n.pending === null) throw new Error(`persist: node ${shortId(n.id)} has no Ready taken`);
        out.push(`> ${shortId(n.id)} persisted its Ready`);
        const { gated } = n.finishReady();
        this.queue.push(...gated);
        return;
      }
      case 'deliver-msgs': {
        this.checkOpts(cmd, ['drop', 'type', 'count']);
        const drop = new Set((opts.has('drop') ? parseList(opts.get('drop') as string, 'deliver-msgs drop') : []).map(testNodeId));
        const type = opts.get('type');
        const count = opts.has('count') ? parseNumber(opts.get('count') as string, 'deliver-msgs count') : Infinity;
        const to = args.length === 0 ? null : new Set(args.map((a) => this.node(a, name).id));
        this.deliver((m) => (to === null || to.has(m.to) || drop.has(m.to)) && (type === undefined || m.type === type), drop, count, out);
        return;
      }
      case 'drop-msgs': {
        const to = args.length === 0 ? null : new Set(args.map((a) => this.node(a, name).id));
        const dropped: string[] = [];
        this.queue = this.queue.filter((m) => {
          if (to !== null && !to.has(m.to)) return true;
          dropped.push(`dropped: ${formatMessage(m)}`);
          return false;
        });
        out.push(...collapseRepeats(dropped));
        return;
      }
      case 'partition': {
        if (args.length === 0) throw new Error('partition: expected groups like (1,2) (3)');
        this.side.clear();
        args.forEach((g, i) => {
          for (const k of parseList(g, 'partition')) this.side.set(this.node(String(k), 'partition').id, i + 1);
        });
        out.push(`partitioned: ${args.join(' | ')}`);
        return;
      }
      case 'heal':
        this.side.clear();
        return;
      case 'crash': {
        const n = this.node(args[0], name);
        if (!n.up) throw new Error(`crash: node ${shortId(n.id)} is already down`);
        const lost = n.pending !== null;
        n.crash();
        this.lastState.delete(n.id);
        this.lastReadyState.delete(n.id);
        out.push(`${shortId(n.id)} crashed${lost ? ', losing its unpersisted Ready' : ''}; disk: ${formatHardState(n.disk.initialState().hardState)} last=${n.disk.lastIndex()}`);
        return;
      }
      case 'restart': {
        const n = this.node(args[0], name);
        n.restart();
        const s = formatSoftState(n.rawNode().softState());
        this.lastState.set(n.id, s);
        out.push(`${shortId(n.id)} restarted: ${s} disk: ${formatHardState(n.disk.initialState().hardState)} last=${n.disk.lastIndex()}`);
        return;
      }
      case 'compact': {
        const n = this.upNode(args[0], name);
        const at = parseNumber(args[1] ?? '', 'compact INDEX');
        const snap = n.compact(at);
        out.push(`${shortId(n.id)} compacted through ${at}: snapshot index=${snap.metadata.index} term=${snap.metadata.term}, log now [${n.disk.firstIndex()}, ${n.disk.lastIndex()}]`);
        return;
      }
      case 'stabilize': {
        const only = args.length === 0 ? null : new Set(args.map((a) => this.node(a, name).id));
        for (let round = 0; ; round++) {
          if (round > 200) throw new Error('stabilize: no quiescence after 200 rounds');
          let moved = false;
          for (const n of this.nodes.values()) {
            if ((only === null || only.has(n.id)) && n.up && n.pending === null && n.rawNode().hasReady()) {
              this.processReady(n, out);
              moved = true;
            }
          }
          const before = this.queue.length;
          this.deliver((m) => only === null || (only.has(m.to) && only.has(m.from)), new Set(), Infinity, out);
          if (this.queue.length !== before) moved = true;
          if (!moved) return;
        }
      }
      case 'status': {
        const n = this.node(args[0], name);
        out.push(this.statusLine(n));
        if (n.up) {
          for (const p of n.rawNode().peerProgress()) {
            out.push(`  ${shortId(p.id)}${p.isLearner ? ' (learner)' : ''}: match=${p.match} next=${p.next} ${p.state}${p.recentActive ? ' active' : ''}`);
          }
        }
        return;
      }
      case 'raft-state':
        for (const n of this.nodes.values()) out.push(this.statusLine(n));
        return;
      case 'raft-log': {
        const n = this.node(args[0], name);
        const snap = n.disk.snapshot();
        out.push(`${shortId(n.id)} disk: ${formatHardState(n.disk.initialState().hardState)}`);
        if (snap.metadata.index > 0) out.push(`snapshot index=${snap.metadata.index} term=${snap.metadata.term} ${formatConfState(snap.metadata.confState)}`);
        const ents = n.disk.allEntries();
        if (ents.length === 0) out.push('log empty');
        for (const e of ents) out.push(formatEntry(e));
        return;
      }
      case 'applied': {
        const n = this.node(args[0], name);
        const data = n.applied.filter((k) => k.split('/')[2] === 'normal').map((k) => k.split('/').slice(3).join('/'));
        out.push(`${shortId(n.id)} applied through ${n.appliedIndex}: [${data.join(' ')}]`);
        return;
      }
      default:
        throw new Error(`unknown command "${name}"`);
    }
  }

  private dropping(out: string[], f: () => void): void {
    try {
      f();
    } catch (e) {
      if (!(e instanceof ProposalDropped)) throw e;
      out.push(`dropped: ${e.reason}`);
    }
  }

  private statusLine(n: TestNode): string {
    const k = shortId(n.id);
    if (!n.up) return `${k}: down disk: ${formatHardState(n.disk.initialState().hardState)} last=${n.disk.lastIndex()}`;
    const raw = n.rawNode();
    const p = raw.progress();
    return `${k}: ${formatSoftState(raw.softState())} commit=${p.commit} last=${p.lastIndex} applied=${n.appliedIndex} ${formatConfState(raw.confState())}`;
  }

  private readyLines(n: TestNode, r: ReturnType<TestNode['takeReady']>): string[] {
    const s = formatSoftState(r.softState);
    const lines = formatReady(r);
    if (this.lastReadyState.get(n.id) === s) lines.shift();
    this.lastReadyState.set(n.id, s);
    return lines;
  }

  private processReady(n: TestNode, out: string[]): void {
    out.push(`> ${shortId(n.id)} handling Ready`);
    const r = n.takeReady();
    out.push(...this.readyLines(n, r));
    this.queue.push(...r.messages);
    const { gated } = n.finishReady();
    this.queue.push(...gated);
  }

  /** Deliver (in recipient order, FIFO per recipient) up to `limit` queued messages matching `select`. */
  private deliver(select: (m: Message) => boolean, drop: ReadonlySet<NodeId>, limit: number, out: string[]): void {
    const chosen: Message[] = [];
    const kept: Message[] = [];
    for (const m of this.queue) {
      if (chosen.length < limit && select(m)) chosen.push(m);
      else kept.push(m);
    }
    this.queue = kept;
    const order = [...this.nodes.values()].map((n) => n.id);
    chosen.sort((a, b) => order.indexOf(a.to) - order.indexOf(b.to));
    let current: NodeId | null = null;
    let lines: string[] = [];
    const flush = (): void => {
      out.push(...collapseRepeats(lines).map((l) => `  ${l}`));
      lines = [];
    };
    for (const m of chosen) {
      const to = [...this.nodes.values()].find((n) => n.id === m.to);
      if (m.to !== current) {
        flush();
        current = m.to;
        out.push(`> ${shortId(m.to)} receiving messages`);
      }
      if (drop.has(m.to)) {
        lines.push(`dropped: ${formatMessage(m)}`);
        this.reportSnapshot(m, false);
      } else if (to === undefined || !to.up) {
        lines.push(`dropped (${shortId(m.to)} is down): ${formatMessage(m)}`);
        this.reportSnapshot(m, false);
      } else if ((this.side.get(m.from) ?? 0) !== (this.side.get(m.to) ?? 0)) {
        lines.push(`dropped (partition): ${formatMessage(m)}`);
        this.reportSnapshot(m, false);
      } else if (to.pending !== null) {
        throw new Error(`deliver-msgs: node ${shortId(to.id)} is between "ready" and "persist"; persist it first`);
      } else {
        lines.push(formatMessage(m));
        to.rawNode().step(m);
        this.reportSnapshot(m, true);
      }
    }
    flush();
  }

  /** The transport tells the leader how a snapshot send went (etcd's ReportSnapshot). */
  private reportSnapshot(m: Message, ok: boolean): void {
    if (m.type !== 'snapshot') return;
    const from = [...this.nodes.values()].find((n) => n.id === m.from);
    if (from !== undefined && from.up && from.pending === null) from.rawNode().reportSnapshot(m.to, ok);
  }

  /** Role/term/leader changes since the previous command, one line per node. */
  private stateChanges(): string[] {
    const out: string[] = [];
    for (const n of this.nodes.values()) {
      if (!n.up) continue;
      const s: SoftState = n.rawNode().softState();
      const now = formatSoftState(s);
      const before = this.lastState.get(n.id);
      if (before !== now) out.push(`~ ${shortId(n.id)}: ${before ?? 'new'} -> ${now}`);
      this.lastState.set(n.id, now);
    }
    return out;
  }
}

/** Run every block of a golden file; returns the actual outputs (stops at the first block that throws). */
export function runScript(text: string, file: string): { parsed: ParsedFile; outputs: string[] } {
  const parsed = parseDataDriven(text, file);
  const env = new InteractionEnv();
  const outputs: string[] = [];
  for (const b of parsed.blocks) {
    try {
      outputs.push(env.run(b.command));
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const err = new Error(`${file}:${b.line}: ${b.command}: ${msg}`);
      if (e instanceof Error && e.stack !== undefined) err.stack = `${err.message}\n${e.stack}`;
      throw err;
    }
  }
  return { parsed, outputs };
}

