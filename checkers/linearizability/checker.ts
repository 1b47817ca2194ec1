import type { CheckInput, Checker } from '../checker.ts';
import { checkLinearizability, type LinearizabilityOptions } from './check.ts';

/** Wraps `checkLinearizability` as a `Checker`, for runners that take a list of checkers. */
export function linearizabilityChecker(options: LinearizabilityOptions): Checker {
  return {
    name: 'linearizability',
    check: (input: CheckInput) => checkLinearizability(input.history, options),
  };
}
