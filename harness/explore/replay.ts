/**
 * The command that reproduces a simulated run: every flag that changes what happens in it
 * (the seed, the workload and its rate, the faults and their knobs, the store's switches),
 * spelled out, so the same command gives the same `history.jsonl` byte for byte. A shrunk
 * run adds its schedule file, its operation budget and its time limit.
 */
import type { RunConfig } from '../run.ts';
import { DEFAULT_KNOBS } from '../nemesis/index.ts';
import type { NemesisKnobs } from '../nemesis/index.ts';

/** Quote an argument for a POSIX shell when it needs it. */
function sh(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export interface ReplayExtras {
  /** `--replay-schedule FILE`: the run's faults as a file (a shrunk run's). */
  readonly scheduleFile?: string;
}

export function replayArgs(config: RunConfig, extras: ReplayExtras = {}): string[] {
  const args = [
    '--runtime', config.runtime,
    '--system', config.system ?? 'raftstore',
    '--workload', config.workload,
    '--nemesis', config.nemesis,
    '--nodes', String(config.nodes),
    '--concurrency', String(config.concurrency),
    '--time-limit', String(config.timeLimitS),
    '--rate', String(config.rate ?? 0),
    '--seed', String(config.seed),
    '--op-timeout', String(config.opTimeoutMs),
    '--nemesis-interval', String(config.nemesisIntervalS),
    '--recovery', String(config.recoveryS),
  ];
  if (config.snapshotEntries !== undefined) args.push('--snapshot-entries', String(config.snapshotEntries));
  if (config.unsafe.length > 0) args.push('--unsafe', config.unsafe.join(','));
  if (config.storageFaultMode === true) args.push('--storage-fault-mode');
  if (config.readConsistency !== undefined && config.readConsistency !== 'linearizable') args.push('--read-consistency', config.readConsistency);
  if (config.clientMode !== undefined && config.clientMode !== 'single-attempt') args.push('--client', config.clientMode);
  const knobs = config.knobs ?? DEFAULT_KNOBS;
  for (const name of Object.keys(DEFAULT_KNOBS) as (keyof NemesisKnobs)[]) {
    if (knobs[name] !== DEFAULT_KNOBS[name]) args.push('--knob', `${name}=${knobs[name]}`);
  }
  for (const [name, value] of Object.entries(config.systemOptions ?? {})) args.push('--system-option', `${name}=${value}`);
  if (config.compose === true) args.push('--compose');
  if (config.maxOps !== undefined) args.push('--max-ops', String(config.maxOps));
  const scheduleFile = extras.scheduleFile ?? config.scheduleFile;
  if (scheduleFile !== undefined) args.push('--replay-schedule', scheduleFile);
  return args;
}

export function replayCommand(config: RunConfig, extras: ReplayExtras = {}): string {
  return `npm run jepsen -- ${replayArgs(config, extras).map(sh).join(' ')}`;
}
