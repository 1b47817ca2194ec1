import { casRegisterModel } from './cas-register.ts';
import { kvModel } from './kv.ts';
import type { Model } from './model.ts';
import { mutexModel } from './mutex.ts';
import { registerModel } from './register.ts';
import { versionedKvModel } from './versioned-kv.ts';

export type { Model, ModelOp } from './model.ts';

/** Every built-in model by name (what `--model` accepts; worker threads look models up here). */
export const MODELS: Readonly<Record<string, Model<unknown>>> = {
  register: registerModel as Model<unknown>,
  'cas-register': casRegisterModel as Model<unknown>,
  kv: kvModel as Model<unknown>,
  'versioned-kv': versionedKvModel as Model<unknown>,
  mutex: mutexModel as Model<unknown>,
};

export function modelByName(name: string): Model<unknown> {
  const m = MODELS[name];
  if (m === undefined) throw new Error(`unknown model "${name}" (known: ${Object.keys(MODELS).join(', ')})`);
  return m;
}
