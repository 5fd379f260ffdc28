/**
 * The Kronecker GP as a workload: the job options beside the problem ({@link KronJobOptions}),
 * their validation ({@link compileKronJob}, pure: it decides the route before anything is
 * stored) and the definition in the registry (core/src/registry.ts). The job contract is
 * `./job.ts`; the workflow `workflows/src/kron.ts`; the orchestrator side `orchestrator/src/kron/`.
 */
import { GramfleetError, invalidField } from '../errors';
import { int, num } from '../validate';
import { checkParamNames, checkRequiredParams, withFieldPrefix, type WorkloadDef } from '../workload';
import type { WorkerClass } from '../protocol';
import { compileKronGp, kronMemoryBytes, type CompiledKronGp, type KronGpParams } from './params';
import type { KronHyper, KronJobInput } from './job';

/** What a Kronecker GP job takes beside the problem. */
export interface KronJobOptions {
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

/** A validated Kronecker GP job: the problem and the plan, before anything is stored. */
export interface CompiledKronJob {
  readonly problem: CompiledKronGp;
  readonly candidates: readonly KronHyper[];
  readonly slabs: number;
  readonly route: KronJobInput['route'];
  readonly gradient: boolean;
  readonly fit: KronJobInput['fit'];
  readonly cls: WorkerClass;
  readonly timeoutMs: number;
  readonly heartbeatTimeoutMs: number;
}

/** Validates a Kronecker GP job and picks its route; typed errors naming the field, nothing stored. */
export function compileKronJob(spec: KronGpParams & KronJobOptions, budgetBytes: number): CompiledKronJob {
  const p = compileKronGp(spec, { memoryBudgetBytes: budgetBytes });
  let fit: KronJobInput['fit'];
  if (spec.fit !== undefined) {
    if (p.iterative)
      throw new GramfleetError(
        'INPUT_INVALID',
        `${p.mask !== undefined ? 'mask' : 'noiseVector'}: fit needs a full grid with one noise level (the exact LML); solve takes a mask or a noise vector`,
        { field: p.mask !== undefined ? 'mask' : 'noiseVector' },
      );
    const o = spec.fit.optimizer ?? 'lbfgs';
    if (o !== 'lbfgs' && o !== 'adam')
      throw new GramfleetError('INPUT_INVALID', `fit.optimizer must be lbfgs|adam, got ${JSON.stringify(o)}`, { field: 'fit.optimizer' });
    fit = { optimizer: o, iters: int('fit.iters', spec.fit.iters ?? 50, 1, 10_000), fixNoise: spec.fit.fixNoise === true };
  }
  const heartbeatTimeoutMs = num('heartbeatTimeoutMs', spec.heartbeatTimeoutMs ?? 30_000, { min: 1000 });
  const timeoutMs = num('timeoutMs', spec.timeoutMs ?? 6 * 3600_000, { min: 1000 });
  const D = p.shape.length;
  const own: KronHyper = { lengthscales: p.model.kernels.map((k) => k.lengthscale), outputscale: p.model.outputscale, noise: p.model.noise };
  const candidates = (spec.candidates ?? [own]).map((c, i): KronHyper => {
    if (!Array.isArray(c.lengthscales) || c.lengthscales.length !== D)
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `candidates[${i}].lengthscales must have ${D} entries`, {
        field: `candidates[${i}].lengthscales`,
        expected: D,
      });
    return {
      lengthscales: c.lengthscales.map((l, d) => num(`candidates[${i}].lengthscales[${d}]`, l, { min: 0, minExclusive: true })),
      outputscale: num(`candidates[${i}].outputscale`, c.outputscale, { min: 0, minExclusive: true }),
      noise: num(`candidates[${i}].noise`, c.noise, { min: 0 }),
    };
  });
  if (candidates.length < 1 || candidates.length > 10_000)
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `candidates must hold 1 to 10000 entries, got ${candidates.length}`, {
      field: 'candidates',
      bound: '1..10000',
    });
  const workerBudget = num('workerBudgetBytes', spec.workerBudgetBytes ?? 2 * 1024 ** 3, { min: 1 });
  const need = kronMemoryBytes(p.shape);
  let slabs = spec.slabs === undefined ? (need > workerBudget ? Math.ceil((2 * need) / workerBudget) : 1) : int('slabs', spec.slabs, 1, 1 << 16);
  if (slabs > 1) {
    if (D < 2)
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `slabs must be 1 for a 1-D grid (the slab route cuts axis 0 and axis 1), got ${slabs}`, {
        field: 'slabs',
        bound: '1 when D = 1',
      });
    if (candidates.length > 1)
      throw new GramfleetError('INPUT_OUT_OF_RANGE', `candidates must be 1 on the slab route (slabs = ${slabs}), got ${candidates.length}`, {
        field: 'candidates',
        bound: '1 when slabs > 1',
      });
    slabs = Math.min(slabs, p.shape[0] as number, p.shape[1] as number);
  }
  if ((p.iterative || fit !== undefined) && candidates.length > 1)
    throw new GramfleetError('INPUT_OUT_OF_RANGE', `candidates must be 1 with a mask, a noise vector or a fit, got ${candidates.length}`, {
      field: 'candidates',
      bound: '1',
    });
  if (spec.backend !== undefined && spec.backend !== 'wasm' && spec.backend !== 'gpu') throw invalidField('backend', 'wasm|gpu', spec.backend);
  return {
    problem: p,
    candidates,
    slabs,
    route: slabs > 1 ? 'slab' : 'direct',
    gradient: fit !== undefined ? true : (spec.gradient ?? true),
    fit,
    cls: spec.backend ?? 'wasm',
    timeoutMs,
    heartbeatTimeoutMs,
  };
}

/** Fields of a Kronecker GP job that hold a grid vector: numbers inline, or a `.npy` file the orchestrator reads. */
export const KRON_VECTOR_FIELDS = ['y', 'mask', 'noiseVector'] as const;

/** The `kron-gp` workload. */
export const KRON_GP_WORKLOAD: WorkloadDef<'kron-gp'> = {
  kind: 'kron-gp',
  title: 'Gaussian process on a grid with a Kronecker kernel: solve, LML and gradient, sweeps, fit, masked grids',
  workflowType: 'kronGpWorkflow',
  progressQuery: 'progress',
  activities: ['runShardBatch', 'cancelJobShards', 'kronTranspose', 'kronFinish', 'kronReadSmall', 'kronCgSolve', 'kronFit'],
  params: {
    axes: { type: 'array', required: true, description: 'grid points per axis, each strictly increasing (1 to 8 axes)' },
    y: { type: 'any', required: true, file: 'read', description: 'observations on the grid, row-major (N numbers) or a .npy file' },
    kernel: { type: 'any', required: true, description: 'rbf|matern12|matern32|matern52|periodic|spectral-mixture:Q, one for all axes or one per axis' },
    lengthscales: { type: 'any', description: 'one lengthscale for all axes or one per axis (default range/4)' },
    outputscale: { type: 'number', description: 'output scale s (default 1)' },
    noise: { type: 'number', description: 'noise variance σ² (default 0.01)' },
    periods: { type: 'any', description: 'periods of periodic axes' },
    smWeights: { type: 'array', description: 'spectral-mixture weights' },
    smFreqs: { type: 'array', description: 'spectral-mixture frequencies' },
    mask: { type: 'any', file: 'read', description: '1 = observed, 0 = missing, N values or a .npy file (PCG on the cluster)' },
    noiseVector: { type: 'any', file: 'read', description: 'per-point noise variances, N values or a .npy file (PCG on the cluster)' },
    jitter: { type: 'number', description: "added to each factor's diagonal (default 0)" },
    eigFloor: { type: 'number', description: 'factor eigenvalues are raised to at least this (default 0)' },
    cgTol: { type: 'number', description: 'PCG relative residual (default 1e-10)' },
    cgMaxIter: { type: 'integer', description: 'PCG iteration cap (default 2000)' },
    candidates: { type: 'array', description: 'hyperparameter candidates { lengthscales, outputscale, noise }, one shard each' },
    gradient: { type: 'boolean', description: 'compute the LML gradient (default true)' },
    slabs: { type: 'integer', description: 'slabs along axis 0 (slab route when > 1)' },
    workerBudgetBytes: { type: 'integer', description: 'memory one worker may use for a solve, bytes (default 2 GiB)' },
    fit: { type: 'object', description: 'fit the hyperparameters: { optimizer: lbfgs|adam, iters, fixNoise }' },
    heartbeatTimeoutMs: { type: 'integer', description: 'heartbeat timeout of the PCG / fit activity, ms (default 30 s)' },
    backend: { type: 'string', enum: ['wasm', 'gpu'], description: 'worker class (default wasm)' },
    jobId: { type: 'string', only: 'sdk', description: 'job id (letters, digits, - and _)' },
    timeoutMs: { type: 'integer', only: 'sdk', description: 'whole-job time limit, ms (default 6 h)' },
  },
  compileRun(params, where) {
    checkParamNames(KRON_GP_WORKLOAD, params, 'campaign', where);
    checkRequiredParams(KRON_GP_WORKLOAD, params, where);
    // A vector given as a file is read by the orchestrator; here it stands in as valid values of the grid's size.
    const axes = params['axes'];
    const n = Array.isArray(axes) && axes.every((a) => Array.isArray(a)) ? axes.reduce((s: number, a: unknown[]) => s * a.length, 1) : 0;
    const stand: Record<string, unknown> = { y: new Float64Array(n), mask: new Uint8Array(n).fill(1), noiseVector: new Float64Array(n) };
    const problem: Record<string, unknown> = { ...params };
    for (const f of KRON_VECTOR_FIELDS) {
      const v = params[f];
      if (typeof v === 'string') problem[f] = stand[f];
      else if (v !== undefined && !Array.isArray(v)) throw invalidField(`${where}.${f}`, 'an array of numbers or a .npy file', JSON.stringify(v)?.slice(0, 80));
    }
    withFieldPrefix(where, () => compileKronJob(problem as unknown as KronGpParams & KronJobOptions, 8 * 1024 ** 3));
  },
};
