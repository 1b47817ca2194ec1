import { describe, expect, it } from 'vitest';
import { Rng } from '../rng.ts';
import { majoritiesRing, randomHalves } from './network.ts';
import { pickTargets } from './process.ts';
import { parseNemeses } from './index.ts';

const five = ['n1', 'n2', 'n3', 'n4', 'n5'];

describe('partition shapes', () => {
  it('random halves split into a strict minority and a majority covering every node once', () => {
    for (let seed = 0; seed < 50; seed++) {
      const [minority, majority] = randomHalves(new Rng(seed), five);
      expect(minority).toHaveLength(2);
      expect(majority).toHaveLength(3);
      expect([...minority, ...majority].sort()).toEqual(five);
    }
  });

  it('majorities ring: every node sees a majority (itself included), and not all see the same one', () => {
    const view = majoritiesRing(new Rng(7), five);
    const components = new Set<string>();
    for (const [id, seen] of view) {
      expect(seen).not.toContain(id);
      expect(seen.length + 1).toBeGreaterThanOrEqual(3);
      components.add([id, ...seen].sort().join(','));
    }
    expect(components.size).toBeGreaterThan(1);
  });

  it('the same seed gives the same shape', () => {
    expect(randomHalves(new Rng(42), five)).toEqual(randomHalves(new Rng(42), five));
    expect(randomHalves(new Rng(42), five)).not.toEqual(randomHalves(new Rng(43), five));
  });
});

describe('process targets', () => {
  it('one, minority and majority have the sizes their names say', () => {
    const rng = new Rng(1);
    expect(pickTargets(rng, five, 'one')).toHaveLength(1);
    expect(pickTargets(rng, five, 'minority')).toHaveLength(2);
    expect(pickTargets(rng, five, 'majority')).toHaveLength(3);
  });
});

describe('--nemesis parsing', () => {
  it('expands all and rejects an unknown name, naming it', () => {
    expect(parseNemeses('all').map((n) => n.name)).toContain('partition-one-way');
    expect(parseNemeses('partition,kill').map((n) => n.name)).toEqual(['partition', 'kill']);
    expect(() => parseNemeses('partition,bogus')).toThrow(/unknown nemesis "bogus"/);
  });
});
