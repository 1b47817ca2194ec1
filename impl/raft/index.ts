/** The Raft core's public API. */
export * from './types.ts';
export { RawNode, TRANSFER_CONTEXT } from './raw-node.ts';
export { MemoryStorage, bootstrapEntries, bootstrapHardState } from './memory-storage.ts';
export { SeededRng, seededRng } from './rng.ts';
export { ConfigError, validateConfig, DEFAULT_MAX_INFLIGHT_BYTES, DEFAULT_MAX_INFLIGHT_MSGS, DEFAULT_MAX_MSG_BYTES, DEFAULT_MAX_PROPOSAL_BYTES } from './config.ts';
export type { ResolvedConfig } from './config.ts';
export { encodeConfChange, decodeConfChange, applyConfChange, confChangeError } from './conf-change.ts';
