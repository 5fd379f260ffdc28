/**
 * The sandbox for users' WebAssembly kernels: a small pool of worker_threads, each running one
 * task at a time in a fresh instance (see `sandbox-thread.ts`).
 *
 * - Limits: a task whose memory cap, time limit or module size is above this worker's
 *   {@link UserWasmLimits} (its own memory limit shared over its threads, and policy) is refused
 *   with `KERNEL_USER_OVER_LIMIT` before it is queued; it never runs.
 * - Time: the limit runs from the moment the task is handed to its thread, so compiling the
 *   module (on that thread, never on the worker's main thread) counts; past it the thread is
 *   terminated (`KERNEL_USER_TIMEOUT`) and replaced, so the worker keeps serving. A trap or a
 *   memory limit fails that task only, with its typed error.
 * - Output: WASI stdout and stderr are captured by the thread up to
 *   {@link UserWasmLimits.outputBytes} per task and logged here as one JSON record per task
 *   (job id, task id, worker id, bytes written and dropped, the text as a JSON string field):
 *   a module can neither flood the worker's log nor write a line of its own into it.
 * - Cache: compiled modules are kept by the content digest of the module (sha256-based: the
 *   store's digest, which every read checks, or a sha256 of the bytes computed here), never by
 *   a weak hash; a thread compiles a module once and the others receive the compiled module.
 * - Fairness: queued tasks are taken from the job with the fewest tasks running here, and no job
 *   runs more than `maxTasksPerJob` at once, so one job's burst cannot hold every thread while
 *   another job waits.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import {
  GramfleetError,
  USER_WASM_ABSOLUTE_LIMITS,
  WASM_PAGE,
  checkUserWasmLimits,
  parseUserWasmAttrs,
  silentLogger,
  type Logger,
  type NdArray,
  type UserWasmLimits,
} from '@gramfleet/core';
import { ModuleLru } from './module-cache';
import type { CapturedOutput, SandboxReply, SandboxRequest } from './sandbox-thread';

/** A finished sandboxed task. */
export interface SandboxRun {
  readonly output: Float64Array;
  readonly computeMs: number;
  /** Time spent compiling the module for this task (0 when a compiled module was at hand). */
  readonly compileMs: number;
  /** Whether the compiled module came from a cache (this thread's, or the sandbox's by digest). */
  readonly cached: boolean;
  /** What the module wrote to stdout/stderr (already logged), when it wrote anything. */
  readonly stdio?: CapturedOutput;
}

/** Who a task belongs to (for fairness between jobs and for the log records of its output). */
export interface SandboxTaskContext {
  readonly jobId: string;
  readonly shardId: string;
  readonly attempt?: number;
}

/** The sandbox. */
export interface Sandbox {
  /**
   * Runs one user-kernel task: attrs per `parseUserWasmAttrs`, inputs [module u8, input f64?].
   * `moduleDigest` is the module's content digest when known (the worker has it from the task,
   * and its store has checked the bytes against it): compiled modules are cached by it.
   */
  run(attrs: Readonly<Record<string, unknown>>, inputs: readonly NdArray[], moduleDigest?: string, ctx?: SandboxTaskContext): Promise<SandboxRun>;
  /** What this sandbox accepts (advertised in the worker's registry entry). */
  readonly limits: UserWasmLimits;
  /** Threads replaced after a timeout or a crash (for tests and stats). */
  readonly replaced: () => number;
  /** Modules compiled (by any thread) since the start. */
  readonly compiled: () => number;
  close(): Promise<void>;
}

/** Options of {@link createSandbox}. */
export interface SandboxOptions {
  /** Threads. @default 1 */
  readonly threads?: number;
  /** What the sandbox accepts. @default the absolute bounds (4 GiB, 24 h, 256 MiB modules, 64 KiB of output) */
  readonly limits?: UserWasmLimits;
  /** Tasks of one job run at once. @default threads */
  readonly maxTasksPerJob?: number;
  /** Where the modules' output is logged. @default silent */
  readonly log?: Logger;
  /** This worker's id, in the log records of the modules' output. */
  readonly workerId?: string;
}

/**
 * JS heap of a sandbox thread, MiB (a module's memory is not on it; what the thread keeps on it is
 * small: the captured output, at most GRAMFLEET_USER_WASM_OUTPUT_KB). Past it the thread dies and
 * is replaced, and the task fails with KERNEL_USER_TRAP.
 */
const THREAD_HEAP_MB = 256;
/** Compiled modules kept by the parent: at most this many, of at most {@link COMPILED_MAX_BYTES} of module bytes in all. */
const COMPILED_MAX = 64;
const COMPILED_MAX_BYTES = 64 * 2 ** 20;

interface Slot {
  worker: Worker | undefined;
  busy: boolean;
  /**
   * Digests of modules this thread has run (a hint: it probably still holds them, so the compiled
   * module is not sent again; if it has dropped one, it compiles the bytes, which are always sent).
   */
  ran: Set<string>;
}
interface Job {
  readonly req: Omit<SandboxRequest, 'id' | 'module' | 'bytes'>;
  readonly bytes: Uint8Array;
  readonly timeoutMs: number;
  readonly ctx: SandboxTaskContext | undefined;
  readonly jobKey: string;
  resolve: (r: SandboxRun) => void;
  reject: (e: Error) => void;
}

/** Creates a sandbox. */
export function createSandbox(o: SandboxOptions = {}): Sandbox {
  const script = path.join(__dirname, 'sandbox-thread.js');
  const threads = Math.max(1, o.threads ?? 1);
  const limits = o.limits ?? USER_WASM_ABSOLUTE_LIMITS;
  const perJob = Math.max(1, o.maxTasksPerJob ?? threads);
  const log = o.log ?? silentLogger;
  const slots: Slot[] = Array.from({ length: threads }, () => ({ worker: undefined, busy: false, ran: new Set<string>() }));
  const queue: Job[] = [];
  const running = new Map<string, number>();
  const modules = new ModuleLru<WebAssembly.Module>(COMPILED_MAX, COMPILED_MAX_BYTES);
  let replaced = 0;
  let compiledCount = 0;
  let nextId = 1;
  let closed = false;
  let anonymous = 0;

  /** The next job to run: of the job with the fewest running here (under its cap), oldest first. */
  const takeNext = (): Job | undefined => {
    let best = -1;
    let bestRunning = Infinity;
    for (let i = 0; i < queue.length; i++) {
      const r = running.get((queue[i] as Job).jobKey) ?? 0;
      if (r < perJob && r < bestRunning) {
        best = i;
        bestRunning = r;
        if (r === 0) break;
      }
    }
    return best < 0 ? undefined : queue.splice(best, 1)[0];
  };

  const logOutput = (job: Job, stdio: CapturedOutput | undefined): void => {
    if (stdio === undefined) return;
    log.info('user module output', {
      jobId: job.ctx?.jobId,
      shardId: job.ctx?.shardId,
      ...(o.workerId !== undefined ? { workerId: o.workerId } : {}),
      ...(job.ctx?.attempt !== undefined ? { attempt: job.ctx.attempt } : {}),
      fn: job.req.fn,
      module: job.req.digest,
      bytes: stdio.bytes,
      dropped: stdio.dropped,
      stdout: stdio.stdout,
      stderr: stdio.stderr,
    });
  };

  const pump = (): void => {
    for (const slot of slots) {
      if (closed || slot.busy || queue.length === 0) continue;
      const job = takeNext();
      if (job === undefined) return;
      slot.busy = true;
      running.set(job.jobKey, (running.get(job.jobKey) ?? 0) + 1);
      const w = (slot.worker ??= new Worker(script, { resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB } }));
      const id = nextId++;
      const digest = job.req.digest;
      // The compiled module where one is at hand (the thread then skips the compile); the bytes
      // always (a thread that holds neither compiles them; a copy of the view's bytes only).
      const compiled = slot.ran.has(digest) ? undefined : modules.get(digest);
      const bytes = job.bytes.byteLength === job.bytes.buffer.byteLength ? job.bytes : job.bytes.slice();
      let settled = false;
      const finish = (f: () => void, kill: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        w.off('message', onMsg);
        w.off('exit', onExit);
        w.off('error', onError);
        if (kill) {
          replaced++;
          slot.worker = undefined;
          slot.ran.clear();
          void w.terminate();
        }
        const n = (running.get(job.jobKey) ?? 1) - 1;
        if (n <= 0) running.delete(job.jobKey);
        else running.set(job.jobKey, n);
        slot.busy = false;
        f();
        pump();
      };
      const onMsg = (r: SandboxReply): void => {
        if (r.id !== id) return;
        if (r.ok) {
          if (slot.ran.size >= 64) slot.ran.clear();
          slot.ran.add(digest);
        }
        if (r.compiled !== undefined) {
          compiledCount++;
          modules.set(digest, r.compiled, job.bytes.byteLength);
        }
        logOutput(job, r.stdio);
        finish(
          () =>
            r.ok
              ? job.resolve({
                  output: r.output,
                  computeMs: r.computeMs,
                  compileMs: r.compileMs,
                  cached: r.compiled === undefined,
                  ...(r.stdio !== undefined ? { stdio: r.stdio } : {}),
                })
              : job.reject(GramfleetError.fromPayload(r.error)),
          false,
        );
      };
      const onExit = (code: number): void =>
        finish(
          () => job.reject(new GramfleetError('KERNEL_USER_TRAP', `the sandbox thread exited (code ${code}) while running the module`, { exitCode: code })),
          true,
        );
      const onError = (e: Error): void => finish(() => job.reject(new GramfleetError('KERNEL_USER_TRAP', `the sandbox thread failed: ${e.message}`, {})), true);
      const timer = setTimeout(
        () =>
          finish(
            () =>
              job.reject(
                new GramfleetError(
                  'KERNEL_USER_TIMEOUT',
                  `the module ran (or compiled) longer than its limit of ${job.timeoutMs} ms; its thread was terminated`,
                  { timeoutMs: job.timeoutMs },
                ),
              ),
            true,
          ),
        job.timeoutMs,
      );
      w.on('message', onMsg);
      w.once('exit', onExit);
      w.once('error', onError);
      const req: SandboxRequest = { ...job.req, id, bytes, ...(compiled !== undefined ? { module: compiled } : {}) };
      w.postMessage(req);
    }
  };

  return {
    limits,
    run(rawAttrs, inputs, moduleDigest, ctx) {
      return new Promise<SandboxRun>((resolve, reject) => {
        if (closed) throw new GramfleetError('WORKER_DRAINING', 'the sandbox is closing', {});
        const a = parseUserWasmAttrs(rawAttrs);
        const mod = inputs[0];
        if (mod === undefined || mod.dtype !== 'u8')
          throw new GramfleetError('INPUT_INVALID', 'the first input must be the module bytes (u8)', { field: 'inputs[0]' });
        const bytes = mod.data as Uint8Array;
        // Refused before it is queued: nothing of it runs on this worker.
        checkUserWasmLimits(
          { memoryMB: (a.memoryPages * WASM_PAGE) / 2 ** 20, timeoutMs: a.timeoutMs, moduleBytes: bytes.byteLength },
          limits,
          `worker ${o.workerId ?? 'sandbox'}`,
        );
        // Cached by content digest (sha256-based: two modules cannot share a key), never by a weak hash.
        const digest = moduleDigest ?? createHash('sha256').update(bytes).digest('hex');
        const second = inputs[1];
        const input =
          a.inline !== undefined
            ? Float64Array.from(a.inline)
            : second === undefined
              ? new Float64Array(0)
              : second.dtype === 'f64'
                ? (second.data as Float64Array)
                : Float64Array.from(second.data as ArrayLike<number>);
        queue.push({
          req: { digest, fn: a.fn, input, outLen: a.outLen, memoryPages: a.memoryPages, outputBytes: limits.outputBytes },
          bytes,
          timeoutMs: a.timeoutMs,
          ctx,
          jobKey: ctx?.jobId ?? `anonymous-${anonymous++}`,
          resolve,
          reject,
        });
        pump();
      });
    },
    replaced: () => replaced,
    compiled: () => compiledCount,
    async close() {
      closed = true;
      for (const j of queue.splice(0)) j.reject(new GramfleetError('WORKER_DRAINING', 'the sandbox is closing', {}));
      await Promise.all(slots.map((s) => s.worker?.terminate()));
    },
  };
}
