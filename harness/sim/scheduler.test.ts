import { describe, expect, it } from 'vitest';
import { SimRandom } from './random.ts';
import { EventCosts, Scheduler, SimProcess, SimulationStalled } from './scheduler.ts';

describe('Scheduler', () => {
  it('runs events in (time, sequence) order and advances virtual time to each', async () => {
    const s = new Scheduler(false);
    const p = new SimProcess('p');
    const seen: string[] = [];
    s.at(5, () => seen.push(`b@${s.now}`), p);
    s.at(1, () => seen.push(`a@${s.now}`), p);
    s.at(5, () => seen.push(`c@${s.now}`), p);
    s.at(9, () => seen.push(`d@${s.now}`), p);
    await s.run(() => seen.length === 4);
    expect(seen).toEqual(['a@1', 'b@5', 'c@5', 'd@9']);
  });

  it('drains every microtask an event caused before the next event runs, however long the chain', async () => {
    const s = new Scheduler(false);
    const p = new SimProcess('p');
    const order: string[] = [];
    s.at(1, () => {
      void (async () => {
        for (let i = 0; i < 500; i++) await Promise.resolve();
        order.push('chain of 500 done');
      })();
    }, p);
    s.at(1, () => order.push('next event'), p);
    await s.run(() => order.length === 2);
    expect(order).toEqual(['chain of 500 done', 'next event']);
  });

  it('charges each event, with the promise chain it caused, to its kind when costs are on (benchmarks)', async () => {
    const s = new Scheduler(false);
    const p = new SimProcess('p');
    s.costs = new EventCosts();
    const busyUntil = (ms: number): void => {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        // Busy on purpose: the wall time the event's continuation takes.
      }
    };
    let done = 0;
    for (let i = 0; i < 3; i++) s.after(i, () => done++, p, 'cheap');
    s.after(1, () => {
      void (async () => {
        await Promise.resolve();
        busyUntil(20);
        done++;
      })();
    }, p, 'slow');
    s.after(2, () => done++, p);
    const held = new SimProcess('held');
    s.after(3, () => done++, held, 'held kind');
    s.after(2, () => s.pause(held), p, 'cheap');
    s.after(5, () => s.resume(held), p, 'cheap');
    await s.run(() => done === 6);
    const rows = Object.fromEntries([...s.costs.byKind].map(([k, r]) => [k, r.events]));
    expect(rows).toEqual({ cheap: 5, slow: 1, other: 1, 'held kind': 1 });
    // The 20 ms ran in a microtask after the event returned: still the slow event's.
    expect(s.costs.byKind.get('slow')!.wallMs).toBeGreaterThanOrEqual(20);
  });

  it('drops a killed process\'s events and holds a paused one\'s until it resumes, in order', async () => {
    const s = new Scheduler(false);
    const dead = new SimProcess('dead');
    const paused = new SimProcess('paused');
    const driver = new SimProcess('driver');
    const seen: string[] = [];
    s.at(1, () => seen.push('dead'), dead);
    s.at(2, () => seen.push(`p1@${s.now}`), paused);
    s.at(3, () => seen.push(`p2@${s.now}`), paused);
    s.kill(dead);
    s.pause(paused);
    s.at(10, () => s.resume(paused), driver);
    await s.run(() => seen.length === 2);
    expect(seen).toEqual(['p1@10', 'p2@10']);
  });

  it('never runs a cancelled event, and keeps the queue small under many cancellations', async () => {
    const s = new Scheduler(false);
    const p = new SimProcess('p');
    let ran = 0;
    for (let i = 0; i < 10_000; i++) s.cancel(s.at(100 + i, () => ran++, p));
    s.at(50_000, () => ran--, p);
    await s.run(() => ran !== 0);
    expect(ran).toBe(-1);
  });

  it('stops at untilTime with the clock there, and reports a run that can never finish', async () => {
    const s = new Scheduler(false);
    const p = new SimProcess('p');
    s.at(10, () => undefined, p);
    await s.runFor(4);
    expect(s.now).toBe(4);
    await expect(s.run(() => false)).rejects.toBeInstanceOf(SimulationStalled);
  });

  it('fails the run with an error an event threw, unless its process handles it', async () => {
    const s = new Scheduler(false);
    const p = new SimProcess('p');
    s.at(1, () => {
      throw new Error('boom');
    }, p);
    await expect(s.run(() => false)).rejects.toThrow('boom');
    const crashed: unknown[] = [];
    const q = new SimProcess('q');
    q.onUncaught = (e) => crashed.push(e);
    s.at(s.now + 1, () => {
      throw new Error('caught');
    }, q);
    s.at(s.now + 2, () => crashed.push('after'), q);
    await s.run(() => crashed.length === 2);
    expect(String(crashed[0])).toContain('caught');
  });
});

describe('SimRandom', () => {
  it('gives the same stream for the same seed and label, whatever else was drawn', () => {
    const a = SimRandom.fromSeed(42);
    const b = SimRandom.fromSeed(42);
    for (let i = 0; i < 100; i++) b.uint32();
    expect(Array.from({ length: 5 }, () => a.fork('disk').uint32())).toEqual(Array.from({ length: 5 }, () => b.fork('disk').uint32()));
    const x = a.fork('x');
    const y = a.fork('y');
    expect([x.uint32(), x.uint32()]).not.toEqual([y.uint32(), y.uint32()]);
    expect(SimRandom.fromSeed(43).uint32()).not.toBe(SimRandom.fromSeed(42).uint32());
  });

  it('draws uniformly enough: every bucket of 10 within 10% of its share over 100,000 draws', () => {
    const r = SimRandom.fromSeed('uniform');
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) buckets[r.int(10)]!++;
    for (const b of buckets) expect(Math.abs(b - 10_000)).toBeLessThan(1_000);
  });
});
