/**
 * SDK side of the Kronecker GP job: validates a {@link KronGpJobSpec} (everything is checked
 * before anything is stored or scheduled), picks the route, uploads axes and y (and y's
 * slabs along axis 0 for the slab route, the mask / noise vector for a PCG solve) and
 * returns the workflow input.
 */
import { randomBytes } from 'node:crypto';
import {
  GramfleetError, compileKronGp, kronMemoryBytes, num, int, slabRanges,
  type ArrayRef, type KronGpParams, type KronHyper, type KronJobInput, type WorkerClass,
} from '@gramfleet/core';
import type { ArrayStore } from '@gramfleet/workers';

/** A Kronecker GP job as submitted through the SDK. */
export interface KronGpJobSpec extends KronGpParams {
  readonly kind: 'kron-gp';
  /** Hyperparameter candidates solved as independent shards (a sweep). @default the spec's own hyperparameters */
  readonly candidates?: readonly KronHyper[];
  /** Compute the LML gradient (direct route). @default true */
  readonly gradient?: boolean;
  /** Slabs along axis 0 (slab route when > 1). @default 1, or as many as the worker budget needs */
  readonly slabs?: number;
  /** Memory one worker may use for a single-worker solve, bytes. @default 2 GiB */
  readonly workerBudgetBytes?: number;
  /** @default 'wasm' */
  readonly backend?: WorkerClass;
  readonly jobId?: string;
  /** @default 6 h */
  readonly timeoutMs?: number;
  /**
   * Fit the hyperparameters on the cluster, starting from the spec's own hyperparameters (full
   * grid): on the direct route the loop runs in the `kronFit` activity, each evaluation a
   * `kron-gp-solve` shard; on the slab route the workflow drives the optimiser and each
   * evaluation is a slab solve with its gradient. @default no fit
   */
  readonly fit?: { readonly optimizer?: 'lbfgs' | 'adam'; readonly iters?: number; readonly fixNoise?: boolean };
  /** Heartbeat timeout of the PCG / fit activity, ms. @default 30 s */
  readonly heartbeatTimeoutMs?: number;
}

/** Validates a spec and uploads its arrays; bad input throws before anything is stored. */
export async function prepareKron(spec: KronGpJobSpec, store: ArrayStore, budgetBytes: number): Promise<KronJobInput> {
  const p = compileKronGp(spec, { memoryBudgetBytes: budgetBytes });
  let fit: KronJobInput['fit'];
  if (spec.fit !== undefined) {
    if (p.iterative) throw new GramfleetError('INPUT_INVALID', `${p.mask !== undefined ? 'mask' : 'noiseVector'}: fit needs a full grid with one noise level (the exact LML); solve takes a mask or a noise vector`, { field: p.mask !== undefined ? 'mask' : 'noiseVector' });
    const o = spec.fit.optimizer ?? 'lbfgs';
    if (o !== 'lbfgs' && o !== 'adam') throw new GramfleetError('INPUT_INVALID', `fit.optimizer must be lbfgs|adam, got ${JSON.stringify(o)}`, { field: 'fit.optimizer' });
    fit = { optimizer: o, iters: int('fit.iters', spec.fit.iters ?? 50, 1, 10_000), fixNoise: spec.fit.fixNoise === true };
  }
  const heartbeatTimeoutMs = num('heartbeatTimeoutMs', spec.heartbeatTimeoutMs ?? 30_000, { min: 1000 });
  const jobId = spec.jobId ?? `kron-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(jobId)) throw new GramfleetError('INPUT_INVALID', `jobId must be 1–100 letters, digits, '-' or '_', got ${JSON.stringify(jobId)}`, { field: 'jobId' });
  const timeoutMs = num('timeoutMs', spec.timeoutMs ?? 6 * 3600_000, { min: 1000 });
  const D = p.shape.length;
  const own: KronHyper = { lengthscales: p.model.kernels.map((k) => k.lengthscale), outputscale: p.model.outputscale, noise: p.model.noise };
  const candidates = (spec.candidates ?? [own]).map((c, i): KronHyper => {
    if (!Array.isArray(c.lengthscales) || c.lengthscales.length !== D) throw new GramfleetError('INPUT_SHAPE_MISMATCH', `candidates[${i}].lengthscales must have ${D} entries`, { field: `candidates[${i}].lengthscales`, expected: D });
    return {
      lengthscales: c.lengthscales.map((l, d) => num(`candidates[${i}].lengthscales[${d}]`, l, { min: 0, minExclusive: true })),
      outputscale: num(`candidates[${i}].outputscale`, c.outputscale, { min: 0, minExclusive: true }),
      noise: num(`candidates[${i}].noise`, c.noise, { min: 0 }),
    };
  });
  if (candidates.length < 1 || candidates.length > 10_000) throw new GramfleetError('INPUT_OUT_OF_RANGE', `candidates must hold 1 to 10000 entries, got ${candidates.length}`, { field: 'candidates', bound: '1..10000' });
  const workerBudget = num('workerBudgetBytes', spec.workerBudgetBytes ?? 2 * 1024 ** 3, { min: 1 });
  const need = kronMemoryBytes(p.shape);
  let slabs = spec.slabs === undefined ? (need > workerBudget ? Math.ceil((2 * need) / workerBudget) : 1) : int('slabs', spec.slabs, 1, 1 << 16);
  if (slabs > 1) {
    if (D < 2) throw new GramfleetError('INPUT_OUT_OF_RANGE', `slabs must be 1 for a 1-D grid (the slab route cuts axis 0 and axis 1), got ${slabs}`, { field: 'slabs', bound: '1 when D = 1' });
    if (candidates.length > 1) throw new GramfleetError('INPUT_OUT_OF_RANGE', `candidates must be 1 on the slab route (slabs = ${slabs}), got ${candidates.length}`, { field: 'candidates', bound: '1 when slabs > 1' });
    slabs = Math.min(slabs, p.shape[0] as number, p.shape[1] as number);
  }
  if ((p.iterative || fit !== undefined) && candidates.length > 1) throw new GramfleetError('INPUT_OUT_OF_RANGE', `candidates must be 1 with a mask, a noise vector or a fit, got ${candidates.length}`, { field: 'candidates', bound: '1' });
  const axes: ArrayRef[] = [];
  for (const a of p.model.axes) axes.push(await store.put({ dtype: 'f64', shape: [a.length], data: a }));
  const y = await store.put({ dtype: 'f64', shape: [p.n], data: p.y });
  let ySlabs: ArrayRef[] | undefined;
  if (slabs > 1) {
    const row = p.n / (p.shape[0] as number);
    ySlabs = [];
    for (const r of slabRanges(p.shape[0] as number, slabs)) {
      ySlabs.push(await store.put({ dtype: 'f64', shape: p.shape.map((s, d) => (d === 0 ? r.end - r.start : s)), data: p.y.slice(r.start * row, r.end * row) }));
    }
  }
  return {
    jobId, shape: p.shape, axes, y, ...(ySlabs !== undefined ? { ySlabs } : {}), kernels: p.model.kernels, candidates,
    jitter: p.model.jitter, eigFloor: p.model.eigFloor, gradient: fit !== undefined ? true : spec.gradient ?? true,
    route: slabs > 1 ? 'slab' : 'direct', slabs, cls: spec.backend ?? 'wasm', timeoutMs,
    ...(p.mask !== undefined ? { mask: await store.put({ dtype: 'u8', shape: [p.n], data: p.mask }) } : {}),
    ...(p.noiseVector !== undefined ? { noiseVector: await store.put({ dtype: 'f64', shape: [p.n], data: p.noiseVector }) } : {}),
    ...(p.iterative ? { cg: p.cg } : {}),
    ...(fit !== undefined ? { fit } : {}),
    heartbeatTimeoutMs,
  };
}
