/**
 * The harness's error classes, each mapped to one exit status by the CLI (sysexits.h):
 * UsageError 64 (a flag, a combination or a config entry is wrong: the message names it),
 * PrerequisiteError 69 (something to install or start: the message says what and how),
 * HarnessError 70 (the harness itself failed; the run's verdict is not known).
 */

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export class PrerequisiteError extends Error {
  override readonly name = 'PrerequisiteError';
}

export class HarnessError extends Error {
  override readonly name = 'HarnessError';
}
