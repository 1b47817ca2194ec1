/**
 * The node's one seam to the world: every clock read, timer, random draw, file operation and
 * socket of the store node (driver, store, storage, transport, HTTP API) goes through a
 * Platform handed to `startNode` (start-node.ts). `real-platform.ts` implements it on Node.js
 * for the real process (main.ts); the simulation (harness/sim/) implements it in virtual time
 * with a simulated disk and network, so the same assembly and driver code run in both and a
 * simulated run replays bit for bit from its seed (FoundationDB's and TigerBeetle's rule: a
 * single stray `Date.now()` breaks replay). eslint.config.js forbids the ambient APIs
 * (Date, timers, performance, Math.random, crypto randomness, node:fs/net/http) everywhere
 * under impl/node, impl/store, impl/storage and impl/transport except in the real adapters.
 */
import type { StorageFs } from '../storage/storage-fs.ts';
import type { RequestHandler } from '../store/http-handler.ts';
import type { PeerEndpoint, PeerEndpointOptions } from './seams.ts';

export interface PlatformClock {
  /** Milliseconds on a monotonic clock with an arbitrary origin: durations and deadlines. Never jumps. */
  monotonicMs(this: void): number;
  /** Milliseconds since the Unix epoch as this machine's clock reads them (timestamps in logs and events); may jump. */
  wallMs(this: void): number;
}

declare const timerBrand: unique symbol;
/** An opaque timer handle (a Node.js Timeout on the real platform). */
export type TimerHandle = { readonly [timerBrand]: true };

export interface TimerOptions {
  /** The timer alone does not keep the process alive (Node's `unref`). */
  readonly unref?: boolean;
}

export interface PlatformTimers {
  setTimeout(fn: () => void, ms: number, options?: TimerOptions): TimerHandle;
  setInterval(fn: () => void, ms: number, options?: TimerOptions): TimerHandle;
  /** Cancel a timeout or an interval; clearing twice or clearing a fired timeout is harmless. */
  clear(handle: TimerHandle): void;
}

export interface PlatformRandom {
  /** A uniformly random 32-bit unsigned integer (incarnation numbers, the core's RNG seed, backoff jitter). */
  uint32(): number;
}

/** The peer transport: opens this node's endpoint (listener + outbound links). */
export interface PeerNetwork {
  open(options: PeerEndpointOptions): Promise<PeerEndpoint>;
}

export interface HttpListener {
  /** The URL the listener was bound to (e.g. http://127.0.0.1:8001). */
  readonly url: string;
  /** Stop accepting and end open connections and streams. */
  close(): Promise<void>;
}

/** Serves a RequestHandler to clients: node:http on the real platform, in-process links in the simulation. */
export interface HttpServing {
  listen(handler: RequestHandler, port: number, host: string): Promise<HttpListener>;
}

export interface LoopDelayStats {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface Platform {
  readonly clock: PlatformClock;
  readonly timers: PlatformTimers;
  readonly random: PlatformRandom;
  readonly fs: StorageFs;
  readonly peers: PeerNetwork;
  readonly http: HttpServing;
  /** Event-loop delay in ms since start, for /v1/metrics; null where it means nothing (virtual time). */
  loopDelay(): LoopDelayStats | null;
}
