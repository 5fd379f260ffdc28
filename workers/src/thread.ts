/**
 * Body of one kernel thread: instantiates the shared kernel module, registers every
 * backend's kernels in a registry of its own, and runs requests from the pool.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { GramfleetError, OPS, createKernelRegistry, dtypeSize, isGramfleetError, type NdArray } from '@gramfleet/core';
import { WasmArena } from './backends/wasm/arena';
import { registerReferenceKernels, registerWasmKernels } from './backends/wasm/register-all';
import type { ThreadReply, ThreadRequest } from './pool';
import { runRowJob } from './row-jobs';
import { THREAD_INPUT_GONE, fromThread } from './dataplane/to-thread';

const data = workerData as { module: WebAssembly.Module; backend: string };
let arena: WasmArena | undefined;
function currentArena(): WasmArena {
  if (arena === undefined || arena.poisoned) arena = new WasmArena(data.module);
  arena.reset();
  return arena;
}

// Ops whose inputs (by content digest) passed their data checks here, so the next task with
// the same inputs skips the O(size) scans (GRF: every shard of a job reads the same graph).
const verified = new Set<string>();

/**
 * The request's inputs as arrays: files of the host store mapped here (dataplane/to-thread.ts),
 * resident ones as views of the arena (no copy).
 */
function inputsOf(req: ThreadRequest): NdArray[] {
  const inputs = fromThread(req.inputs);
  if (req.resident === undefined) return inputs;
  const a = currentArena();
  return inputs.map((x, i) => {
    if (req.resident?.[i] !== true) return x;
    const key = req.keys?.[i] as string;
    const view = a.residentView(
      key,
      x.dtype,
      x.shape.reduce((p, q) => p * q, 1),
    );
    if (view === undefined) throw new GramfleetError(THREAD_INPUT_GONE, `input ${key} is no longer resident in this kernel thread`, { threadInput: true, key });
    return { dtype: x.dtype, shape: x.shape, data: view } as NdArray;
  });
}

/** Makes room for the request's keyed inputs that are not resident yet (drops all residents when they do not fit). */
function makeRoom(req: ThreadRequest): void {
  if (req.keys === undefined || arena === undefined) return;
  let need = 0;
  req.inputs.forEach((x, i) => {
    const k = req.keys?.[i];
    if (k !== undefined && req.resident?.[i] !== true && !(arena as WasmArena).hasResident(k)) need += x.shape.reduce((p, q) => p * q, 1) * dtypeSize(x.dtype);
  });
  if (need > 0 && !arena.residentRoom(need) && req.resident?.every((r) => !r) !== false) arena.dropResidents();
}

const registry = createKernelRegistry();
registerReferenceKernels(registry);
registerWasmKernels(registry, currentArena);

/** Replies a thread gathers before it posts them (when more requests wait behind them). */
const REPLY_BATCH = 4;

// Requests come in batches (pool.ts) and run one after another, batches in arrival order: the
// arena is the thread's one workspace. Replies go back a few at a time, so the pool can refill
// the thread's queue while it works.
let chain: Promise<void> = Promise.resolve();
parentPort?.on('message', (reqs: ThreadRequest[]) => {
  // runBatch answers every request (handle never throws, post falls back): the chain stays alive.
  chain = chain.then(() => runBatch(reqs));
});

async function runBatch(reqs: readonly ThreadRequest[]): Promise<void> {
  let replies: ThreadReply[] = [];
  let transfer: ArrayBuffer[] = [];
  for (let i = 0; i < reqs.length; i++) {
    const r = await handle(reqs[i] as ThreadRequest);
    replies.push(r);
    // Plain buffers move; shared ones (row jobs' kernel rows) are shared by the message itself.
    if (r.ok) for (const a of r.outputs) if (a.data.buffer instanceof ArrayBuffer) transfer.push(a.data.buffer);
    if (replies.length >= REPLY_BATCH || i === reqs.length - 1) {
      const resident = arena === undefined || arena.poisoned ? [] : arena.residentKeys();
      replies[replies.length - 1] = { ...(replies[replies.length - 1] as ThreadReply), resident };
      post(replies, transfer);
      replies = [];
      transfer = [];
    }
  }
}

/**
 * Posts replies, moving their output buffers. Should that fail (a buffer listed twice, or one
 * that cannot move), the replies are copied instead; should even that fail, each request is
 * answered with a retryable KERNEL_TRAP, so none is left without an answer.
 */
function post(replies: ThreadReply[], transfer: ArrayBuffer[]): void {
  try {
    parentPort?.postMessage(replies, [...new Set(transfer)]);
  } catch {
    try {
      parentPort?.postMessage(replies);
    } catch (e) {
      const error = new GramfleetError('KERNEL_TRAP', `kernel thread could not send its result: ${(e as Error).message}`).toPayload();
      parentPort?.postMessage(replies.map((r): ThreadReply => ({ id: r.id, ok: false, error, ...(r.resident !== undefined ? { resident: r.resident } : {}) })));
    }
  }
}

async function handle(req: ThreadRequest): Promise<ThreadReply> {
  try {
    if (req.rows !== undefined) {
      const t0 = performance.now();
      const data = runRowJob(currentArena(), req.rows);
      const out = (data instanceof Float32Array ? { dtype: 'f32', shape: [data.length], data } : { dtype: 'f64', shape: [data.length], data }) as NdArray;
      return { id: req.id, ok: true, outputs: [out], backend: 'wasm', computeMs: performance.now() - t0 };
    }
    // TEST ONLY (the chaos suite): a kernel that never returns; the pool's time limit replaces this thread.
    if (req.testOnlyHang === true) for (;;);
    const op = OPS.get(req.op);
    const attrs = op.parseAttrs(req.attrs);
    makeRoom(req);
    const inputs = inputsOf(req);
    const memo =
      req.keys !== undefined && req.keys.length === inputs.length && req.keys.every((k) => k !== undefined) ? `${req.op}|${req.keys.join(',')}` : undefined;
    const wasVerified = memo !== undefined && verified.has(memo);
    op.checkInputs(attrs, inputs, { verified: wasVerified });
    if (memo !== undefined) {
      verified.add(memo);
      if (verified.size > 10_000) verified.delete(verified.values().next().value as string);
    }
    const wanted = req.backend ?? data.backend;
    const backend = registry.has(wanted, req.op) ? wanted : 'reference';
    const t0 = performance.now();
    // The inputs were checked just above: the kernel need not scan them again.
    const outputs: NdArray[] = await registry.get(backend, req.op)(attrs, inputs, { ...(req.keys !== undefined ? { keys: req.keys } : {}), verified: true });
    const computeMs = performance.now() - t0;
    // Outputs that own a whole plain ArrayBuffer (the kernels' copies out of their arena) are
    // transferred as they are; views of shared memory or of a larger buffer are copied first.
    const seen = new Set<ArrayBufferLike>();
    const owned = outputs.map((a) => {
      const b = a.data.buffer;
      const whole = b instanceof ArrayBuffer && a.data.byteOffset === 0 && a.data.byteLength === b.byteLength && !seen.has(b);
      seen.add(b);
      return whole ? a : ({ dtype: a.dtype, shape: [...a.shape], data: a.data.slice() } as NdArray);
    });
    return { id: req.id, ok: true, outputs: owned, backend, computeMs };
  } catch (e) {
    const err = isGramfleetError(e) ? e : new GramfleetError('KERNEL_TRAP', `kernel ${req.op} failed: ${(e as Error).message}`);
    return { id: req.id, ok: false, error: err.toPayload() };
  }
}
