/**
 * What applying a command returns to its proposer, and what the watch history records.
 * Results are recorded in the exactly-once table and serialized in snapshots, so they are
 * plain JSON and must be identical on every replica.
 */
import type { JsonValue } from './commands.ts';

/** Failure codes decided by the state machine (impl/API.md error table). */
export type StoreErrorCode =
  | 'bad-request'
  | 'not-found'
  | 'version-conflict'
  | 'key-exists'
  | 'lease-held'
  | 'lease-lost'
  /** The request's seq fell out of its client's exactly-once window: it may or may not have applied. */
  | 'stale-request';

export interface StoreFailure {
  readonly ok: false;
  readonly code: StoreErrorCode;
  readonly message: string;
  /** version-conflict / key-exists: the key's current version (0 when absent). */
  readonly currentVersion?: number;
  /** lease-held: who holds it. */
  readonly holder?: string;
  /** txn: index of the op whose precondition failed. */
  readonly opIndex?: number;
}

export interface KeyWriteResult {
  readonly key: string;
  readonly version: number;
  readonly createRevision: number;
  readonly modRevision: number;
}

export interface KeyDeleteResult {
  readonly key: string;
  readonly deleted: true;
}

/** A txn `get`: the key as of the txn, or `found: false` (version 0) when absent. */
export type KeyGetResult =
  | { readonly key: string; readonly found: true; readonly value: JsonValue; readonly version: number; readonly createRevision: number; readonly modRevision: number }
  | { readonly key: string; readonly found: false; readonly version: 0 };

/** A txn `compare` that held: the key's version (0 = absent). */
export interface KeyCompareResult {
  readonly key: string;
  readonly version: number;
}

export type TxnOpResult = KeyWriteResult | KeyDeleteResult | KeyGetResult | KeyCompareResult;

export type StoreValue =
  | (KeyWriteResult & { readonly revision: number })
  | (KeyDeleteResult & { readonly revision: number })
  | { readonly results: readonly TxnOpResult[]; readonly revision: number }
  | { readonly name: string; readonly holder: string; readonly token: number; readonly ttlMs: number; readonly revision: number }
  | { readonly name: string; readonly released: true; readonly revision: number }
  | { readonly name: string; readonly expired: true; readonly revision: number };

export interface StoreSuccess {
  readonly ok: true;
  readonly value: StoreValue;
}

export type ApplyResult = StoreSuccess | StoreFailure;

export function failure(code: StoreErrorCode, message: string, extra: Partial<Pick<StoreFailure, 'currentVersion' | 'holder' | 'opIndex'>> = {}): StoreFailure {
  return { ok: false, code, message, ...extra };
}

/** One committed change to a key, as streamed by watches. A delete has value null and version 0. */
export interface KeyEvent {
  readonly revision: number;
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly value: JsonValue;
  readonly version: number;
  readonly createRevision: number;
  readonly modRevision: number;
}

export function isApplyResult(x: unknown): x is ApplyResult {
  return typeof x === 'object' && x !== null && typeof (x as { ok?: unknown }).ok === 'boolean';
}
