/**
 * Configuration defaults and cross-field validation (etcd's Config.validate): every rule
 * that would otherwise surface as a confusing liveness bug is rejected up front.
 */
import type { NodeId, RaftConfig, Rng } from './types.ts';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** A RaftConfig with every default filled in. */
export interface ResolvedConfig {
  readonly id: NodeId;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly rng: Rng;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxInflightMsgs: number;
  readonly maxInflightBytes: number;
  readonly maxMsgBytes: number;
  readonly maxProposalBytes: number;
  readonly checkInvariants: boolean;
  readonly applied: number | null;
}

export const DEFAULT_MAX_INFLIGHT_MSGS = 256;
export const DEFAULT_MAX_INFLIGHT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_MSG_BYTES = 1024 * 1024;
export const DEFAULT_MAX_PROPOSAL_BYTES = 1024 * 1024;

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError(`RaftConfig.${name} must be a positive integer, got ${String(value)}`);
  }
}

/** Throws ConfigError naming the offending field; returns the config with defaults applied. */
export function validateConfig(config: RaftConfig): ResolvedConfig {
  if (typeof config.id !== 'string' || config.id.length === 0) {
    throw new ConfigError(`RaftConfig.id must be a non-empty string, got ${JSON.stringify(config.id)}`);
  }
  positiveInteger('heartbeatTicks', config.heartbeatTicks);
  positiveInteger('electionTicks', config.electionTicks);
  // A follower must hear several heartbeats per election timeout, or it campaigns against a
  // healthy leader (§5.2: broadcastTime << electionTimeout).
  if (config.electionTicks <= config.heartbeatTicks) {
    throw new ConfigError(
      `RaftConfig.electionTicks (${config.electionTicks}) must be greater than heartbeatTicks (${config.heartbeatTicks})`,
    );
  }
  if (typeof config.rng?.nextInt !== 'function') {
    throw new ConfigError('RaftConfig.rng must implement nextInt(n) (use seededRng(seed) from impl/raft/rng.ts)');
  }
  const maxInflightMsgs = config.maxInflightMsgs ?? DEFAULT_MAX_INFLIGHT_MSGS;
  const maxInflightBytes = config.maxInflightBytes ?? DEFAULT_MAX_INFLIGHT_BYTES;
  const maxMsgBytes = config.maxMsgBytes ?? DEFAULT_MAX_MSG_BYTES;
  positiveInteger('maxInflightMsgs', maxInflightMsgs);
  positiveInteger('maxInflightBytes', maxInflightBytes);
  positiveInteger('maxMsgBytes', maxMsgBytes);
  const maxProposalBytes = config.maxProposalBytes ?? DEFAULT_MAX_PROPOSAL_BYTES;
  positiveInteger('maxProposalBytes', maxProposalBytes);
  // One full append must fit in the in-flight byte budget, or replication stalls forever.
  if (maxInflightBytes < maxMsgBytes) {
    throw new ConfigError(
      `RaftConfig.maxInflightBytes (${maxInflightBytes}) must be at least maxMsgBytes (${maxMsgBytes})`,
    );
  }
  const checkQuorum = config.checkQuorum ?? true;
  // Check-quorum measures liveness over one election timeout: with fewer than two ticks a
  // leader would step down between two consecutive heartbeat rounds.
  if (checkQuorum && config.electionTicks < 2) {
    throw new ConfigError(`RaftConfig.checkQuorum needs electionTicks >= 2, got ${config.electionTicks}`);
  }
  if (config.applied !== undefined && (!Number.isInteger(config.applied) || config.applied < 0)) {
    throw new ConfigError(`RaftConfig.applied must be a non-negative integer, got ${String(config.applied)}`);
  }
  return {
    id: config.id,
    electionTicks: config.electionTicks,
    heartbeatTicks: config.heartbeatTicks,
    rng: config.rng,
    preVote: config.preVote ?? true,
    checkQuorum,
    maxInflightMsgs,
    maxInflightBytes,
    maxMsgBytes,
    maxProposalBytes,
    checkInvariants: config.checkInvariants ?? true,
    applied: config.applied ?? null,
  };
}
