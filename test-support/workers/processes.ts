import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./worker.mjs', import.meta.url));

/** What every job of `worker.mjs` needs, plus job- and backend-specific fields. */
export interface WorkerJob {
  name:
    | 'append'
    | 'counter'
    | 'holder'
    | 'takeover'
    | 'pendingWriteRace'
    | 'conditionalAppends'
    | 'module';
  /**
   * URL of the backend's opener module: it exports `open(job)`, resolving to
   * `{ persistence, close() }` built from the job's backend-specific fields.
   */
  opener: string;
  tenantId: string;
  threadId: string;
  [field: string]: unknown;
}

/** A forked worker process running one job. */
export interface WorkerProcess {
  readonly child: ChildProcess;
  /** The job's result; rejects when the job failed or the process died. */
  readonly result: Promise<any>;
  /** The next message of this type from the worker. */
  next(type: string): Promise<any>;
  send(message: object): void;
}

/** Fork `worker.mjs` (a separate OS process) and hand it `job`. */
export function startWorker(job: WorkerJob): WorkerProcess {
  // No inherited execArgv: the worker is a plain Node process, not a test runner.
  const child = fork(WORKER, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<string, ((message: any) => void)[]>();
  const result = new Promise<any>((resolve, reject) => {
    child.on('message', (message: any) => {
      if (message?.type === 'done') resolve(message.result);
      else if (message?.type === 'failed') {
        reject(new Error(`worker ${job.name} failed: ${message.code} ${message.message}`));
      } else {
        const listeners = waiting.get(message?.type) ?? [];
        waiting.delete(message?.type);
        for (const listener of listeners) listener(message);
      }
    });
    child.on('exit', (code, signal) =>
      reject(new Error(`worker ${job.name} exited (${code ?? signal}) before reporting`)),
    );
    child.on('error', reject);
  });
  // Unhandled if the caller only awaits `next`; the rejection still surfaces through it.
  result.catch(() => undefined);
  child.send({ type: 'job', ...job });
  return {
    child,
    result,
    next(type) {
      return new Promise((resolve, reject) => {
        waiting.set(type, [...(waiting.get(type) ?? []), resolve]);
        result.then(
          () => reject(new Error(`worker ${job.name} finished without sending ${type}`)),
          reject,
        );
      });
    },
    send(message) {
      child.send(message);
    },
  };
}
