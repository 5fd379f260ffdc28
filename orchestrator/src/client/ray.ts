/**
 * The Ray-like part of the SDK: `put`/`get` (arrays through the object store by reference,
 * small values inline in the reference, bit for bit), `registerWasm` (a user's module, checked
 * against the sandbox policy and stored by content digest), `map` (one sandboxed task per
 * input, owned by this connection's {@link TaskClient}: straight to the workers' lanes, no
 * Temporal in this path) and `wait`.
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  GramfleetError,
  INLINE_ARRAY_MAX_BYTES,
  USER_WASM_ABSOLUTE_LIMITS,
  USER_WASM_MAX_MEMORY_MB,
  USER_WASM_MAX_TIMEOUT_MS,
  USER_WASM_OP,
  WASM_PAGE,
  checkUserModule,
  compileVerifyFraction,
  checkUserWasmLimits,
  inspectWasm,
  int,
  isGramfleetError,
  tightestUserWasmLimits,
  type ArrayRef,
  type NdArray,
  type TaskResult,
  type UserWasmLimits,
} from '@gramfleet/core';
import type { ArrayStore, TaskClient } from '@gramfleet/workers';

/** Values `put` accepts. */
export type PutValue = Float64Array | NdArray | number;

/** A reference to a stored value (inline when small). */
export interface ObjectRef {
  readonly kind: 'object';
  readonly id: string;
  /** How `get` gives the value back. */
  readonly form: 'f64' | 'nd' | 'number';
  /** A small value, carried in the reference itself ({@link ArrayRef.inline}: its `.npy` bytes, bit for bit). */
  readonly inline?: ArrayRef;
  /** A value in the object store. */
  readonly array?: ArrayRef;
}

/** A reference to a task's result (a Float64Array). */
export interface TaskRef {
  readonly kind: 'task';
  readonly id: string;
  readonly jobId: string;
  readonly shardId: string;
}

/** Either reference. */
export type Ref = ObjectRef | TaskRef;

/** A registered user module. */
export interface WasmKernel {
  /** sha256 of the module bytes. */
  readonly digest: string;
  readonly module: ArrayRef;
  readonly exports: readonly string[];
  /**
   * The tightest sandbox limits of the live WASM workers when the module was registered
   * (`WorkerRecord.sandbox`): `map` refuses a memory cap or time limit above them. Absent:
   * no worker advertised any (`map` then checks the absolute bounds; the workers check again).
   */
  readonly limits?: UserWasmLimits;
}

/** Options of {@link RaySdk.map}. */
export interface MapOptions {
  /** Worker class. @default 'wasm' */
  readonly class?: 'wasm';
  /** Memory cap of each task, MiB. @default 64, or the workers' bound where lower */
  readonly memoryMB?: number;
  /** Time limit of each task, ms. @default 60000, or the workers' bound where lower */
  readonly timeoutMs?: number;
  /** Output capacity (f64s). @default the input's length */
  readonly outLen?: number;
  /**
   * Fraction in [0, 1] of the tasks run again on a second worker; differing bytes reject that
   * task's `get` with VERIFY_MISMATCH naming both workers (core/src/results.ts). @default 0
   */
  readonly verify?: number;
}

/** The Ray-like calls of a fleet. */
export interface RaySdk {
  /**
   * Stores a value. Small values travel inside the reference; large ones go into the host store
   * when this connection has one (shared memory its workers read without copies; like Ray's
   * objects, they live as long as the host store, not in the object store), else into the object
   * store. `map` writes the durable copy of a value it sends to workers first.
   */
  put(value: PutValue): Promise<ObjectRef>;
  /** The value behind a reference; a failed task rejects with its typed error. */
  get(ref: ObjectRef): Promise<PutValue>;
  get(ref: TaskRef): Promise<Float64Array>;
  get(ref: Ref): Promise<PutValue>;
  /**
   * Checks a module (allowed imports, the exports named, a cappable memory, its size and memory
   * within the live WASM workers' sandbox limits: KERNEL_USER_OVER_LIMIT names the bound) and
   * stores it.
   */
  registerWasm(module: Uint8Array | string, o: { readonly exports: readonly string[] }): Promise<WasmKernel>;
  /**
   * One sandboxed task per input: `fn(input) → Float64Array`. Validates before publishing
   * anything: a memory cap or time limit above the workers' sandbox limits
   * ({@link WasmKernel.limits}) throws KERNEL_USER_OVER_LIMIT.
   */
  map(kernel: WasmKernel, fn: string, inputs: readonly (Float64Array | readonly number[] | ObjectRef)[], o?: MapOptions): TaskRef[];
  /** Waits until `numReturns` refs are ready (a failed task counts as ready), or the timeout. */
  wait(refs: readonly Ref[], o?: { readonly numReturns?: number; readonly timeoutMs?: number }): Promise<{ ready: Ref[]; notReady: Ref[] }>;
  /** Stops result collectors. */
  close(): Promise<void>;
}

/** Values whose `.npy` bytes fit this many bytes travel inside the reference. */
export const INLINE_MAX_BYTES = INLINE_ARRAY_MAX_BYTES;

/** Builds the Ray-like SDK over an array store and the connection's task client. */
export function createRaySdk(store: ArrayStore, tasks: TaskClient): RaySdk {
  // The result of every mapped task, by ref id, and who waits for results.
  const results = new Map<string, Promise<TaskResult>>();
  const ready = new Set<string>();
  const listeners = new Set<(id: string | null) => void>();
  const fetchArray = (ref: ArrayRef): Promise<NdArray> => store.get(ref);

  const resultOf = (ref: TaskRef): Promise<TaskResult> => {
    const r = results.get(ref.id);
    if (r === undefined) return Promise.reject(new GramfleetError('INPUT_INVALID', `task ${ref.id} was not mapped by this connection`, { field: 'ref' }));
    return r;
  };

  const isReady = (ref: Ref): boolean => ref.kind === 'object' || ready.has(ref.id);

  async function get(ref: Ref): Promise<PutValue> {
    if (ref.kind === 'object') {
      const stored = ref.inline ?? ref.array;
      if (stored === undefined) throw new GramfleetError('INPUT_INVALID', `object ${ref.id} carries neither a value nor a reference`, { field: 'ref' });
      const a = await fetchArray(stored);
      return ref.form === 'number' ? Number(a.data[0]) : ref.form === 'f64' ? (a.data as Float64Array) : a;
    }
    const r = await resultOf(ref);
    if (r.error !== undefined) throw GramfleetError.fromPayload({ ...r.error, details: { ...r.error.details, task: ref.id } });
    const out = r.outputs[0];
    if (out === undefined) return new Float64Array(0);
    return (await fetchArray(out)).data as Float64Array;
  }

  return {
    async put(value) {
      const form: ObjectRef['form'] = typeof value === 'number' ? 'number' : value instanceof Float64Array ? 'f64' : 'nd';
      const a: NdArray =
        typeof value === 'number'
          ? { dtype: 'f64', shape: [], data: Float64Array.of(value) }
          : value instanceof Float64Array
            ? { dtype: 'f64', shape: [value.length], data: value }
            : value;
      if (typeof value === 'number' && !Number.isFinite(value))
        throw new GramfleetError('INPUT_NOT_FINITE', `put: value must be finite, got ${value}`, { field: 'value' });
      const small = await store.put(a, { inline: true, durable: 'none' }).catch((e: unknown) => {
        // Host store only (no durable copy until a task needs it); a full host store: the object store.
        if (isGramfleetError(e) && e.code === 'STORE_HOST_FULL') return store.put(a, { inline: true });
        throw e;
      });
      return small.inline !== undefined
        ? { kind: 'object', id: `inline-${small.digest.slice(0, 16)}`, form, inline: small }
        : { kind: 'object', id: small.digest, form, array: small };
    },
    get: get as RaySdk['get'],
    async registerWasm(module, o) {
      let bytes: Uint8Array;
      if (typeof module === 'string') {
        try {
          bytes = fs.readFileSync(module);
        } catch (e) {
          throw new GramfleetError('INPUT_FILE_UNREADABLE', `module file ${module} cannot be read: ${(e as Error).message}`, { field: 'module', file: module });
        }
      } else bytes = module;
      if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>))
        throw new GramfleetError('KERNEL_BAD_MODULE', 'module does not validate as WebAssembly', { field: 'module' });
      if (o.exports.length === 0) throw new GramfleetError('INPUT_INVALID', 'exports must name at least one function', { field: 'exports' });
      // What every live WASM worker accepts (a module too large for one of them is refused here).
      const limits = tightestUserWasmLimits(
        (await tasks.workers()).flatMap((w) => (w.cls === 'wasm' && w.ops.includes(USER_WASM_OP) && w.sandbox !== undefined ? [w.sandbox] : [])),
      );
      checkUserWasmLimits(
        { moduleBytes: bytes.byteLength },
        limits ?? USER_WASM_ABSOLUTE_LIMITS,
        limits !== undefined ? 'the live WASM workers' : 'any worker',
      );
      checkUserModule(inspectWasm(bytes), o.exports, ((limits?.maxMemoryMB ?? USER_WASM_MAX_MEMORY_MB) * 1024 * 1024) / WASM_PAGE);
      const ref = await store.put({ dtype: 'u8', shape: [bytes.length], data: bytes });
      return { digest: ref.digest, module: ref, exports: [...o.exports], ...(limits !== undefined ? { limits } : {}) };
    },
    map(kernel, fn, inputs, o = {}) {
      if (!kernel.exports.includes(fn))
        throw new GramfleetError('KERNEL_BAD_MODULE', `fn ${JSON.stringify(fn)} is not among the registered exports (${kernel.exports.join(', ')})`, {
          field: 'fn',
        });
      if ((o.class ?? 'wasm') !== 'wasm') throw new GramfleetError('INPUT_INVALID', `class must be 'wasm', got ${String(o.class)}`, { field: 'class' });
      const limits = kernel.limits ?? USER_WASM_ABSOLUTE_LIMITS;
      const memoryMB = int('memoryMB', o.memoryMB ?? Math.min(64, limits.maxMemoryMB), 1, USER_WASM_MAX_MEMORY_MB);
      const timeoutMs = int('timeoutMs', o.timeoutMs ?? Math.min(60_000, limits.maxTimeoutMs), 1, USER_WASM_MAX_TIMEOUT_MS);
      const verify = compileVerifyFraction(o.verify, 'verify');
      // Refused here, before anything is published, rather than by every worker in turn.
      checkUserWasmLimits({ memoryMB, timeoutMs }, limits, kernel.limits !== undefined ? 'the live WASM workers' : 'any worker');
      const memoryPages = Math.floor((memoryMB * 1024 * 1024) / WASM_PAGE);
      const jobId = `map-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
      const plans = inputs.map((x, i) => {
        const shardId = `t${String(i).padStart(7, '0')}`;
        if (x instanceof Float64Array || Array.isArray(x)) {
          const arr = x instanceof Float64Array ? x : Float64Array.from(x as readonly number[]);
          for (const v of arr)
            if (!Number.isFinite(v)) throw new GramfleetError('INPUT_NOT_FINITE', `inputs[${i}] has a non-finite value`, { field: `inputs[${i}]` });
          return { shardId, arr, ref: undefined as ArrayRef | undefined, len: arr.length };
        }
        const r = x as ObjectRef;
        const stored = r.kind === 'object' ? (r.inline ?? r.array) : undefined;
        if (stored === undefined)
          throw new GramfleetError('INPUT_INVALID', `inputs[${i}] must be a Float64Array, a number list or an ObjectRef`, { field: `inputs[${i}]` });
        return { shardId, arr: undefined as Float64Array | undefined, ref: stored, len: stored.shape.reduce((a, b) => a * b, 1) };
      });
      const deadline = Date.now() + timeoutMs + 3_600_000;
      const refs = plans.map((p) => ({ kind: 'task' as const, id: `${jobId}/${p.shardId}`, jobId, shardId: p.shardId }));
      plans.forEach((p, i) => {
        const id = (refs[i] as TaskRef).id;
        const result = (async (): Promise<TaskResult> => {
          // Small inputs travel inline in the task (bit for bit); larger ones by reference.
          const input = p.ref ?? (await store.put({ dtype: 'f64', shape: [p.arr?.length ?? 0], data: p.arr ?? new Float64Array(0) }, { inline: true }));
          // Inputs are durable before their tasks go out (a put is held by the host store only).
          if (input.inline === undefined) await store.persist(input);
          const attrs = { fn, memoryPages, timeoutMs, outLen: o.outLen ?? p.len };
          return tasks.run({ jobId, shardId: p.shardId, op: USER_WASM_OP, attrs, inputs: [kernel.module, input], deadline }, { cls: 'wasm', verify });
        })()
          .catch((e: unknown) => {
            const err = e instanceof GramfleetError ? e : new GramfleetError('JOB_FAILED', `task ${id} could not be sent: ${(e as Error).message}`);
            return {
              v: 1,
              jobId,
              shardId: p.shardId,
              attempt: 1,
              outputs: [],
              stats: { workerId: '', backend: 'none', deliveryCount: 0, computeMs: 0, fetchMs: 0, cacheHits: 0 },
              error: err.toPayload(),
            };
          })
          .then((r) => {
            ready.add(id);
            for (const l of listeners) l(id);
            return r;
          });
        results.set(id, result);
      });
      return refs;
    },
    async wait(refs, o = {}) {
      const want = int('numReturns', o.numReturns ?? refs.length, 0, refs.length);
      const ids = new Set(refs.filter((r) => r.kind === 'task').map((r) => r.id));
      let count = refs.filter(isReady).length;
      if (count < want) {
        await new Promise<void>((resolve) => {
          let timer: NodeJS.Timeout | undefined;
          const done = (): void => {
            listeners.delete(l);
            clearTimeout(timer);
            resolve();
          };
          // null: the SDK is closing.
          const l = (id: string | null): void => {
            if (id === null || (ids.has(id) && ++count >= want)) done();
          };
          listeners.add(l);
          if (o.timeoutMs !== undefined) timer = setTimeout(done, Math.max(0, o.timeoutMs));
        });
      }
      return { ready: refs.filter(isReady), notReady: refs.filter((r) => !isReady(r)) };
    },
    async close() {
      for (const l of [...listeners]) l(null);
      listeners.clear();
      results.clear();
      ready.clear();
    },
  };
}
