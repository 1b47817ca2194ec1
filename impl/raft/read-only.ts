/**
 * Pending ReadIndex requests on the leader (thesis §6.4, etcd's readOnly). Each request
 * records the commit index when it arrived and waits for a quorum of heartbeat responses
 * to a heartbeat round that was started after it arrived.
 */
import type { NodeId } from './types.ts';

export interface ReadIndexStatus {
  /** Unique key of the request on this leader: also the heartbeat context. */
  readonly key: string;
  readonly requestId: string;
  /** Who asked: this node (local) or a follower that forwarded it. */
  readonly from: NodeId;
  /** The leader's commit index when the request arrived. */
  readonly index: number;
  readonly acks: Set<NodeId>;
}

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  static key(from: NodeId, requestId: string): string {
    // Request ids are chosen per node, so two nodes may pick the same one.
    return `${from}\u0000${requestId}`;
  }

  /** Queues a request; false when the same request is already pending. */
  add(from: NodeId, requestId: string, index: number): string | null {
    const key = ReadOnly.key(from, requestId);
    if (this.pending.has(key)) return null;
    this.pending.set(key, { key, requestId, from, index, acks: new Set() });
    this.queue.push(key);
    return key;
  }

  /** Records a heartbeat acknowledgement; returns the acks so far, or null for an unknown key. */
  recvAck(id: NodeId, key: string): ReadonlySet<NodeId> | null {
    const status = this.pending.get(key);
    if (status === undefined) return null;
    status.acks.add(id);
    return status.acks;
  }

  /**
   * Releases the request `key` and every request queued before it: the quorum round that
   * confirmed `key` started after all of them arrived, so it confirms them too.
   */
  advance(key: string): ReadIndexStatus[] {
    const at = this.queue.indexOf(key);
    if (at < 0) return [];
    const released = this.queue.slice(0, at + 1);
    this.queue = this.queue.slice(at + 1);
    const out: ReadIndexStatus[] = [];
    for (const k of released) {
      const status = this.pending.get(k);
      if (status !== undefined) out.push(status);
      this.pending.delete(k);
    }
    return out;
  }

  /** The newest pending request's key: a heartbeat carrying it confirms every pending request. */
  lastPendingKey(): string | null {
    return this.queue.length === 0 ? null : (this.queue[this.queue.length - 1] ?? null);
  }

  size(): number {
    return this.queue.length;
  }
}
