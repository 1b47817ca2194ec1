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

interface Job {
  readonly task: WorkerTask;
  readonly resolve: (v: KeyVerdict | Error) => void;
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
  private readonly waiting: Job[] = [];
  private readonly current = new Map<Worker, Job>();
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly maxHeapMb: number,
  ) {}

  /** Runs one key; resolves with its verdict, or with the error that ended its worker. */
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
      const job = this.waiting.shift() as Job;
      this.current.set(w, job);
      w.postMessage(job.task);
    }
  }

  /** Routes a worker's events to the job it is running; listeners live as long as the worker. */
  private watch(w: Worker): void {
    w.on('message', (m: { id: number; verdict: KeyVerdict }) => {
      const job = this.current.get(w);
      this.current.delete(w);
      job?.resolve(m.verdict);
      if (!this.closed) {
        this.idle.push(w);
        this.pump();
      }
    });
    const fail = (err: Error): void => {
      this.all.delete(w);
      const i = this.idle.indexOf(w);
      if (i >= 0) this.idle.splice(i, 1);
      const job = this.current.get(w);
      this.current.delete(w);
      job?.resolve(err);
      this.pump();
    };
    w.on('error', (err: Error) => {
      fail(err);
      void w.terminate();
    });
    w.on('exit', (code: number) => fail(new Error(`search worker exited with code ${code}`)));
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
    this.watch(w);
    return w;
  }

  /** Terminates every worker; tasks still running resolve with an error. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) job.resolve(new Error('pool closed'));
    for (const job of this.current.values()) job.resolve(new Error('pool closed'));
    this.current.clear();
    await Promise.all([...this.all].map((w) => w.terminate()));
    this.all.clear();
    this.idle.length = 0;
  }
}
