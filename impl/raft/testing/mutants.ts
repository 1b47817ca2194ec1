/**
 * Proof that the tests bite: break the core one way at a time, in a throwaway git worktree,
 * and record which tests catch each break.
 *
 *   npx tsx impl/raft/testing/mutants.ts [--consequences] [mutant-name ...]
 *
 * --consequences runs the tests with RAFT_DIRECT_CHECKS=0: the simulator's direct checks
 * (replies only after persist, Figure 8 commit rule) are off, so only the damage itself
 * (two leaders in a term, lost commits, diverging applies) can catch the mutant.
 *
 * It creates /tmp/raft-mutants (a worktree of HEAD, with node_modules linked), copies the
 * current impl/raft/testing and impl/raft/testdata into it, applies each mutant (a textual
 * replacement that must match exactly once), runs `vitest run impl/raft/testing` there,
 * prints a summary line per mutant, and removes the worktree. /work/main is never edited.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Mutant {
  readonly name: string;
  readonly what: string;
  readonly file: string;
  readonly from: string;
  readonly to: string;
}

export const mutants: readonly Mutant[] = [
  {
    name: 'figure-8',
    what: 'commit by counting replicas for an entry of an older term (no current-term check)',
    file: 'impl/raft/log.ts',
    from: 'if (quorumIndex > this.committed && this.term(quorumIndex) === currentTerm) {',
    to: 'if (quorumIndex > this.committed) {',
  },
  {
    name: 'vote-by-length',
    what: 'up-to-date check compares log length instead of (last term, last index)',
    file: 'impl/raft/log.ts',
    from: 'return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());',
    to: 'return ourTerm >= 0 && lastIndex >= this.lastIndex();',
  },
  {
    name: 'vote-before-persist',
    what: 'vote grants leave in `messages`, before the vote is persisted',
    file: 'impl/raft/raw-node.ts',
    from: "if (m.type === 'vote-resp' || m.type === 'append-resp') this.msgsAfterPersist.push(m);",
    to: "if (m.type === 'append-resp') this.msgsAfterPersist.push(m);",
  },
  {
    name: 'ack-before-persist',
    what: 'append acknowledgements leave in `messages`, before the entries are persisted',
    file: 'impl/raft/raw-node.ts',
    from: "if (m.type === 'vote-resp' || m.type === 'append-resp') this.msgsAfterPersist.push(m);",
    to: "if (m.type === 'vote-resp') this.msgsAfterPersist.push(m);",
  },
  {
    name: 'keep-vote-on-new-term',
    what: 'forget to clear the vote when adopting a new term',
    file: 'impl/raft/raw-node.ts',
    from: '      this.term = term;\n      this.vote = null;\n',
    to: '      this.term = term;\n',
  },
  {
    name: 'follower-commit-no-min',
    what: 'follower commit = leader commit, without min(leader commit, index of last new entry)',
    file: 'impl/raft/log.ts',
    from: 'this.commitTo(Math.min(leaderCommit, lastNew));',
    to: 'this.commitTo(Math.min(leaderCommit, this.lastIndex()));',
  },
  {
    name: 'read-index-no-quorum',
    what: 'ReadIndex answered at once from the commit index, without a heartbeat quorum round',
    file: 'impl/raft/raw-node.ts',
    from: '    if (this.voters.length === 1 && this.voterSet.has(this.id)) {\n      // A single voter is its own quorum.',
    to: '    if (this.voterSet.has(this.id)) {\n      // A single voter is its own quorum.',
  },
  {
    name: 'no-leader-stickiness',
    what: 'a follower that hears from a live leader still answers (pre-)vote requests of a higher term',
    file: 'impl/raft/raw-node.ts',
    from: 'if (!force && inLease) return;',
    to: 'if (!force && inLease && force) return;',
  },
  {
    name: 'no-check-quorum-step-down',
    what: 'a leader that has not heard from a quorum within an election timeout stays leader',
    file: 'impl/raft/raw-node.ts',
    from: '        if (!this.quorumActive()) {\n          this.becomeFollower(this.term, null);\n          return;\n        }',
    to: '        if (!this.quorumActive() && !this.cfg.checkQuorum) {\n          this.becomeFollower(this.term, null);\n          return;\n        }',
  },
];

const root = process.cwd();
const tree = '/tmp/raft-mutants';

function sh(cmd: string, args: string[], cwd: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function summarize(output: string): string {
  // eslint-disable-next-line no-control-regex
  const plain = output.replace(/\u001b\[[0-9;]*m/g, '');
  const failed = [...plain.matchAll(/^\s*[×✗] (.+?)(?:\s+\d+ms)?$/gm)].map((m) => (m[1] as string).trim());
  const runs = [...plain.matchAll(/^(.+?): a fault schedule broke Raft after (\d+) runs \((\d+) shrinks\)$/gm)].map(
    (m) => `${m[1]}: after ${m[2]} schedules`,
  );
  const violations = [...plain.matchAll(/Raft safety violation \(([^)]*)\): (.*)$/gm)].map((m) => `${m[2]} [${m[1]}]`);
  const golden = [...plain.matchAll(/(testdata\/[\w.-]+:\d+: [^\n]*)/g)].map((m) => m[1] as string);
  return JSON.stringify({ failed, runs, violation: violations[0] ?? null, golden: [...new Set(golden)].slice(0, 3) }, null, 1);
}

function main(): void {
  const consequences = process.argv.includes('--consequences');
  const only = process.argv.slice(2).filter((a) => a !== '--consequences');
  if (existsSync(tree)) sh('git', ['worktree', 'remove', '--force', tree], root);
  sh('git', ['worktree', 'add', '--detach', tree, 'HEAD'], root);
  try {
    symlinkSync(join(root, 'node_modules'), join(tree, 'node_modules'));
    for (const dir of ['impl/raft/testing', 'impl/raft/testdata']) {
      rmSync(join(tree, dir), { recursive: true, force: true });
      cpSync(join(root, dir), join(tree, dir), { recursive: true });
    }
    for (const m of mutants) {
      if (only.length > 0 && !only.includes(m.name)) continue;
      const path = join(tree, m.file);
      const original = readFileSync(path, 'utf8');
      const count = original.split(m.from).length - 1;
      if (count !== 1) throw new Error(`mutant ${m.name}: expected exactly one match in ${m.file}, found ${count}`);
      writeFileSync(path, original.replace(m.from, m.to));
      const started = Date.now();
      const r = spawnSync('npx', ['vitest', 'run', 'impl/raft/testing'], { cwd: tree, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', ...(consequences ? { RAFT_DIRECT_CHECKS: '0' } : {}) } });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      writeFileSync(path, original);
      const out = `${r.stdout}\n${r.stderr}`;
      const log = `/tmp/mutant-${m.name}${consequences ? '-consequences' : ''}.log`;
      writeFileSync(log, out);
      console.log(`== ${m.name}${consequences ? ' (direct checks off)' : ''} (${m.what}): exit ${r.status}, ${seconds}s, log ${log}`);
      console.log(summarize(out));
    }
  } finally {
    sh('git', ['worktree', 'remove', '--force', tree], root);
  }
}

main();
