import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Key, KeyCheckLimits, KeyVerdict } from './key-check.ts';
import type { SearchOp } from './wgl.ts';

export interface WorkerTask {
  readonly id: number;
  readonly model: string;
  readonly init: unknown;
  readonly key: Key;
  readonly ops: readonly SearchOp[];
  readonly limits: KeyCheckLimits;
}

/**
 * A small pool of search workers. Each runs `worker.ts`; when this module runs from
 * TypeScript source (tsx, vitest) the worker first registers tsx's loader, since worker
 * threads do not inherit the parent's module hooks.
 *
 * A worker that dies (for instance out of heap: `maxHeapMb` caps each one, so a runaway
 * search ends in that worker rather than taking the process down) fails only its task.
 */
export class SearchPool {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  private readonly waiting: { task: WorkerTask; resolve: (v: KeyVerdict | Error) => void }[] = [];
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly maxHeapMb: number,
  ) {}

  run(task: WorkerTask): Promise<KeyVerdict | Error> {
    return new Promise((resolve) => {
      this.waiting.push({ task, resolve });
      this.pump();
    });
  }

  private pump(): void {
    while (!this.closed && this.waiting.length > 0) {
      let w = this.idle.pop();
      if (w === undefined) {
        if (this.all.size >= this.size) return;
        w = this.spawn();
      }
      const job = this.waiting.shift() as { task: WorkerTask; resolve: (v: KeyVerdict | Error) => void };
      this.assign(w, job);
    }
  }

  private assign(w: Worker, job: { task: WorkerTask; resolve: (v: KeyVerdict | Error) => void }): void {
    const cleanup = (): void => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    const onMessage = (m: { id: number; verdict: KeyVerdict }): void => {
      cleanup();
      job.resolve(m.verdict);
      if (!this.closed) {
        this.idle.push(w);
        this.pump();
      }
    };
    const onError = (err: Error): void => {
      cleanup();
      this.all.delete(w);
      void w.terminate();
      job.resolve(err);
      this.pump();
    };
    const onExit = (code: number): void => {
      cleanup();
      this.all.delete(w);
      job.resolve(new Error(`search worker exited with code ${code}`));
      this.pump();
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
    w.postMessage(job.task);
  }

  private spawn(): Worker {
    const workerUrl = new URL('./worker' + (import.meta.url.endsWith('.ts') ? '.ts' : '.js'), import.meta.url);
    const resourceLimits = { maxOldGenerationSizeMb: this.maxHeapMb };
    let w: Worker;
    if (workerUrl.pathname.endsWith('.ts')) {
      const req = createRequire(import.meta.url);
      const tsxApi = pathToFileURL(req.resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
      const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(workerUrl.href)}); })` + `.catch((e) => { console.error(e); process.exit(70); });`;
      w = new Worker(boot, { eval: true, resourceLimits });
    } else {
      w = new Worker(workerUrl, { resourceLimits });
    }
    this.all.add(w);
    return w;
  }

  /** Terminates every worker; tasks still running resolve with an error. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) job.resolve(new Error('pool closed'));
    await Promise.all([...this.all].map((w) => w.terminate()));
    this.all.clear();
    this.idle.length = 0;
  }
}
