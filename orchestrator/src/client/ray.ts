/**
 * The Ray-like part of the SDK: `put`/`get` (arrays through the object store by reference,
 * small values inline in the reference), `registerWasm` (a user's module, checked against the
 * sandbox policy and stored by content digest), `map` (one sandboxed task per input, straight
 * over NATS — no Temporal in this path) and `wait`. Task results are collected by one ordered
 * consumer per `map` call.
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { DeliverPolicy } from '@nats-io/jetstream';
import {
  GramfleetError, PROTOCOL_VERSION, isGramfleetError, USER_WASM_MAX_MEMORY_MB, USER_WASM_OP, WASM_PAGE, checkUserModule, inspectWasm, int, jobResultsFilter, taskMsgId,
  taskSubject, type ArrayRef, type NdArray, type Task, type TaskResult,
} from '@gramfleet/core';
import type { ArrayStore, DataPlane } from '@gramfleet/workers';

/** Values `put` accepts. */
export type PutValue = Float64Array | NdArray | number;

/** A reference to a stored value (inline when small). */
export interface ObjectRef {
  readonly kind: 'object';
  readonly id: string;
  /** How `get` gives the value back. */
  readonly form: 'f64' | 'nd' | 'number';
  readonly inline?: { readonly dtype: NdArray['dtype']; readonly shape: readonly number[]; readonly data: readonly number[] };
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
}

/** Options of {@link RaySdk.map}. */
export interface MapOptions {
  /** Worker class. @default 'wasm' */
  readonly class?: 'wasm';
  /** Memory cap of each task, MiB. @default 64 */
  readonly memoryMB?: number;
  /** Time limit of each task, ms. @default 60000 */
  readonly timeoutMs?: number;
  /** Output capacity (f64s). @default the input's length */
  readonly outLen?: number;
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
  /** Checks a module (allowed imports, the exports named, a cappable memory) and stores it. */
  registerWasm(module: Uint8Array | string, o: { readonly exports: readonly string[] }): Promise<WasmKernel>;
  /** One sandboxed task per input: `fn(input) → Float64Array`. Validates before publishing anything. */
  map(kernel: WasmKernel, fn: string, inputs: readonly (Float64Array | readonly number[] | ObjectRef)[], o?: MapOptions): TaskRef[];
  /** Waits until `numReturns` refs are ready (a failed task counts as ready), or the timeout. */
  wait(refs: readonly Ref[], o?: { readonly numReturns?: number; readonly timeoutMs?: number }): Promise<{ ready: Ref[]; notReady: Ref[] }>;
  /** Stops result collectors. */
  close(): Promise<void>;
}

/** Values up to this many bytes travel inside the reference. */
export const INLINE_MAX_BYTES = 1024;

interface Collector { results: Map<string, TaskResult>; waiters: Map<string, ((r: TaskResult) => void)[]>; stop: () => Promise<void>; published: Promise<void> }

/** Builds the Ray-like SDK over a data plane and array store. */
export function createRaySdk(dp: DataPlane, store: ArrayStore): RaySdk {
  const prefix = dp.names.prefix;
  const collectors = new Map<string, Collector>();
  // Each object-store read opens a consumer: bound how many run at once (get of 10,000 refs).
  let active = 0;
  const queued: (() => void)[] = [];
  const fetchArray = async (ref: ArrayRef): Promise<NdArray> => {
    if (active >= 32) await new Promise<void>((r) => queued.push(r));
    active++;
    try {
      return await store.get(ref);
    } finally {
      active--;
      queued.shift()?.();
    }
  };

  const startCollector = async (jobId: string, expected: number, c: Collector): Promise<void> => {
    const consumer = await dp.js.consumers.get(dp.names.resultsStream, { filter_subjects: [jobResultsFilter(prefix, jobId)], deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume({ max_messages: 1024 });
    let closing: Promise<unknown> | undefined;
    c.stop = async () => { await (closing ??= messages.close()); };
    void (async () => {
      for await (const m of messages) {
        const r = m.json<TaskResult>();
        if (c.results.has(r.shardId)) continue;
        c.results.set(r.shardId, r);
        for (const w of c.waiters.get(r.shardId) ?? []) w(r);
        c.waiters.delete(r.shardId);
        if (c.results.size >= expected) break;
      }
      await c.stop();
    })();
  };

  const resultOf = (ref: TaskRef): Promise<TaskResult> => {
    const c = collectors.get(ref.jobId);
    if (c === undefined) return Promise.reject(new GramfleetError('INPUT_INVALID', `task ${ref.id} was not mapped by this connection`, { field: 'ref' }));
    const got = c.results.get(ref.shardId);
    if (got !== undefined) return Promise.resolve(got);
    return new Promise((resolve) => {
      const list = c.waiters.get(ref.shardId) ?? [];
      list.push(resolve);
      c.waiters.set(ref.shardId, list);
    });
  };

  const isReady = (ref: Ref): boolean => ref.kind === 'object' || collectors.get(ref.jobId)?.results.has(ref.shardId) === true;

  async function get(ref: Ref): Promise<PutValue> {
    if (ref.kind === 'object') {
      const a: NdArray = ref.inline !== undefined ? ndFromInline(ref.inline) : await fetchArray(ref.array!);
      return ref.form === 'number' ? Number(a.data[0]) : ref.form === 'f64' ? (a.data as Float64Array) : a;
    }
    await collectors.get(ref.jobId)?.published;
    const r = await resultOf(ref);
    if (r.error !== undefined) throw GramfleetError.fromPayload({ ...r.error, details: { ...r.error.details, task: ref.id } });
    const out = r.outputs[0];
    if (out === undefined) return new Float64Array(0);
    return (await fetchArray(out)).data as Float64Array;
  }

  return {
    async put(value) {
      const form: ObjectRef['form'] = typeof value === 'number' ? 'number' : value instanceof Float64Array ? 'f64' : 'nd';
      const a: NdArray = typeof value === 'number' ? { dtype: 'f64', shape: [], data: Float64Array.of(value) } : value instanceof Float64Array ? { dtype: 'f64', shape: [value.length], data: value } : value;
      if (typeof value === 'number' && !Number.isFinite(value)) throw new GramfleetError('INPUT_NOT_FINITE', `put: value must be finite, got ${value}`, { field: 'value' });
      if (a.data.byteLength <= INLINE_MAX_BYTES) {
        return { kind: 'object', id: `inline-${randomBytes(6).toString('hex')}`, form, inline: { dtype: a.dtype, shape: [...a.shape], data: Array.from(a.data as ArrayLike<number>) } };
      }
      // Host store only (no durable copy until a task needs it); a full host store: the object store.
      const ref = await store.put(a, { durable: 'none' }).catch((e: unknown) => {
        if (isGramfleetError(e) && e.code === 'STORE_HOST_FULL') return store.put(a);
        throw e;
      });
      return { kind: 'object', id: ref.digest, form, array: ref };
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
      if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) throw new GramfleetError('KERNEL_BAD_MODULE', 'module does not validate as WebAssembly', { field: 'module' });
      if (o.exports.length === 0) throw new GramfleetError('INPUT_INVALID', 'exports must name at least one function', { field: 'exports' });
      checkUserModule(inspectWasm(bytes), o.exports, (USER_WASM_MAX_MEMORY_MB * 1024 * 1024) / WASM_PAGE);
      const ref = await store.put({ dtype: 'u8', shape: [bytes.length], data: bytes });
      return { digest: ref.digest, module: ref, exports: [...o.exports] };
    },
    map(kernel, fn, inputs, o = {}) {
      if (!kernel.exports.includes(fn)) throw new GramfleetError('KERNEL_BAD_MODULE', `fn ${JSON.stringify(fn)} is not among the registered exports (${kernel.exports.join(', ')})`, { field: 'fn' });
      if ((o.class ?? 'wasm') !== 'wasm') throw new GramfleetError('INPUT_INVALID', `class must be 'wasm', got ${String(o.class)}`, { field: 'class' });
      const memoryMB = int('memoryMB', o.memoryMB ?? 64, 1, USER_WASM_MAX_MEMORY_MB);
      const timeoutMs = int('timeoutMs', o.timeoutMs ?? 60_000, 1, 24 * 3_600_000);
      const memoryPages = Math.floor((memoryMB * 1024 * 1024) / WASM_PAGE);
      const jobId = `map-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
      const plans = inputs.map((x, i) => {
        const shardId = `t${String(i).padStart(7, '0')}`;
        if (x instanceof Float64Array || Array.isArray(x)) {
          const arr = x instanceof Float64Array ? x : Float64Array.from(x as readonly number[]);
          for (const v of arr) if (!Number.isFinite(v)) throw new GramfleetError('INPUT_NOT_FINITE', `inputs[${i}] has a non-finite value`, { field: `inputs[${i}]` });
          return { shardId, arr, ref: undefined as ObjectRef | undefined, len: arr.length };
        }
        const r = x as ObjectRef;
        if (r.kind !== 'object') throw new GramfleetError('INPUT_INVALID', `inputs[${i}] must be a Float64Array, a number list or an ObjectRef`, { field: `inputs[${i}]` });
        const len = r.inline !== undefined ? r.inline.data.length : (r.array?.shape.reduce((a, b) => a * b, 1) ?? 0);
        return { shardId, arr: undefined as Float64Array | undefined, ref: r, len };
      });
      const c: Collector = { results: new Map(), waiters: new Map(), stop: async () => undefined, published: Promise.resolve() };
      collectors.set(jobId, c);
      c.published = (async () => {
        await startCollector(jobId, plans.length, c);
        const deadline = Date.now() + timeoutMs + 3_600_000;
        const publishOne = async (p: (typeof plans)[number]): Promise<void> => {
          let input: ArrayRef | undefined;
          let inline: number[] | undefined;
          if (p.arr !== undefined) {
            if (p.arr.byteLength <= INLINE_MAX_BYTES) inline = Array.from(p.arr);
            else input = await store.put({ dtype: 'f64', shape: [p.arr.length], data: p.arr });
          } else if (p.ref?.inline !== undefined) inline = [...p.ref.inline.data];
          else {
            input = p.ref?.array;
            // Inputs are durable before their tasks go out (a put is held by the host store only).
            if (input !== undefined) await store.persist(input);
          }
          const attrs = { fn, memoryPages, timeoutMs, outLen: o.outLen ?? p.len, ...(inline !== undefined ? { inline } : {}) };
          const task: Task = { v: PROTOCOL_VERSION, jobId, shardId: p.shardId, op: USER_WASM_OP, attrs, inputs: input === undefined ? [kernel.module] : [kernel.module, input], deadline };
          await dp.js.publish(taskSubject(prefix, 'wasm', USER_WASM_OP, jobId), JSON.stringify(task), { msgID: taskMsgId(jobId, p.shardId) });
        };
        for (let i = 0; i < plans.length; i += 256) await Promise.all(plans.slice(i, i + 256).map(publishOne));
      })();
      c.published.catch(() => undefined);
      return plans.map((p) => ({ kind: 'task' as const, id: `${jobId}/${p.shardId}`, jobId, shardId: p.shardId }));
    },
    async wait(refs, o = {}) {
      const want = int('numReturns', o.numReturns ?? refs.length, 0, refs.length);
      const until = o.timeoutMs === undefined ? Infinity : Date.now() + o.timeoutMs;
      for (const r of refs) if (r.kind === 'task') await collectors.get(r.jobId)?.published;
      for (;;) {
        const ready = refs.filter(isReady);
        if (ready.length >= want || Date.now() >= until) return { ready, notReady: refs.filter((r) => !isReady(r)) };
        const pending = refs.filter((r): r is TaskRef => !isReady(r));
        const left = until - Date.now();
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          ...pending.slice(0, 64).map((r) => resultOf(r)),
          ...(Number.isFinite(left) ? [new Promise((res) => { timer = setTimeout(res, left); })] : []),
        ]);
        clearTimeout(timer);
      }
    },
    async close() {
      await Promise.all([...collectors.values()].map((c) => c.stop().catch(() => undefined)));
      collectors.clear();
    },
  };
}

function ndFromInline(i: NonNullable<ObjectRef['inline']>): NdArray {
  const data = i.dtype === 'f64' ? Float64Array.from(i.data) : i.dtype === 'f32' ? Float32Array.from(i.data) : i.dtype === 'i32' ? Int32Array.from(i.data) : i.dtype === 'u32' ? Uint32Array.from(i.data) : Uint8Array.from(i.data);
  return { dtype: i.dtype, shape: [...i.shape], data } as NdArray;
}
