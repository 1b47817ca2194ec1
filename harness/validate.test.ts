import { describe, expect, it } from 'vitest';
import { parseNemeses } from './nemesis/index.ts';
import { raftstore } from './systems/raftstore/index.ts';
import type { System } from './systems/system.ts';
import { runProblems } from './validate.ts';
import { registerWorkload } from '../workloads/register.ts';
import { setWorkload } from '../workloads/set.ts';

const base = { runtime: 'docker' as const, unsafe: [], readConsistency: 'linearizable' as const, clientMode: 'single-attempt' as const };

/** A system with no clock hook, no membership, set operations only, docker only. */
const minimal: System = {
  name: 'minimal',
  description: 'test double',
  supports: { ops: new Set(['set-add', 'set-read']), runtimes: new Set(['docker']), features: new Set(), readConsistency: new Set(['linearizable']), unsafe: [] },
  prepare: () => Promise.reject(new Error('not used')),
};

describe('what a system cannot do is refused, naming it', () => {
  it('the store can run every existing workload and nemesis', () => {
    for (const w of [registerWorkload(), setWorkload()]) {
      expect(runProblems({ system: raftstore, workload: w, nemeses: parseNemeses('all', undefined, raftstore.supports), config: { ...base, unsafe: ['no-fsync'], storageFaultMode: true } })).toEqual([]);
    }
  });
  it('`all` is every nemesis the system supports; naming an unsupported one is refused', () => {
    expect(parseNemeses('all', undefined, raftstore.supports).map((n) => n.name)).not.toContain('admin');
    expect(parseNemeses('all', undefined, raftstore.supports).map((n) => n.name)).toContain('bitflip');
    expect(runProblems({ system: raftstore, workload: registerWorkload(), nemeses: parseNemeses('admin'), config: base })).toEqual(['--nemesis admin needs admin, which raftstore does not support']);
  });

  it('refuses a nemesis on a cluster smaller than it needs (figure-8: 3 nodes)', () => {
    expect(runProblems({ system: raftstore, workload: registerWorkload(), nemeses: parseNemeses('figure-8'), config: { ...base, nodes: 1 } })).toEqual(['--nemesis figure-8 needs at least 3 nodes (--nodes 1)']);
    expect(runProblems({ system: raftstore, workload: registerWorkload(), nemeses: parseNemeses('figure-8'), config: { ...base, nodes: 3 } })).toEqual([]);
  });
  it('a nemesis needing a hook the system lacks, a workload operation, a runtime, a flag', () => {
    const problems = runProblems({
      system: minimal,
      workload: registerWorkload(),
      nemeses: parseNemeses('partition,clock,membership'),
      config: { ...base, runtime: 'local', unsafe: ['stale-reads'], storageFaultMode: true, readConsistency: 'serializable', clientMode: 'retrying' },
    });
    expect(problems).toEqual([
      '--runtime local: minimal runs on docker only',
      '--workload register needs the operation(s) read, put, which minimal\'s client does not support',
      '--nemesis clock needs clock, which minimal does not support',
      '--nemesis membership needs membership, which minimal does not support',
      '--unsafe: minimal has no unsafe switches',
      '--storage-fault-mode: minimal cannot lose unsynced writes on a kill',
      '--read-consistency serializable: minimal supports linearizable',
      '--client retrying: minimal has no retrying client library wired in',
    ]);
    expect(runProblems({ system: minimal, workload: setWorkload(), nemeses: parseNemeses('partition,kill'), config: base })).toEqual([]);
  });
});

describe('system options are checked before anything starts', () => {
  it('--etcd-bin that is missing or not an etcd server is refused naming which', async () => {
    const { etcd } = await import('./systems/etcd/index.ts');
    const { setWorkload: set } = await import('../workloads/set.ts');
    const problems = (bin: string): string[] => runProblems({ system: etcd, workload: set(), nemeses: [], config: { ...base, systemOptions: { etcdBin: bin } } });
    expect(problems('/nonexistent/etcd')).toEqual(['--etcd-bin /nonexistent/etcd: no such file']);
    expect(problems('/bin/true')[0]).toMatch(/^--etcd-bin \/bin\/true: not an etcd server/);
  });
  it('--etcd-version that is not a release is refused before anything is built', async () => {
    const { etcd } = await import('./systems/etcd/index.ts');
    const { setWorkload: set } = await import('../workloads/set.ts');
    const problems = (v: string): string[] => runProblems({ system: etcd, workload: set(), nemeses: [], config: { ...base, systemOptions: { etcdVersion: v } } });
    expect(problems('3.5.2')).toEqual(['--etcd-version "3.5.2": not an etcd v3 release (expected vX.Y.Z, e.g. v3.5.17)']);
    expect(problems('v3.5.2')).toEqual([]);
  });
});
