/**
 * Fans committed key changes out to watchers.
 *
 * A watch on (prefix, fromRevision) first replays the history (KvStateMachine.eventsSince)
 * and then receives live events as they are applied. Replay and registration happen in one
 * synchronous step and `apply` is synchronous too, so no event can fall between them: every
 * watcher sees every matching event with revision >= fromRevision exactly once, in revision
 * order. When the state machine is replaced by a snapshot, each watcher catches up from
 * the new history, or is closed as compacted when its next revision is no longer there.
 */
import type { KvStateMachine } from './kv-state-machine.ts';
import type { KeyEvent } from './results.ts';

export interface WatchSink {
  /** One committed change. */
  event(event: KeyEvent): void;
  /** The watch ended on the server side; `compactRevision` is set when it was compacted away. */
  closed(reason: 'compacted' | 'hub-closed', compactRevision: number): void;
}

export interface Watcher {
  readonly prefix: string;
  /** The revision the watcher expects next: it has seen every matching event below it. */
  readonly nextRevision: number;
  cancel(): void;
}

export type WatchStart = { readonly ok: true; readonly watcher: Watcher } | { readonly ok: false; readonly compactRevision: number };

interface WatcherState {
  readonly prefix: string;
  nextRevision: number;
  readonly sink: WatchSink;
}

export class WatchHub {
  private readonly watchers = new Set<WatcherState>();
  private readonly unsubscribe: (() => void)[];

  constructor(private readonly sm: KvStateMachine) {
    this.unsubscribe = [sm.onEvents((events) => this.deliver(events)), sm.onRestore(() => this.resync())];
  }

  get size(): number {
    return this.watchers.size;
  }

  /**
   * Start a watch. `fromRevision` undefined means "changes after now". A fromRevision at or
   * below the compaction revision fails with that revision (HTTP 410).
   */
  watch(prefix: string, fromRevision: number | undefined, sink: WatchSink): WatchStart {
    const from = fromRevision ?? this.sm.revision + 1;
    const past = this.sm.eventsSince(from, prefix);
    if (past === null) return { ok: false, compactRevision: this.sm.compactRevision };
    for (const event of past) sink.event(event);
    const state: WatcherState = { prefix, nextRevision: Math.max(from, this.sm.revision + 1), sink };
    this.watchers.add(state);
    return {
      ok: true,
      watcher: {
        prefix,
        get nextRevision() {
          return state.nextRevision;
        },
        cancel: () => {
          this.watchers.delete(state);
        },
      },
    };
  }

  /** The current revision (for progress heartbeats). */
  get revision(): number {
    return this.sm.revision;
  }

  close(): void {
    for (const u of this.unsubscribe) u();
    for (const w of [...this.watchers]) {
      this.watchers.delete(w);
      w.sink.closed('hub-closed', this.sm.compactRevision);
    }
  }

  private deliver(events: readonly KeyEvent[]): void {
    for (const w of [...this.watchers]) {
      let next = w.nextRevision;
      for (const event of events) {
        if (event.revision < w.nextRevision) continue;
        if (event.key.startsWith(w.prefix)) w.sink.event(event);
        next = Math.max(next, event.revision + 1);
      }
      w.nextRevision = next;
    }
  }

  private resync(): void {
    for (const w of [...this.watchers]) {
      const missed = this.sm.eventsSince(w.nextRevision, w.prefix);
      if (missed === null) {
        this.watchers.delete(w);
        w.sink.closed('compacted', this.sm.compactRevision);
        continue;
      }
      for (const event of missed) w.sink.event(event);
      w.nextRevision = Math.max(w.nextRevision, this.sm.revision + 1);
    }
  }
}
