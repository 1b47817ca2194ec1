/**
 * How the scheduler yields between events: one real macrotask per event. After every
 * macrotask Node drains the whole microtask queue (process.nextTick callbacks and promise
 * jobs, including those queued while draining) before it runs the next one, so each
 * simulated event and every promise continuation it caused complete before the next event
 * runs, however long the chain. The queue then holds only this pump's callback: nothing real
 * can interleave with the simulation (harness/sim/README.md, "Draining microtasks").
 *
 * The real setImmediate is captured when this module loads, before the real-I/O guard
 * (guard.ts) replaces the global one for the duration of a run.
 */
const realSetImmediate = globalThis.setImmediate;

export function nextMacrotask(fn: () => void): void {
  realSetImmediate(fn);
}
