import { DockerRuntime } from './docker-runtime.ts';
import { LocalRuntime } from './local-runtime.ts';
import type { Runtime, RuntimeName } from './runtime.ts';

export const RUNTIME_NAMES: readonly RuntimeName[] = ['docker', 'local'];

/** `bundle`: the store node bundle to run (default dist/store-node.mjs). */
export function makeRuntime(name: RuntimeName, bundle?: string): Runtime {
  switch (name) {
    case 'docker':
      return new DockerRuntime(bundle);
    case 'local':
      return new LocalRuntime(bundle);
  }
}
