/**
 * Body of one kernel thread: instantiates the shared kernel module, registers every
 * backend's kernels in a registry of its own, and runs requests from the pool.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { GramfleetError, OPS, createKernelRegistry, isGramfleetError, type NdArray } from '@gramfleet/core';
import { WasmArena } from './backends/wasm/arena';
import { registerReferenceKernels, registerWasmKernels } from './backends/wasm/register-all';
import type { ThreadReply, ThreadRequest } from './pool';
import { runRowJob } from './row-jobs';
import { fromThread } from './dataplane/to-thread';

const data = workerData as { module: WebAssembly.Module; backend: string };
let arena: WasmArena | undefined;
function currentArena(): WasmArena {
  if (arena === undefined || arena.poisoned) arena = new WasmArena(data.module);
  arena.reset();
  return arena;
}

const registry = createKernelRegistry();
registerReferenceKernels(registry);
registerWasmKernels(registry, currentArena);

parentPort?.on('message', (req: ThreadRequest) => {
  void handle(req).then((reply) => {
    // Plain buffers move; shared ones (row jobs' kernel rows) are shared by the message itself.
    const transfer = reply.ok ? reply.outputs.map((a) => a.data.buffer).filter((b): b is ArrayBuffer => b instanceof ArrayBuffer) : [];
    parentPort?.postMessage(reply, transfer);
  });
});

async function handle(req: ThreadRequest): Promise<ThreadReply> {
  try {
    if (req.rows !== undefined) {
      const t0 = performance.now();
      const data = runRowJob(currentArena(), req.rows);
      const out = (data instanceof Float32Array ? { dtype: 'f32', shape: [data.length], data } : { dtype: 'f64', shape: [data.length], data }) as NdArray;
      return { id: req.id, ok: true, outputs: [out], backend: 'wasm', computeMs: performance.now() - t0 };
    }
    const op = OPS.get(req.op);
    const attrs = op.parseAttrs(req.attrs);
    const inputs = fromThread(req.inputs);
    op.checkInputs(attrs, inputs);
    const wanted = req.backend ?? data.backend;
    const backend = registry.has(wanted, req.op) ? wanted : 'reference';
    const t0 = performance.now();
    const outputs: NdArray[] = await registry.get(backend, req.op)(attrs, inputs, {});
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
