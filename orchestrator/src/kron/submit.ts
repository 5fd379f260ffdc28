/**
 * SDK side of the Kronecker GP job: validates a {@link KronGpJobSpec} (everything is checked
 * before anything is stored or scheduled), picks the route, uploads axes and y (and y's
 * slabs along axis 0 for the slab route, the mask / noise vector for a PCG solve) and
 * returns the workflow input.
 */
import { randomBytes } from 'node:crypto';
import { checkJobId, compileKronJob, slabRanges, type ArrayRef, type KronGpParams, type KronJobInput, type KronJobOptions } from '@gramfleet/core';
import type { ArrayStore } from '@gramfleet/workers';

/** A Kronecker GP job as submitted through the SDK. */
export interface KronGpJobSpec extends KronGpParams, KronJobOptions {
  readonly kind: 'kron-gp';
  readonly jobId?: string;
}

/** Validates a spec and uploads its arrays; bad input throws before anything is stored. */
export async function prepareKron(spec: KronGpJobSpec, store: ArrayStore, budgetBytes: number): Promise<KronJobInput> {
  const job = compileKronJob(spec, budgetBytes);
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
      ySlabs.push(await store.put({ dtype: 'f64', shape: p.shape.map((s, d) => (d === 0 ? r.end - r.start : s)), data: p.y.slice(r.start * row, r.end * row) }));
    }
  }
  return {
    jobId, shape: p.shape, axes, y, ...(ySlabs !== undefined ? { ySlabs } : {}), kernels: p.model.kernels, candidates: job.candidates,
    jitter: p.model.jitter, eigFloor: p.model.eigFloor, gradient: job.gradient,
    route: job.route, slabs: job.slabs, cls: job.cls, timeoutMs: job.timeoutMs,
    ...(p.mask !== undefined ? { mask: await store.put({ dtype: 'u8', shape: [p.n], data: p.mask }) } : {}),
    ...(p.noiseVector !== undefined ? { noiseVector: await store.put({ dtype: 'f64', shape: [p.n], data: p.noiseVector }) } : {}),
    ...(p.iterative ? { cg: p.cg } : {}),
    ...(job.fit !== undefined ? { fit: job.fit } : {}),
    heartbeatTimeoutMs: job.heartbeatTimeoutMs,
  };
}
