import { describe, expect, it } from 'vitest';
import { buildProgram, configFromOptions, UsageError } from './cli.ts';

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
});
