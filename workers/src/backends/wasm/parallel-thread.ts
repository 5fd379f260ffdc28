/**
 * Body of one worker thread of {@link ParallelKernels} (see parallel.ts): instantiates the
 * kernel module over the shared memory it is sent, then runs `{ id, fn, args }` calls and
 * answers `{ id, status }` (or `{ id, error }` when the call trapped).
 */
import { parentPort, workerData } from 'node:worker_threads';

/** What the spawning thread sends in `workerData`. */
export interface ParallelThreadData {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
}

/** One call. */
export interface ParallelCall {
  readonly id: number;
  readonly fn: string;
  readonly args: readonly number[];
}

/** The answer to one call. */
export interface ParallelReply {
  readonly id: number;
  readonly status?: number;
  readonly error?: string;
}

function start(): void {
  const port = parentPort;
  if (port === null) return;
  const data = workerData as ParallelThreadData;
  const instance = new WebAssembly.Instance(data.module, {
    env: {
      memory: data.memory,
      abort: (): never => {
        throw new Error('kernel aborted');
      },
    },
  });
  const exportsOf = instance.exports as Record<string, unknown>;
  port.on('message', (msg: ParallelCall) => {
    const f = exportsOf[msg.fn];
    let reply: ParallelReply;
    try {
      if (typeof f !== 'function') throw new Error(`kernel module has no export ${msg.fn}`);
      reply = { id: msg.id, status: (f as (...a: number[]) => number)(...msg.args) };
    } catch (e) {
      reply = { id: msg.id, error: e instanceof Error ? e.message : String(e) };
    }
    port.postMessage(reply);
  });
  port.postMessage({ id: -1, status: 0 } satisfies ParallelReply);
}

start();
