/**
 * The set of explored configurations, keyed by (h1, h2, stateId): the two halves of the
 * linearized set's 64-bit Zobrist hash and the interned model state. Open addressing
 * over one Int32Array (linear probing, load factor <= 1/2), so a million configurations
 * cost 24 MB and no garbage collection, where a Set of string keys cost ten times that.
 */
export class ConfigSet {
  private table: Int32Array;
  private mask: number;
  size = 0;

  constructor(initialCapacity = 1 << 12) {
    let cap = 1;
    while (cap < initialCapacity) cap <<= 1;
    this.table = new Int32Array(cap * 3);
    this.mask = cap - 1;
  }

  /** Adds the configuration; returns false if it was already present. */
  add(h1: number, h2: number, stateId: number): boolean {
    const sid = stateId + 1; // 0 marks an empty slot
    const t = this.table;
    let slot = mix(h1, h2, sid) & this.mask;
    for (;;) {
      const base = slot * 3;
      const s = t[base + 2] as number;
      if (s === 0) {
        t[base] = h1;
        t[base + 1] = h2;
        t[base + 2] = sid;
        if (++this.size * 2 > this.mask + 1) this.grow();
        return true;
      }
      if (s === sid && t[base] === h1 && t[base + 1] === h2) return false;
      slot = (slot + 1) & this.mask;
    }
  }

  private grow(): void {
    const old = this.table;
    const cap = (this.mask + 1) * 2;
    this.table = new Int32Array(cap * 3);
    this.mask = cap - 1;
    const t = this.table;
    for (let base = 0; base < old.length; base += 3) {
      const sid = old[base + 2] as number;
      if (sid === 0) continue;
      const h1 = old[base] as number;
      const h2 = old[base + 1] as number;
      let slot = mix(h1, h2, sid) & this.mask;
      while (t[slot * 3 + 2] !== 0) slot = (slot + 1) & this.mask;
      t[slot * 3] = h1;
      t[slot * 3 + 1] = h2;
      t[slot * 3 + 2] = sid;
    }
  }
}

function mix(a: number, b: number, c: number): number {
  let h = Math.imul(a ^ (b >>> 7), 0x9e3779b1) ^ Math.imul(c, 0x85ebca6b) ^ b;
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  return h >>> 0;
}
