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
  readonly id: number; readonly op: string; readonly attrs: unknown; readonly inputs: ThreadInput[]; readonly backend?: string; readonly rows?: RowJob;
  readonly keys?: readonly (string | undefined)[]; readonly resident?: readonly boolean[];
};
/** Reply of a thread; `resident` lists the input keys its arena now holds. */
export type ThreadReply =
  | { readonly id: number; readonly ok: true; readonly outputs: NdArray[]; readonly backend: string; readonly computeMs: number; readonly resident?: readonly string[] }
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

/** The pool. */
export interface KernelPool {
  /**
   * Runs an op on a free thread (queues when all are busy). `keys`, when given, are the
   * inputs' content digests (one per input), which a caching layer may key on.
   */
  run(op: string, attrs: unknown, inputs: NdArray[], keys?: readonly string[]): Promise<KernelRun>;
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

interface Slot { worker: Worker; busy: boolean; resident: Set<string> }
interface Pending { req: ThreadRequest; resolve: (r: KernelRun) => void; reject: (e: Error) => void; readonly raw?: NdArray[] }

/** Creates a {@link KernelPool}. */
export function createKernelPool(opts: KernelPoolOptions): KernelPool {
  const n = Math.max(1, opts.threads ?? 1);
  const script = path.join(__dirname, 'thread.js');
  const slots: Slot[] = [];
  const queue: Pending[] = [];
  const inflight = new Map<number, { slot: Slot; p: Pending }>();
  let nextId = 1;
  let closed = false;

  function spawn(): Slot {
    const worker = new Worker(script, { workerData: { module: opts.module, backend: opts.backend ?? 'wasm' } });
    const slot: Slot = { worker, busy: false, resident: new Set() };
    worker.on('message', (msg: ThreadReply) => {
      const f = inflight.get(msg.id);
      if (f === undefined) return;
      inflight.delete(msg.id);
      slot.busy = false;
      if (msg.resident !== undefined) slot.resident = new Set(msg.resident);
      if (msg.ok) f.p.resolve({ outputs: msg.outputs, backend: msg.backend, computeMs: msg.computeMs });
      else if (msg.error.code === THREAD_INPUT_GONE && msg.error.details?.['threadInput'] === true && f.p.raw !== undefined) {
        // A host-store file the request named went away (evicted) before the thread mapped it:
        // send the bytes this process still maps.
        queue.unshift({ req: { ...f.p.req, id: nextId++, inputs: f.p.raw }, resolve: f.p.resolve, reject: f.p.reject });
      } else f.p.reject(GramfleetError.fromPayload(msg.error));
      pump();
    });
    worker.on('error', (e) => fail(slot, e));
    worker.on('exit', (code) => {
      if (!closed) fail(slot, new Error(`kernel thread exited with code ${code}`));
    });
    return slot;
  }

  function fail(slot: Slot, e: Error): void {
    for (const [id, f] of inflight) {
      if (f.slot === slot) {
        inflight.delete(id);
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

  function pump(): void {
    for (;;) {
      const p = queue[0];
      if (p === undefined) return;
      // A free thread, preferring one that holds the most of the task's inputs already.
      let slot: Slot | undefined;
      let best = -1;
      for (const s of slots) {
        if (s.busy) continue;
        const held = p.req.keys?.filter((k) => k !== undefined && s.resident.has(k)).length ?? 0;
        if (held > best) {
          best = held;
          slot = s;
        }
      }
      if (slot === undefined) return;
      queue.shift();
      slot.busy = true;
      inflight.set(p.req.id, { slot, p });
      // Inputs may be shared with the input cache: copied, not transferred (or, when mapped from
      // the host store, sent as references to their files: see dataplane/to-thread.ts). Inputs the
      // thread holds resident go without their data.
      const held = slot.resident;
      const keys = p.req.keys;
      if (keys !== undefined && keys.some((k) => k !== undefined && held.has(k))) {
        const resident = p.req.inputs.map((_, i) => keys[i] !== undefined && held.has(keys[i] as string));
        const inputs = p.req.inputs.map((a, i): ThreadInput => (resident[i] === true ? ({ dtype: a.dtype, shape: [...a.shape], data: emptyOf(a.dtype) } as NdArray) : a));
        slot.worker.postMessage({ ...p.req, inputs, resident });
      } else slot.worker.postMessage(p.req);
    }
  }

  for (let i = 0; i < n; i++) slots.push(spawn());

  return {
    threads: n,
    run(op: string, attrs: unknown, inputs: NdArray[], keys?: readonly string[]): Promise<KernelRun> {
      if (closed) return Promise.reject(new GramfleetError('WORKER_DRAINING', 'kernel pool is closed'));
      return new Promise<KernelRun>((resolve, reject) => {
        queue.push({ req: { id: nextId++, op, attrs, inputs: toThread(inputs), ...(keys !== undefined ? { keys } : {}) }, resolve, reject, raw: inputs });
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
  return dtype === 'f64' ? new Float64Array(0) : dtype === 'f32' ? new Float32Array(0) : dtype === 'i32' ? new Int32Array(0) : dtype === 'u32' ? new Uint32Array(0) : new Uint8Array(0);
}
