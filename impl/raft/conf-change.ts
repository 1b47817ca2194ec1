/**
 * Single-server membership changes (thesis §4.1): the encoding carried in 'conf-change'
 * entries, and the pure rules for applying one to a ConfState.
 */
import type { ConfChange, ConfState, NodeId } from './types.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeConfChange(change: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify({ type: change.type, node: change.node }));
}

/** Decodes a 'conf-change' entry's data; throws naming what was wrong. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(data));
  } catch (err) {
    throw new Error(`conf-change entry: data is not JSON (${(err as Error).message})`, { cause: err });
  }
  if (typeof parsed !== 'object' || parsed === null) throw new Error('conf-change entry: data is not an object');
  const { type, node } = parsed as { type?: unknown; node?: unknown };
  if (typeof node !== 'string' || node.length === 0) throw new Error('conf-change entry: "node" must be a non-empty string');
  switch (type) {
    case 'add-learner':
    case 'promote':
    case 'remove':
      return { type, node: node as NodeId };
    default:
      throw new Error(`conf-change entry: unknown type ${JSON.stringify(type)}`);
  }
}

/** Why `change` cannot apply to `conf`, or null when it can. */
export function confChangeError(conf: ConfState, change: ConfChange): string | null {
  const isVoter = conf.voters.includes(change.node);
  const isLearner = conf.learners.includes(change.node);
  switch (change.type) {
    case 'add-learner':
      return isVoter || isLearner ? `${change.node} is already a member` : null;
    case 'promote':
      return isLearner ? null : `${change.node} is not a learner`;
    case 'remove':
      if (!isVoter && !isLearner) return `${change.node} is not a member`;
      // An empty voter set can never elect a leader again.
      if (isVoter && conf.voters.length === 1) return `${change.node} is the last voter`;
      return null;
  }
}

/** The membership after `change`; an inapplicable change leaves it as it was (every replica agrees). */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState {
  if (confChangeError(conf, change) !== null) return conf;
  switch (change.type) {
    case 'add-learner':
      return { voters: conf.voters, learners: [...conf.learners, change.node] };
    case 'promote':
      return { voters: [...conf.voters, change.node], learners: conf.learners.filter((n) => n !== change.node) };
    case 'remove':
      return {
        voters: conf.voters.filter((n) => n !== change.node),
        learners: conf.learners.filter((n) => n !== change.node),
      };
  }
}
