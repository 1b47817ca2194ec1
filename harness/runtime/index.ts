import { DockerRuntime } from './docker-runtime.ts';
import { LocalRuntime } from './local-runtime.ts';
import type { Runtime, RuntimeName } from './runtime.ts';
import { SimRuntime } from './sim-runtime.ts';

export const RUNTIME_NAMES: readonly RuntimeName[] = ['docker', 'local', 'sim'];

/** What a runtime may need of the run when it is made (the simulation is built from the seed). */
export interface RuntimeOptions {
  readonly seed?: number;
  /** `--storage-fault-mode`: in simulation a kill is also a power loss. */
  readonly storageFaultMode?: boolean;
}

export function makeRuntime(name: RuntimeName, options: RuntimeOptions = {}): Runtime {
  switch (name) {
    case 'docker':
      return new DockerRuntime();
    case 'local':
      return new LocalRuntime();
    case 'sim':
      return new SimRuntime({ seed: options.seed ?? 0, storageFaultMode: options.storageFaultMode === true });
  }
}
