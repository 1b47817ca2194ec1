import { describe, it, expect } from 'vitest';
import { index, term } from '../raft/types.ts';
import { encodeCommand } from './commands.ts';
import { KvStateMachine } from './kv-state-machine.ts';
import type { KeyEvent } from './results.ts';
import { WatchHub } from './watch-hub.ts';

function feed(sm: KvStateMachine, from: number, keys: string[]): void {
  keys.forEach((key, i) => {
    sm.apply({ term: term(1), index: index(from + i), type: 'normal', data: encodeCommand({ op: 'put', key, value: i, clientId: 'c', seq: from + i }) });
  });
}

function sink() {
  const events: KeyEvent[] = [];
  const closed: string[] = [];
  return { events, closed, sink: { event: (e: KeyEvent) => events.push(e), closed: (reason: string) => closed.push(reason) } };
}

describe('WatchHub', () => {
  it('replays history then delivers live events, each once, filtered by prefix', () => {
    const sm = new KvStateMachine();
    const hub = new WatchHub(sm);
    feed(sm, 1, ['a/1', 'b/1', 'a/2']);
    const s = sink();
    const started = hub.watch('a/', 2, s.sink);
    expect(started.ok).toBe(true);
    feed(sm, 4, ['a/3', 'b/2']);
    expect(s.events.map((e) => [e.revision, e.key])).toEqual([
      [3, 'a/2'],
      [4, 'a/3'],
    ]);
    if (started.ok) expect(started.watcher.nextRevision).toBe(6);
  });

  it('refuses a compacted start revision', () => {
    const sm = new KvStateMachine({ historyMaxEvents: 2 });
    const hub = new WatchHub(sm);
    feed(sm, 1, ['a', 'b', 'c', 'd']);
    expect(hub.watch('', 2, sink().sink)).toEqual({ ok: false, compactRevision: 2 });
  });

  it('after a snapshot install a watcher catches up from the new history, or is closed as compacted', () => {
    const leader = new KvStateMachine({ historyMaxEvents: 4 });
    feed(leader, 1, ['k1', 'k2', 'k3', 'k4', 'k5', 'k6']); // history holds revisions 3..6
    const follower = new KvStateMachine({ historyMaxEvents: 4 });
    feed(follower, 1, ['k1', 'k2', 'k3']);
    const hub = new WatchHub(follower);
    const caughtUp = sink();
    const tooOld = sink();
    hub.watch('', 4, caughtUp.sink);
    hub.watch('', 2, tooOld.sink);
    expect(tooOld.events.map((e) => e.revision)).toEqual([2, 3]);
    // Both need revision 4 next; the snapshot's history (3..6) still holds it.
    follower.restore(leader.snapshot());
    expect(caughtUp.events.map((e) => e.revision)).toEqual([4, 5, 6]);
    expect(tooOld.events.map((e) => e.revision)).toEqual([2, 3, 4, 5, 6]);
    const sm2 = new KvStateMachine({ historyMaxEvents: 4 });
    const hub2 = new WatchHub(sm2);
    const stranded = sink();
    hub2.watch('', 1, stranded.sink);
    sm2.restore(leader.snapshot());
    expect(stranded.closed).toEqual(['compacted']);
    expect(hub2.size).toBe(0);
  });
});
