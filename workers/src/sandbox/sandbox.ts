/**
 * The sandbox for users' WebAssembly kernels: a small pool of worker_threads, each running one
 * task at a time in a fresh instance (see `sandbox-thread.ts`). A task past its time limit has
 * its thread terminated (`KERNEL_USER_TIMEOUT`); a trap or a limit fails that task only with
 * its typed error; a dead thread is replaced, so the worker keeps serving. Compiled modules
 * are cached by digest.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { GramfleetError, checkUserModule, inspectWasm, parseUserWasmAttrs, type NdArray } from '@gramfleet/core';
import type { SandboxReply, SandboxRequest } from './sandbox-thread';

/** A finished sandboxed task. */
export interface SandboxRun {
  readonly output: Float64Array;
  readonly computeMs: number;
}

/** The sandbox. */
export interface Sandbox {
  /**
   * Runs one user-kernel task: attrs per `parseUserWasmAttrs`, inputs [module u8, input f64?].
   * `moduleDigest` is the module's content digest when known (the worker has it from the task):
   * compiled modules and their checks are cached by it.
   */
  run(attrs: Readonly<Record<string, unknown>>, inputs: readonly NdArray[], moduleDigest?: string): Promise<SandboxRun>;
  /** Threads replaced after a timeout or a crash (for tests and stats). */
  readonly replaced: () => number;
  close(): Promise<void>;
}

interface Slot {
  worker: Worker | undefined;
  busy: boolean;
}
interface Job {
  req: Omit<SandboxRequest, 'id'>;
  timeoutMs: number;
  resolve: (r: SandboxRun) => void;
  reject: (e: Error) => void;
}

/** Creates a sandbox with `threads` threads (default 1). */
export function createSandbox(o: { readonly threads?: number } = {}): Sandbox {
  const script = path.join(__dirname, 'sandbox-thread.js');
  const slots: Slot[] = Array.from({ length: Math.max(1, o.threads ?? 1) }, () => ({ worker: undefined, busy: false }));
  const queue: Job[] = [];
  const modules = new Map<string, WebAssembly.Module>();
  // (digest, fn, memory cap) whose module passed checkUserModule.
  const checked = new Set<string>();
  let replaced = 0;
  let nextId = 1;
  let closed = false;

  const compile = (digest: string, bytes: Uint8Array): WebAssembly.Module => {
    let m = modules.get(digest);
    if (m === undefined) {
      try {
        m = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
      } catch (e) {
        throw new GramfleetError('KERNEL_BAD_MODULE', `module ${digest.slice(0, 12)} does not compile: ${(e as Error).message}`, { digest });
      }
      if (modules.size >= 64) modules.delete(modules.keys().next().value as string);
      modules.set(digest, m);
    }
    return m;
  };

  const pump = (): void => {
    for (const slot of slots) {
      if (closed || slot.busy || queue.length === 0) continue;
      const job = queue.shift()!;
      slot.busy = true;
      const w = (slot.worker ??= new Worker(script));
      const id = nextId++;
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
          void w.terminate();
        }
        slot.busy = false;
        f();
        pump();
      };
      const onMsg = (r: SandboxReply): void => {
        if (r.id !== id) return;
        finish(() => (r.ok ? job.resolve({ output: r.output, computeMs: r.computeMs }) : job.reject(GramfleetError.fromPayload(r.error))), false);
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
                new GramfleetError('KERNEL_USER_TIMEOUT', `the module ran longer than its limit of ${job.timeoutMs} ms; its thread was terminated`, {
                  timeoutMs: job.timeoutMs,
                }),
              ),
            true,
          ),
        job.timeoutMs,
      );
      w.on('message', onMsg);
      w.once('exit', onExit);
      w.once('error', onError);
      w.postMessage({ ...job.req, id } satisfies SandboxRequest);
    }
  };

  return {
    run(rawAttrs, inputs, moduleDigest) {
      return new Promise<SandboxRun>((resolve, reject) => {
        const a = parseUserWasmAttrs(rawAttrs);
        const mod = inputs[0];
        if (mod === undefined || mod.dtype !== 'u8')
          throw new GramfleetError('INPUT_INVALID', 'the first input must be the module bytes (u8)', { field: 'inputs[0]' });
        const bytes = mod.data as Uint8Array;
        // Cached by content digest (sha256: two modules cannot share a key), never by a weak hash.
        const digest = moduleDigest ?? createHash('sha256').update(bytes).digest('hex');
        const check = `${digest}|${a.fn}|${a.memoryPages}`;
        if (!checked.has(check)) {
          checkUserModule(inspectWasm(bytes), [a.fn], a.memoryPages);
          if (checked.size > 1024) checked.clear();
          checked.add(check);
        }
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
          req: { module: compile(digest, bytes), bytes, fn: a.fn, input, outLen: a.outLen, memoryPages: a.memoryPages },
          timeoutMs: a.timeoutMs,
          resolve,
          reject,
        });
        pump();
      });
    },
    replaced: () => replaced,
    async close() {
      closed = true;
      for (const j of queue.splice(0)) j.reject(new GramfleetError('WORKER_DRAINING', 'the sandbox is closing', {}));
      await Promise.all(slots.map((s) => s.worker?.terminate()));
    },
  };
}
