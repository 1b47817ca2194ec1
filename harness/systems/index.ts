/**
 * Every system the harness can test, by name (`--system`). Adding one: a folder under
 * harness/systems/<name>/ whose index.ts exports a `System`, and one line here
 * (harness/systems/README.md, "testing your own system").
 */
import { UsageError } from '../errors.ts';
import { etcd } from './etcd/index.ts';
import { raftstore } from './raftstore/index.ts';
import type { System } from './system.ts';

export const SYSTEMS: Readonly<Record<string, System>> = {
  raftstore,
  etcd,
};

export const DEFAULT_SYSTEM = 'raftstore';

export function systemByName(name: string): System {
  const s = SYSTEMS[name];
  if (s === undefined) throw new UsageError(`--system: unknown system "${name}" (known: ${Object.keys(SYSTEMS).join(', ')})`);
  return s;
}
