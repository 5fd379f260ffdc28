/**
 * Assembly of a GRF job: stacks the shards' CSR rows into Φ (per stream), stores it, and
 * runs label spreading on the features when labels were given (K̂·Y as Φ₁(Φ₂ᵀY), never
 * forming K̂).
 */
import { GramfleetError, type ArrayRef, type CsrArrays, type CsrRef, type GrfAssembleInput, type GrfAssembled, type GrfJobInput, type GrfJobResult, type NdArray } from '@gramfleet/core';
import { applyKhat, labelSpreadingAccuracy, seededSubset, csrVstack } from '@gramfleet/core';
import type { ArrayStore } from '@gramfleet/workers';

/** Loads a CSR whose three arrays are in the store. */
export async function loadCsr(store: ArrayStore, ref: CsrRef): Promise<CsrArrays> {
  const [ip, ix, d] = await Promise.all([store.get(ref.indptr), store.get(ref.indices), store.get(ref.data)]);
  return { shape: ref.shape, indptr: ip.data as Int32Array, indices: ix.data as Int32Array, data: d.data as Float64Array };
}

/** Stores a CSR and returns its reference. */
export async function storeCsr(store: ArrayStore, a: CsrArrays): Promise<CsrRef> {
  const [indptr, indices, data] = await Promise.all([
    store.put({ dtype: 'i32', shape: [a.indptr.length], data: a.indptr }),
    store.put({ dtype: 'i32', shape: [a.indices.length], data: a.indices }),
    store.put({ dtype: 'f64', shape: [a.data.length], data: a.data }),
  ]);
  return { shape: [a.shape[0], a.shape[1]], indptr, indices, data };
}

/** The rows of consecutive shards per stream (3 arrays per stream each), read, not yet stacked. */
export async function readShardOutputs(store: ArrayStore, job: GrfJobInput, shardOutputs: readonly (readonly ArrayRef[])[]): Promise<CsrArrays[][]> {
  const nStreams = job.params.streams.length;
  const decoded = await Promise.all(shardOutputs.map(async (outs) => {
    if (outs.length !== 3 * nStreams) throw new GramfleetError('JOB_FAILED', `shard output has ${outs.length} arrays, expected ${3 * nStreams}`);
    return Promise.all(outs.map((r: ArrayRef) => store.get(r)));
  }));
  return Array.from({ length: nStreams }, (_, s) => decoded.map((outs) => {
    const [ip, ix, d] = outs.slice(3 * s, 3 * s + 3) as [NdArray, NdArray, NdArray];
    return { shape: [ip.data.length - 1, job.n], indptr: ip.data as Int32Array, indices: ix.data as Int32Array, data: d.data as Float64Array };
  }));
}

/** Φ per stream from the outputs of consecutive shards: their rows stacked. */
export async function stackShardOutputs(store: ArrayStore, job: GrfJobInput, shardOutputs: readonly (readonly ArrayRef[])[]): Promise<CsrArrays[]> {
  return (await readShardOutputs(store, job, shardOutputs)).map((parts) => csrVstack(parts));
}

/** The assembly step of the GRF workflow (workflows before batches kept their rows). */
export async function assembleGrfResult(store: ArrayStore, input: GrfAssembleInput): Promise<GrfAssembled> {
  return finishGrf(store, input.job, await stackShardOutputs(store, input.job, input.shardOutputs));
}

/** Stores Φ (per stream, every row of the graph) and computes the requested extras (label spreading). */
export async function finishGrf(store: ArrayStore, job: GrfJobInput, phis: readonly CsrArrays[]): Promise<GrfAssembled> {
  const nStreams = job.params.streams.length;
  for (const phi of phis) if (phi.shape[0] !== job.n) throw new GramfleetError('JOB_FAILED', `assembled Φ has ${phi.shape[0]} rows, expected ${job.n}`);
  const phiRefs = await Promise.all(phis.map((p) => storeCsr(store, p)));
  let labelSpreading: GrfJobResult['labelSpreading'];
  if (job.labels !== undefined && job.labelSpreading !== undefined) {
    const labels = (await store.get(job.labels)).data as Int32Array;
    const train = seededSubset(job.n, job.labelSpreading.trainFraction, job.labelSpreading.seed);
    const p1 = phis[0] as CsrArrays;
    const p2 = phis[nStreams - 1] as CsrArrays;
    const accuracy = labelSpreadingAccuracy((y, k) => applyKhat(p1, p2, y, k), labels, train);
    let nTrain = 0;
    for (const t of train) nTrain += t;
    labelSpreading = { accuracy, train: nTrain, test: job.n - nTrain };
  }
  return {
    jobId: job.jobId, n: job.n, phi: phiRefs, nnz: phis.map((p) => p.data.length),
    ...(labelSpreading !== undefined ? { labelSpreading } : {}),
  };
}
