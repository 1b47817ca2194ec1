import { parentPort } from 'node:worker_threads';
import { modelByName } from '../models/index.ts';
import { checkKey, type KeyVerdict } from './key-check.ts';
import type { WorkerTask } from './pool.ts';

/** A search worker: one key per message, answered with its verdict. */
const port = parentPort;
if (port === null) throw new Error('linearizability/worker.ts must run in a worker thread');
port.on('message', (task: WorkerTask) => {
  const model = modelByName(task.model);
  const verdict: KeyVerdict = checkKey(model, task.init, task.key, task.ops, task.limits);
  port.postMessage({ id: task.id, verdict });
});
