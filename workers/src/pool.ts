/**
 * A pool of worker_threads that run kernels. The kernel module is compiled once and the
 * compiled `WebAssembly.Module` is shared with every thread; each thread owns its instance
 * and memory. A thread whose instance trapped replaces it; a thread that dies is respawned.
 */
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { GramfleetError, type ErrorPayload, type NdArray } from '@gramfleet/core';
import type { RowJob } from './row-jobs';
import { THREAD_INPUT_GONE, toThread, type ThreadInput } from './dataplane/to-thread';

/** A finished kernel run. */
export interface KernelRun {
  readonly outputs: NdArray[];
  readonly backend: string;
  readonly computeMs: number;
  /** Kernel rows served from / added to the worker's kernel-row cache (kernel-cache.ts). */
  readonly rowHits?: number;
  readonly rowMisses?: number;
  /** Kernel entries of the missed rows read from cached mirror rows instead of computed. */
  readonly mirroredEntries?: number;
}

/**
 * Messages between pool and thread. Inputs mapped from the host store travel as references to
 * their files (dataplane/to-thread.ts). `keys` are the inputs' content digests; an input listed in
 * `resident` is already in the thread's arena under its key and is sent without its data.
 */
export type ThreadRequest = {
  readonly id: number;
  readonly op: string;
  readonly attrs: unknown;
  readonly inputs: ThreadInput[];
  readonly backend?: string;
  readonly rows?: RowJob;
  readonly keys?: readonly (string | undefined)[];
  readonly resident?: readonly boolean[];
  /** TEST ONLY: run a kernel that never returns (KernelTaskContext.testOnlyHang). */
  readonly testOnlyHang?: boolean;
};
/** Reply of a thread; `resident` lists the input keys its arena now holds. */
export type ThreadReply =
  | {
      readonly id: number;
      readonly ok: true;
      readonly outputs: NdArray[];
      readonly backend: string;
      readonly computeMs: number;
      readonly resident?: readonly string[];
    }
  | { readonly id: number; readonly ok: false; readonly error: ErrorPayload; readonly resident?: readonly string[] };

/** Options of {@link createKernelPool}. */
export interface KernelPoolOptions {
  /** Threads in the pool. @default 1 */
  readonly threads?: number;
  /** The compiled kernel module shared by all threads. */
  readonly module: WebAssembly.Module;
  /** Preferred backend; falls back to 'reference' when the op has no kernel there. @default 'wasm' */
  readonly backend?: string;
}

/** The task a kernel run belongs to. */
export interface KernelTaskContext {
  readonly jobId: string;
  readonly shardId: string;
  readonly attempt?: number;
  /**
   * Time the kernel may run, ms: past it the run fails with KERNEL_TIMEOUT and the thread that
   * runs it is replaced (a hung kernel must not hold its task or its thread forever). Pools that
   * cannot stop a run leave it to the worker runtime, which fails the task all the same.
   */
  readonly timeoutMs?: number;
  /** TEST ONLY (the chaos suite, config.ts testOnlyFaults): the thread runs a kernel that never returns. */
  readonly testOnlyHang?: boolean;
}

/** The pool. */
export interface KernelPool {
  /**
   * Runs an op on a free thread (queues when all are busy). `keys`, when given, are the
   * inputs' content digests (one per input), which a caching layer may key on. `task` names the
   * task the run belongs to (the user-WebAssembly sandbox shares its threads fairly between jobs
   * and attributes a module's output with it).
   */
  run(op: string, attrs: unknown, inputs: NdArray[], keys?: readonly string[], task?: KernelTaskContext): Promise<KernelRun>;
  /**
   * Runs a job of the kernel-row cache (row-jobs.ts) on a free thread: f32 kernel rows in shared
   * memory (`block`) or their product with coefficients (`product`). Pools of wasm kernel
   * threads have it; the kernel-row cache needs it.
   */
  runRows?(job: RowJob): Promise<Float32Array | Float64Array>;
  /** Ops the threads can run, by backend. */
  readonly threads: number;
  /** Terminates every thread. */
  close(): Promise<void>;
}

interface Slot {
  worker: Worker;
  /** Requests sent to the thread and not answered yet. */
  outstanding: number;
  /** Runs a request that must have the thread to itself (see {@link pipelined}). */
  exclusive: boolean;
  resident: Set<string>;
}
interface Pending {
  req: ThreadRequest;
  resolve: (r: KernelRun) => void;
  reject: (e: Error) => void;
  readonly raw?: NdArray[];
  /** Send every input's data (a thread said one it was told was resident is not). */
  readonly withData?: boolean;
  /** See {@link KernelTaskContext.timeoutMs}. */
  readonly timeoutMs?: number;
  /** Set while it runs with a time limit. */
  timer?: NodeJS.Timeout;
}

/** Requests a thread may hold at once when they are tiny (one runs, the rest wait in its queue). */
const PIPELINE_DEPTH = 16;
/** An op whose recent runs took less than this (ms, moving average) is tiny. */
const TINY_OP_MS = 0.5;

/** Creates a {@link KernelPool}. */
export function createKernelPool(opts: KernelPoolOptions): KernelPool {
  const n = Math.max(1, opts.threads ?? 1);
  const script = path.join(__dirname, 'thread.js');
  const slots: Slot[] = [];
  const queue: Pending[] = [];
  const inflight = new Map<number, { slot: Slot; p: Pending }>();
  /** Moving average of each op's compute time on these threads, ms. */
  const opMs = new Map<string, number>();
  let nextId = 1;
  let closed = false;

  function spawn(): Slot {
    const worker = new Worker(script, { workerData: { module: opts.module, backend: opts.backend ?? 'wasm' } });
    const slot: Slot = { worker, outstanding: 0, exclusive: false, resident: new Set() };
    worker.on('message', (msgs: ThreadReply[]) => {
      for (const msg of msgs) settle(slot, msg);
      pump();
    });
    worker.on('error', (e) => fail(slot, e));
    worker.on('exit', (code) => {
      if (!closed) fail(slot, new Error(`kernel thread exited with code ${code}`));
    });
    return slot;
  }

  function settle(slot: Slot, msg: ThreadReply): void {
    const f = inflight.get(msg.id);
    if (f === undefined) return;
    inflight.delete(msg.id);
    if (f.p.timer !== undefined) clearTimeout(f.p.timer);
    slot.outstanding--;
    slot.exclusive = false;
    if (msg.resident !== undefined) slot.resident = new Set(msg.resident);
    if (msg.ok) {
      const was = opMs.get(f.p.req.op);
      opMs.set(f.p.req.op, was === undefined ? msg.computeMs : 0.8 * was + 0.2 * msg.computeMs);
      f.p.resolve({ outputs: msg.outputs, backend: msg.backend, computeMs: msg.computeMs });
    } else if (msg.error.code === THREAD_INPUT_GONE && msg.error.details?.['threadInput'] === true && f.p.raw !== undefined) {
      // A host-store file the request named went away (evicted) before the thread mapped it, or
      // an input it was told was resident was not: send the bytes this process still holds.
      queue.unshift({
        req: { ...f.p.req, id: nextId++, inputs: f.p.raw },
        resolve: f.p.resolve,
        reject: f.p.reject,
        withData: true,
        ...(f.p.timeoutMs !== undefined ? { timeoutMs: f.p.timeoutMs } : {}),
      });
    } else f.p.reject(GramfleetError.fromPayload(msg.error));
  }

  function fail(slot: Slot, e: Error): void {
    for (const [id, f] of inflight) {
      if (f.slot === slot) {
        inflight.delete(id);
        if (f.p.timer !== undefined) clearTimeout(f.p.timer);
        f.p.reject(new GramfleetError('KERNEL_TRAP', `kernel thread failed: ${e.message}`));
      }
    }
    const i = slots.indexOf(slot);
    if (i >= 0 && !closed) {
      void slot.worker.terminate();
      slots[i] = spawn();
      pump();
    }
  }

  /** Keyed inputs of `p` the thread of `s` holds resident. */
  const heldBy = (p: Pending, s: Slot): number => (p.withData === true ? 0 : (p.req.keys?.filter((k) => k !== undefined && s.resident.has(k)).length ?? 0));
  /**
   * Whether `p` may queue on a thread behind other requests: its op is tiny (its recent runs
   * took well under a millisecond, so a wait behind it is short) and the thread holds all its
   * keyed inputs resident (a request that brings new ones may evict what the requests behind it
   * were told is there). Anything else runs on a thread of its own.
   */
  const pipelined = (p: Pending, s: Slot): boolean => {
    const ms = opMs.get(p.req.op);
    if (p.req.rows !== undefined || ms === undefined || ms >= TINY_OP_MS) return false;
    const keyed = p.req.keys?.filter((k) => k !== undefined).length ?? 0;
    return heldBy(p, s) === keyed;
  };

  /**
   * Hands queued requests to threads, in order: to an idle thread (preferring one that holds the
   * most of the request's inputs), or, for tiny ones, behind others on the least loaded thread.
   * Each thread gets the requests of one call in one message, and answers in few: one
   * cross-thread hop per batch, not two per request.
   */
  function pump(): void {
    const batches = new Map<Slot, ThreadRequest[]>();
    for (;;) {
      const p = queue[0];
      if (p === undefined) break;
      let slot: Slot | undefined;
      let best = -1;
      for (const s of slots) {
        if (s.exclusive || (s.outstanding > 0 && (s.outstanding >= PIPELINE_DEPTH || !pipelined(p, s)))) continue;
        const score = heldBy(p, s) - s.outstanding * 1024;
        if (score > best || slot === undefined) {
          best = score;
          slot = s;
        }
      }
      if (slot === undefined) break;
      queue.shift();
      if (!pipelined(p, slot)) slot.exclusive = true;
      slot.outstanding++;
      inflight.set(p.req.id, { slot, p });
      if (p.timeoutMs !== undefined) {
        const s = slot;
        const limit = p.timeoutMs;
        p.timer = setTimeout(() => {
          if (inflight.get(p.req.id)?.slot !== s) return;
          // A hung kernel: fail its run, then replace the thread (the others it held are retried).
          inflight.delete(p.req.id);
          p.reject(
            new GramfleetError('KERNEL_TIMEOUT', `op ${p.req.op} still ran after ${limit} ms; its kernel thread was replaced`, {
              op: p.req.op,
              timeoutMs: limit,
            }),
          );
          fail(s, new Error(`a run of ${p.req.op} passed its ${limit} ms limit`));
        }, limit);
        p.timer.unref();
      }
      // Inputs may be shared with the input cache: copied, not transferred (or, when mapped from
      // the host store, sent as references to their files: see dataplane/to-thread.ts). Inputs the
      // thread holds resident go without their data.
      const held = slot.resident;
      const keys = p.req.keys;
      let req = p.req;
      if (p.withData !== true && keys !== undefined && keys.some((k) => k !== undefined && held.has(k))) {
        const resident = p.req.inputs.map((_, i) => keys[i] !== undefined && held.has(keys[i] as string));
        const inputs = p.req.inputs.map((a, i): ThreadInput =>
          resident[i] === true ? ({ dtype: a.dtype, shape: [...a.shape], data: emptyOf(a.dtype) } as NdArray) : a,
        );
        req = { ...p.req, inputs, resident };
      }
      (batches.get(slot) ?? (batches.set(slot, []), batches.get(slot) as ThreadRequest[])).push(req);
    }
    for (const [slot, reqs] of batches) slot.worker.postMessage(reqs);
  }

  for (let i = 0; i < n; i++) slots.push(spawn());

  return {
    threads: n,
    run(op: string, attrs: unknown, inputs: NdArray[], keys?: readonly string[], task?: KernelTaskContext): Promise<KernelRun> {
      if (closed) return Promise.reject(new GramfleetError('WORKER_DRAINING', 'kernel pool is closed'));
      return new Promise<KernelRun>((resolve, reject) => {
        queue.push({
          req: {
            id: nextId++,
            op,
            attrs,
            inputs: toThread(inputs),
            ...(keys !== undefined ? { keys } : {}),
            ...(task?.testOnlyHang === true ? { testOnlyHang: true } : {}),
          },
          resolve,
          reject,
          raw: inputs,
          ...(task?.timeoutMs !== undefined ? { timeoutMs: task.timeoutMs } : {}),
        });
        pump();
      });
    },
    async runRows(job: RowJob): Promise<Float32Array | Float64Array> {
      if (closed) throw new GramfleetError('WORKER_DRAINING', 'kernel pool is closed');
      const r = await new Promise<KernelRun>((resolve, reject) => {
        queue.push({ req: { id: nextId++, op: `rows:${job.kind}`, attrs: {}, inputs: [], rows: job }, resolve, reject });
        pump();
      });
      return (r.outputs[0] as NdArray).data as Float32Array | Float64Array;
    },
    async close(): Promise<void> {
      closed = true;
      for (const p of queue.splice(0)) p.reject(new GramfleetError('WORKER_DRAINING', 'kernel pool closed'));
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}

/** An empty typed array of a dtype (the stand-in for a resident input's data). */
function emptyOf(dtype: NdArray['dtype']): NdArray['data'] {
  return dtype === 'f64'
    ? new Float64Array(0)
    : dtype === 'f32'
      ? new Float32Array(0)
      : dtype === 'i32'
        ? new Int32Array(0)
        : dtype === 'u32'
          ? new Uint32Array(0)
          : new Uint8Array(0);
}
