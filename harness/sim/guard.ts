/**
 * The real-I/O guard: while a simulation runs, the ambient APIs that would make it depend on
 * the real world — timers, clocks, randomness, sockets, files — throw a SimulationViolation
 * naming the API, and the run fails with it (the scheduler checks after every event, since
 * a throw inside node code may be caught and logged). A single stray `Date.now()` or
 * `setTimeout` would make two runs of one seed differ; this finds it on the first run.
 *
 * It patches globals and the built-in modules' exports (synced to ESM importers with
 * `syncBuiltinESMExports`) and restores them all when the run ends.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

const require = createRequire(import.meta.url);

export interface GuardOptions {
  /** setTimeout, setInterval, setImmediate (globals and node:timers). Default true. */
  readonly timers?: boolean;
  /** Date.now, performance.now. Default true. */
  readonly clock?: boolean;
  /** Math.random, crypto.randomBytes/randomUUID/randomInt/getRandomValues. Default true. */
  readonly random?: boolean;
  /** Connecting or listening on any socket (net, http, undici all go through net). Default true. */
  readonly sockets?: boolean;
  /** node:fs opens, reads and writes. Default true (a harness that records to files during a run turns it off). */
  readonly files?: boolean;
}

export class SimulationViolation extends Error {
  constructor(readonly api: string) {
    super(`real ${api} used during a simulated run: everything must go through the simulated platform or the simulation's clock (harness/sim/README.md)`);
    this.name = 'SimulationViolation';
  }
}

interface Patch {
  readonly target: object;
  readonly key: string;
  readonly descriptor: PropertyDescriptor;
}

export class RealIoGuard {
  private patches: Patch[] = [];
  private readonly found: SimulationViolation[] = [];

  constructor(private readonly options: GuardOptions = {}) {}

  get installed(): boolean {
    return this.patches.length > 0;
  }

  /** Violations seen since install (the first one fails the run). */
  get violations(): readonly SimulationViolation[] {
    return this.found;
  }

  install(): void {
    if (this.installed) return;
    const o = this.options;
    if (o.timers ?? true) {
      const timers = require('node:timers') as Record<string, unknown>;
      const timersPromises = require('node:timers/promises') as Record<string, unknown>;
      for (const key of ['setTimeout', 'setInterval', 'setImmediate']) {
        this.patch(globalThis, key, `${key}`);
        this.patch(timers, key, `node:timers ${key}`);
      }
      for (const key of ['setTimeout', 'setInterval', 'setImmediate']) this.patch(timersPromises, key, `node:timers/promises ${key}`);
    }
    if (o.clock ?? true) {
      this.patch(Date, 'now', 'Date.now()');
      this.patch(performance, 'now', 'performance.now()');
    }
    if (o.random ?? true) {
      this.patch(Math, 'random', 'Math.random()');
      for (const key of ['randomBytes', 'randomUUID', 'randomInt', 'randomFillSync', 'randomFill', 'getRandomValues']) {
        this.patch(crypto, key, `crypto.${key}`);
      }
      this.patch(globalThis.crypto, 'getRandomValues', 'crypto.getRandomValues');
      this.patch(globalThis.crypto, 'randomUUID', 'crypto.randomUUID');
    }
    if (o.sockets ?? true) {
      this.patch(net.Socket.prototype, 'connect', 'socket connect');
      this.patch(net.Server.prototype, 'listen', 'socket listen');
    }
    if (o.files ?? true) {
      const fsObject = fs;
      for (const key of ['open', 'openSync', 'readFile', 'readFileSync', 'writeFile', 'writeFileSync', 'appendFile', 'appendFileSync', 'createWriteStream', 'createReadStream']) {
        this.patch(fsObject, key, `node:fs ${key}`);
      }
      const promises = fs.promises;
      for (const key of ['open', 'readFile', 'writeFile', 'appendFile']) this.patch(promises, key, `node:fs/promises ${key}`);
    }
    syncBuiltinESMExports();
  }

  uninstall(): void {
    if (!this.installed) return;
    for (const p of this.patches.reverse()) Object.defineProperty(p.target, p.key, p.descriptor);
    this.patches = [];
    syncBuiltinESMExports();
  }

  private patch(target: object, key: string, api: string): void {
    const descriptor = Object.getOwnPropertyDescriptor(target, key);
    // Accessors (crypto.getRandomValues on the module) are replaced too, if configurable.
    if (descriptor === undefined || descriptor.configurable !== true) return;
    const current: unknown = descriptor.get !== undefined ? descriptor.get.call(target) : descriptor.value;
    if (typeof current !== 'function') return;
    this.patches.push({ target, key, descriptor });
    const refuse = (): never => {
      const violation = new SimulationViolation(api);
      this.found.push(violation);
      throw violation;
    };
    Object.defineProperty(target, key, { value: refuse, writable: true, configurable: true, enumerable: descriptor.enumerable ?? true });
  }
}
