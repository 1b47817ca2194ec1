import { describe, expect, it } from 'vitest';
import { ConfigError, validateConfig } from './config.ts';
import { SeededRng } from './rng.ts';
import type { RaftConfig } from './types.ts';
import { nodeId } from './types.ts';

const base: RaftConfig = { id: nodeId('n1'), electionTicks: 10, heartbeatTicks: 1, rng: new SeededRng(1) };

describe('validateConfig', () => {
  it('fills in the documented defaults', () => {
    expect(validateConfig(base)).toMatchObject({
      preVote: true,
      checkQuorum: true,
      maxInflightMsgs: 256,
      maxInflightBytes: 16 * 1024 * 1024,
      maxMsgBytes: 1024 * 1024,
      maxProposalBytes: 1024 * 1024,
      checkInvariants: true,
      applied: null,
    });
  });

  it.each<[string, Partial<RaftConfig>, RegExp]>([
    ['election not above heartbeat', { electionTicks: 3, heartbeatTicks: 3 }, /electionTicks \(3\) must be greater than heartbeatTicks \(3\)/],
    ['zero heartbeat', { heartbeatTicks: 0 }, /heartbeatTicks must be a positive integer, got 0/],
    ['fractional election', { electionTicks: 2.5 }, /electionTicks must be a positive integer/],
    ['empty id', { id: nodeId('') }, /id must be a non-empty string/],
    ['no rng', { rng: {} as RaftConfig['rng'] }, /rng must implement nextInt/],
    ['zero inflight msgs', { maxInflightMsgs: 0 }, /maxInflightMsgs must be a positive integer/],
    ['negative msg bytes', { maxMsgBytes: -1 }, /maxMsgBytes must be a positive integer/],
    ['zero proposal bytes', { maxProposalBytes: 0 }, /maxProposalBytes must be a positive integer, got 0/],
    ['inflight bytes below msg bytes', { maxInflightBytes: 10, maxMsgBytes: 20 }, /maxInflightBytes \(10\) must be at least maxMsgBytes \(20\)/],
    ['negative applied', { applied: -1 as never }, /applied must be a non-negative integer/],
  ])('rejects %s with a message naming the field', (_name, override, message) => {
    expect(() => validateConfig({ ...base, ...override })).toThrow(ConfigError);
    expect(() => validateConfig({ ...base, ...override })).toThrow(message);
  });
});
