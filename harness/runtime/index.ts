import { UsageError } from '../errors.ts';
import { DockerRuntime } from './docker-runtime.ts';
import { LocalRuntime } from './local-runtime.ts';
import type { Runtime, RuntimeName } from './runtime.ts';

export const RUNTIME_NAMES: readonly RuntimeName[] = ['docker', 'local'];

export function makeRuntime(name: RuntimeName): Runtime {
  switch (name) {
    case 'docker':
      return new DockerRuntime();
    case 'local':
      return new LocalRuntime();
    case 'sim':
      throw new UsageError('--runtime sim is not available yet');
  }
}
