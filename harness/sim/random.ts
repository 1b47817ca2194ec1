/**
 * Seeded randomness for the simulation. Every consumer (a node's boot, its disk, a network
 * link, a client) gets its own stream, forked from the run's seed by a *label*, never by
 * draw order: adding a node, a link or a draw in one place leaves every other stream as it
 * was, so a change to one component does not reshuffle the whole run.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, from
 * PractRand): 128 bits of state, 32-bit integer arithmetic only, passes PractRand and
 * BigCrush, and is a few lines, so it is written here rather than taken from a package.
 * Labels are hashed into the 128-bit state with four multiply-rotate lanes and murmur3's
 * finalizer.
 */

export type Seed = string | number | bigint;

function hashLanes(key: string): [number, number, number, number] {
  let h1 = 0x9e3779b9;
  let h2 = 0x85ebca6b;
  let h3 = 0xc2b2ae35;
  let h4 = 0x27d4eb2f;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h3 = Math.imul(h3 ^ c, 0x1b873593);
    h4 = Math.imul(h4 ^ c, 0xcc9e2d51);
    h1 = (h1 << 13) | (h1 >>> 19);
    h2 = (h2 << 17) | (h2 >>> 15);
    h3 = (h3 << 11) | (h3 >>> 21);
    h4 = (h4 << 7) | (h4 >>> 25);
  }
  // Mix the lanes into each other so every lane depends on every character.
  h1 = fmix32(h1 ^ h4 ^ key.length);
  h2 = fmix32(h2 ^ h1);
  h3 = fmix32(h3 ^ h2);
  h4 = fmix32(h4 ^ h3);
  return [h1, h2, h3, h4];
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class SimRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `key` names the stream: the run's seed, then each fork's label, joined by '/'. */
  constructor(readonly key: string) {
    [this.a, this.b, this.c, this.d] = hashLanes(key);
    // Discard the first outputs, as sfc32's author recommends for hashed seeds.
    for (let i = 0; i < 12; i++) this.uint32();
  }

  static fromSeed(seed: Seed): SimRandom {
    return new SimRandom(`seed:${String(seed)}`);
  }

  /** An independent stream named `label` under this one; the same label always gives the same stream. */
  fork(label: string): SimRandom {
    return new SimRandom(`${this.key}/${label}`);
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.uint32() / 0x1_0000_0000;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`SimRandom.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.float() * n);
  }

  /** Uniform in [min, max). */
  between(min: number, max: number): number {
    return min + this.float() * (max - min);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }
}
