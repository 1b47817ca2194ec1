import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildProgram, configFromOptions, UsageError } from './cli.ts';
import { parseNemeses } from './nemesis/index.ts';
import { Rng } from './rng.ts';

function parse(args: string[]): ReturnType<typeof configFromOptions> {
  const p = buildProgram();
  p.parse(args, { from: 'user' });
  return configFromOptions(p.opts());
}

describe('jepsen flags', () => {
  it('defaults: register, partition, 5 nodes, docker', () => {
    const c = parse([]);
    expect(c).toMatchObject({ workload: 'register', nemesis: 'partition', nodes: 5, runtime: 'docker' });
  });
  it('rate 0 means unlimited; the seed given is the seed used', () => {
    expect(parse(['--rate', '0', '--seed', '9'])).toMatchObject({ rate: null, seed: 9 });
  });
  it('rejects bad values naming the flag', () => {
    expect(() => parse(['--nodes', 'five'])).toThrow(UsageError);
    expect(() => parse(['--nodes', 'five'])).toThrow(/--nodes/);
    expect(() => parse(['--time-limit', '0'])).toThrow(/--time-limit: expected an integer from 1/);
    expect(() => parse(['--nemesis', 'partition,nope'])).toThrow(/unknown nemesis "nope"/);
    expect(() => parse(['--unsafe', 'fast'])).toThrow(/--unsafe: unknown switch "fast"/);
  });
  it('--system picks the system; an unknown one, or a flag that belongs to another system, is refused naming it', () => {
    expect(parse([])).toMatchObject({ system: 'raftstore', readConsistency: 'linearizable', clientMode: 'single-attempt' });
    expect(() => parse(['--system', 'nope'])).toThrow(/--system: unknown system "nope" \(known: raftstore/);
    expect(() => parse(['--etcd-bin', '/usr/bin/etcd'])).toThrow(/--etcd-bin: only for --system etcd/);
    expect(() => parse(['--etcd-version', 'v3.5.2'])).toThrow(/--etcd-version: only for --system etcd/);
    expect(() => parse(['--system', 'etcd', '--etcd-version', 'v3.5.2', '--etcd-bin', '/usr/bin/etcd'])).toThrow('--etcd-version and --etcd-bin: give one');
    expect(parse(['--read-consistency', 'serializable'])).toMatchObject({ readConsistency: 'serializable' });
    expect(() => parse(['--system-option', 'novalue'])).toThrow(/--system-option: expected name=value/);
    expect(parse(['--bundle', '/x/b.mjs', '--no-build']).systemOptions).toEqual({ bundle: '/x/b.mjs', build: 'false' });
  });
  it('--nemesis failpoint: etcd built with failpoints only (--etcd-version builds them in); known failpoint names only', () => {
    expect(() => parse(['--nemesis', 'failpoint'])).toThrow('--nemesis failpoint needs failpoints, which raftstore does not support');
    expect(() => parse(['--runtime', 'sim', '--nemesis', 'failpoint'])).toThrow(/--nemesis failpoint needs failpoints/);
    expect(() => parse(['--system', 'etcd', '--nemesis', 'failpoint'])).toThrow(/etcd needs a build with failpoints: give --etcd-version/);
    // A release build (Debian's, when installed) has no failpoints in its build info.
    if (existsSync('/usr/bin/etcd')) expect(() => parse(['--system', 'etcd', '--etcd-bin', '/usr/bin/etcd', '--nemesis', 'failpoint'])).toThrow('--nemesis failpoint: /usr/bin/etcd has no failpoints (build one with `scripts/build-etcd.sh vX.Y.Z --failpoints`');
    expect(parse(['--system', 'etcd', '--etcd-version', 'v3.5.4', '--nemesis', 'failpoint'])).toMatchObject({ nemesis: 'failpoint', systemOptions: { etcdVersion: 'v3.5.4' } });
    expect(() => parse(['--system', 'etcd', '--etcd-version', 'v3.5.4', '--nemesis', 'failpoint', '--system-option', 'failpoints=raftBeforeSave,nope'])).toThrow(
      /--system-option failpoints: unknown failpoint "nope" \(known: raftBeforeSave,/,
    );
    // Never drawn by `all`: it needs a special build, and would change what every seed draws.
    expect(parseNemeses('all').map((n) => n.name)).not.toContain('failpoint');
  });
  it('what the system cannot do is refused before anything starts (exit 64), naming it', () => {
    expect(parse(['--client', 'retrying'])).toMatchObject({ clientMode: 'retrying' });
    expect(() => parse(['--snapshot-count', '10', '--snapshot-entries', '20'])).toThrow(/disagree/);
    expect(parse(['--snapshot-count', '10'])).toMatchObject({ snapshotEntries: 10 });
  });
  it('--knob sets nemesis knobs over the defaults and the latency nemesis uses them', async () => {
    const c = parse(['--nemesis', 'latency', '--knob', 'latencyMs=200', '--knob', 'jitterMs=5']);
    expect(c.knobs).toMatchObject({ latencyMs: 200, jitterMs: 5, rateKBps: 64, maxSkewMs: 2000 });
    const [latency] = parseNemeses('latency', c.knobs);
    const added: unknown[] = [];
    const ctx = {
      rng: new Rng(1),
      cluster: { nodes: [{ id: 'n1' }, { id: 'n2' }], network: { addToxic: (_link: unknown, _name: string, toxic: unknown) => Promise.resolve(void added.push(toxic)) } },
    };
    const done = (await latency!.start(ctx as never)) as { toxics: unknown[] };
    expect(done.toxics).toEqual([{ type: 'latency', latencyMs: 200, jitterMs: 5 }]);
    expect(added).toHaveLength(2);
  });
  it('rejects bad knobs naming the knob and the range', () => {
    expect(() => parse(['--knob', 'latency=5'])).toThrow(/--knob: unknown knob "latency"/);
    expect(() => parse(['--knob', 'flakyToxicity=2'])).toThrow(/--knob flakyToxicity: expected a number in 0..1, got "2"/);
    expect(() => parse(['--knob', 'latencyMs'])).toThrow(/--knob: expected name=value/);
  });
});
