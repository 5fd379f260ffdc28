/**
 * SDK side of the Kronecker GP job: validates a {@link KronGpJobSpec} (everything is checked
 * before anything is stored or scheduled), picks the route, uploads axes and y (and y's
 * slabs along axis 0 for the slab route, the mask / noise vector for a PCG solve) and
 * returns the workflow input.
 */
import { randomBytes } from 'node:crypto';
import {
  GramfleetError,
  checkJobId,
  compileKronJob,
  slabRanges,
  type ArrayRef,
  type KronGpParams,
  type KronJobInput,
  type KronJobOptions,
  type KronJobResult,
  type KronProgress,
} from '@gramfleet/core';
import type { ArrayStore } from '@gramfleet/workers';
import { isStringArray, readNpy } from '../io/npz';

/** A Kronecker GP job as submitted through the SDK. `y`, `mask` and `noiseVector` are arrays or `.npy` files. */
export interface KronGpJobSpec extends Omit<KronGpParams, 'y' | 'mask' | 'noiseVector'>, KronJobOptions {
  readonly kind: 'kron-gp';
  /** Observations on the grid, row-major (last axis fastest), length N; or a `.npy` file of them. */
  readonly y: KronGpParams['y'] | string;
  /** 1 = observed, 0 = missing, length N (incomplete grid → PCG); or a `.npy` file. */
  readonly mask?: KronGpParams['mask'] | string;
  /** Per-point noise variances, length N (heteroscedastic → PCG); or a `.npy` file. */
  readonly noiseVector?: KronGpParams['noiseVector'] | string;
  readonly jobId?: string;
}

/** Reads a vector from a `.npy` file; typed errors naming the field (as `label` in the message). */
export async function readVectorFile(file: string, field: string, label = field): Promise<Float64Array> {
  let a;
  try {
    a = await readNpy(file);
  } catch (e) {
    throw new GramfleetError('INPUT_FILE_UNREADABLE', `${label} ${file}: ${(e as Error).message}`, { field, path: file });
  }
  if (isStringArray(a)) throw new GramfleetError('INPUT_INVALID', `${label} ${file} must hold numbers`, { field });
  return Float64Array.from(a.data as ArrayLike<number>);
}

/** The problem of a spec with its vectors given as files read. */
export async function loadKronVectors(spec: KronGpJobSpec): Promise<KronGpParams & KronJobOptions> {
  const { y, mask, noiseVector, ...rest } = spec;
  return {
    ...rest,
    y: typeof y === 'string' ? await readVectorFile(y, 'y') : y,
    ...(mask !== undefined ? { mask: typeof mask === 'string' ? Uint8Array.from(await readVectorFile(mask, 'mask')) : mask } : {}),
    ...(noiseVector !== undefined ? { noiseVector: typeof noiseVector === 'string' ? await readVectorFile(noiseVector, 'noiseVector') : noiseVector } : {}),
  };
}

/** Validates a spec and uploads its arrays; bad input throws before anything is stored. */
export async function prepareKron(spec: KronGpJobSpec, store: ArrayStore, budgetBytes: number): Promise<KronJobInput> {
  const job = compileKronJob(await loadKronVectors(spec), budgetBytes);
  const jobId = checkJobId(spec.jobId ?? `kron-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`);
  const p = job.problem;
  const axes: ArrayRef[] = [];
  for (const a of p.model.axes) axes.push(await store.put({ dtype: 'f64', shape: [a.length], data: a }));
  const y = await store.put({ dtype: 'f64', shape: [p.n], data: p.y });
  let ySlabs: ArrayRef[] | undefined;
  if (job.slabs > 1) {
    const row = p.n / (p.shape[0] as number);
    ySlabs = [];
    for (const r of slabRanges(p.shape[0] as number, job.slabs)) {
      ySlabs.push(
        await store.put({ dtype: 'f64', shape: p.shape.map((s, d) => (d === 0 ? r.end - r.start : s)), data: p.y.slice(r.start * row, r.end * row) }),
      );
    }
  }
  return {
    jobId,
    shape: p.shape,
    axes,
    y,
    ...(ySlabs !== undefined ? { ySlabs } : {}),
    kernels: p.model.kernels,
    candidates: job.candidates,
    jitter: p.model.jitter,
    eigFloor: p.model.eigFloor,
    gradient: job.gradient,
    route: job.route,
    slabs: job.slabs,
    cls: job.cls,
    timeoutMs: job.timeoutMs,
    ...(p.mask !== undefined ? { mask: await store.put({ dtype: 'u8', shape: [p.n], data: p.mask }) } : {}),
    ...(p.noiseVector !== undefined ? { noiseVector: await store.put({ dtype: 'f64', shape: [p.n], data: p.noiseVector }) } : {}),
    ...(p.iterative ? { cg: p.cg } : {}),
    ...(job.fit !== undefined ? { fit: job.fit } : {}),
    heartbeatTimeoutMs: job.heartbeatTimeoutMs,
  };
}

/** The types of the `kron-gp` workload. */
export interface KronGpTypes {
  readonly kind: 'kron-gp';
  readonly spec: KronGpJobSpec;
  readonly input: KronJobInput;
  readonly result: KronJobResult;
  readonly progress: KronProgress;
  readonly event: KronProgress;
}
