/**
 * An in-memory, continuously updated copy of every key under a prefix.
 *
 * Initial load: one (linearizable) range read at revision R, then one watch from R + 1.
 * After a disconnect the watch resumes from the last complete revision + 1, so no change
 * is missed or applied twice; if that revision was compacted the view reloads with a range
 * read and reports the differences as changes. Listeners see changes in revision order.
 */
import { CompactedError } from './errors.ts';
import type { KeyValue, StoreClient, WatchEvent } from './store-client.ts';
import { setTimeout as delay } from 'node:timers/promises';

export type ViewChange =
  | { readonly type: 'put'; readonly key: string; readonly value: KeyValue; readonly previous: KeyValue | undefined; readonly revision: number }
  | { readonly type: 'delete'; readonly key: string; readonly previous: KeyValue | undefined; readonly revision: number };

export interface ClusterViewOptions {
  readonly client: StoreClient;
  readonly prefix: string;
  /** Wait before reconnecting a failed watch, ms. Default 200. */
  readonly reconnectDelayMs?: number;
  readonly log?: (message: string, fields: Record<string, unknown>) => void;
}

export class ClusterView implements AsyncDisposable {
  private readonly client: StoreClient;
  readonly prefix: string;
  private readonly reconnectDelayMs: number;
  private readonly log: (message: string, fields: Record<string, unknown>) => void;
  private readonly map = new Map<string, KeyValue>();
  /** Every change with revision <= this has been applied. */
  private completeRevision = 0;
  /** Highest revision seen (an event's or a progress line's). */
  private seenRevision = 0;
  /** Keys already applied at revision completeRevision + 1 (a txn's events share a revision). */
  private partialKeys = new Set<string>();
  private readonly listeners = new Set<(change: ViewChange) => void>();
  private running: AbortController | null = null;
  private loop: Promise<void> | null = null;
  /** Watch (re)connections made, for tests and metrics. */
  connections = 0;

  constructor(options: ClusterViewOptions) {
    this.client = options.client;
    this.prefix = options.prefix;
    this.reconnectDelayMs = options.reconnectDelayMs ?? 200;
    this.log = options.log ?? (() => {});
  }

  /** Load the prefix and start following it; resolves once the initial load is in. */
  async start(): Promise<void> {
    if (this.running !== null) return;
    const running = new AbortController();
    this.running = running;
    await this.reload();
    this.loop = this.follow(running.signal);
  }

  async stop(): Promise<void> {
    this.running?.abort();
    await this.loop;
    this.running = null;
    this.loop = null;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  get(key: string): KeyValue | undefined {
    return this.map.get(key);
  }

  entries(): ReadonlyMap<string, KeyValue> {
    return this.map;
  }

  /** The highest revision the view has seen (events of one txn arrive together). */
  get revision(): number {
    return this.seenRevision;
  }

  onChange(listener: (change: ViewChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the view is complete up to `revision` (e.g. a write's revision). */
  async waitForRevision(revision: number, signal?: AbortSignal): Promise<void> {
    while (this.seenRevision < revision) {
      if (signal?.aborted === true) throw signal.reason as Error;
      await new Promise<void>((resolve) => {
        const off = this.onChange(() => {
          off();
          resolve();
        });
        setTimeout(() => {
          off();
          resolve();
        }, 20).unref();
      });
    }
  }

  private async reload(): Promise<void> {
    const { items, revision } = await this.client.range(this.prefix);
    const fresh = new Map(items.map((kv) => [kv.key, kv]));
    for (const [key, previous] of [...this.map]) {
      if (!fresh.has(key)) {
        this.map.delete(key);
        this.emit({ type: 'delete', key, previous, revision });
      }
    }
    for (const [key, value] of fresh) {
      const previous = this.map.get(key);
      if (previous !== undefined && previous.modRevision === value.modRevision) continue;
      this.map.set(key, value);
      this.emit({ type: 'put', key, value, previous, revision });
    }
    this.completeRevision = revision;
    this.seenRevision = Math.max(this.seenRevision, revision);
    this.partialKeys = new Set();
  }

  private async follow(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        this.connections++;
        for await (const message of this.client.watch(this.prefix, { fromRevision: this.completeRevision + 1, signal })) {
          if (message.type === 'progress') this.complete(message.revision);
          else this.apply(message);
        }
      } catch (e) {
        if (signal.aborted) break;
        if (e instanceof CompactedError) {
          this.log('watch compacted; reloading', { prefix: this.prefix, from: this.completeRevision + 1 });
          try {
            await this.reload();
            continue;
          } catch (reloadError) {
            this.log('reload failed', { error: String(reloadError) });
          }
        } else {
          this.log('watch failed; reconnecting', { prefix: this.prefix, error: String(e) });
        }
      }
      if (signal.aborted) break;
      await sleep(this.reconnectDelayMs, signal);
    }
  }

  private complete(revision: number): void {
    this.seenRevision = Math.max(this.seenRevision, revision);
    if (revision > this.completeRevision) {
      this.completeRevision = revision;
      this.partialKeys = new Set();
    }
  }

  private apply(event: WatchEvent): void {
    if (event.revision <= this.completeRevision) return;
    this.seenRevision = Math.max(this.seenRevision, event.revision);
    // An event of a later revision means every earlier revision is complete.
    this.complete(event.revision - 1);
    if (this.partialKeys.has(event.key)) return;
    this.partialKeys.add(event.key);
    const previous = this.map.get(event.key);
    if (event.type === 'delete') {
      this.map.delete(event.key);
      this.emit({ type: 'delete', key: event.key, previous, revision: event.revision });
    } else {
      const value: KeyValue = { key: event.key, value: event.value, version: event.version, createRevision: event.createRevision, modRevision: event.modRevision };
      this.map.set(event.key, value);
      this.emit({ type: 'put', key: event.key, value, previous, revision: event.revision });
    }
  }

  private emit(change: ViewChange): void {
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch (e) {
        this.log('view listener failed', { error: String(e) });
      }
    }
  }
}

/** Wait `ms`, or less if `signal` aborts first (resolves either way). */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => undefined);
}
