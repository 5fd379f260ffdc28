/**
 * Assembly of a GRF job: stacks the shards' CSR rows into Φ (per stream), stores it, and
 * runs label spreading on the features when labels were given (K̂·Y as Φ₁(Φ₂ᵀY), never
 * forming K̂).
 */
import {
  GramfleetError,
  type ArrayRef,
  type CsrArrays,
  type CsrRef,
  type GrfAssembleInput,
  type GrfAssembled,
  type GrfJobInput,
  type GrfJobResult,
  type NdArray,
} from '@gramfleet/core';
import { applyKhat, labelSpreadingAccuracy, seededSubset, csrRowParts, csrVstack } from '@gramfleet/core';
import type { ArrayStore } from '@gramfleet/workers';

/** Loads a CSR whose three arrays are in the store. */
export async function loadCsr(store: ArrayStore, ref: CsrRef): Promise<CsrArrays> {
  const [ip, ix, d] = await Promise.all([store.get(ref.indptr), store.get(ref.indices), store.get(ref.data)]);
  return { shape: ref.shape, indptr: ip.data as Int32Array, indices: ix.data as Int32Array, data: d.data as Float64Array };
}

/**
 * Stores the CSR whose rows are those of `parts` in order, and returns its reference: the same
 * reference as storing the stacked CSR (same bytes), without stacking it — the column indices and
 * values go to the store part by part ({@link ArrayStore.putConcat}); only the row pointers are
 * built here.
 */
export async function storeCsrRows(store: ArrayStore, parts: readonly CsrArrays[]): Promise<CsrRef> {
  if (parts.length === 0) throw new GramfleetError('JOB_FAILED', 'no rows to store');
  const rows = csrRowParts(parts);
  const [ip, ix, d] = await Promise.all([
    store.put({ dtype: 'i32', shape: [rows.indptr.length], data: rows.indptr }),
    store.putConcat('i32', rows.indices),
    store.putConcat('f64', rows.data),
  ]);
  return { shape: rows.shape, indptr: ip, indices: ix, data: d };
}

/** The rows of consecutive shards per stream (3 arrays per stream each), read, not yet stacked. */
export async function readShardOutputs(store: ArrayStore, job: GrfJobInput, shardOutputs: readonly (readonly ArrayRef[])[]): Promise<CsrArrays[][]> {
  const nStreams = job.params.streams.length;
  const decoded = await Promise.all(
    shardOutputs.map(async (outs) => {
      if (outs.length !== 3 * nStreams) throw new GramfleetError('JOB_FAILED', `shard output has ${outs.length} arrays, expected ${3 * nStreams}`);
      return Promise.all(outs.map((r: ArrayRef) => store.get(r)));
    }),
  );
  return Array.from({ length: nStreams }, (_, s) =>
    decoded.map((outs) => {
      const [ip, ix, d] = outs.slice(3 * s, 3 * s + 3) as [NdArray, NdArray, NdArray];
      return { shape: [ip.data.length - 1, job.n], indptr: ip.data as Int32Array, indices: ix.data as Int32Array, data: d.data as Float64Array };
    }),
  );
}

/** The assembly step of the GRF workflow (workflows before batches kept their rows). */
export async function assembleGrfResult(store: ArrayStore, input: GrfAssembleInput): Promise<GrfAssembled> {
  return finishGrf(store, input.job, await readShardOutputs(store, input.job, input.shardOutputs));
}

/**
 * Stores Φ (per stream, every row of the graph, from its shards' rows in order) and computes the
 * requested extras (label spreading).
 */
export async function finishGrf(store: ArrayStore, job: GrfJobInput, rows: readonly (readonly CsrArrays[])[]): Promise<GrfAssembled> {
  const nStreams = job.params.streams.length;
  for (const parts of rows) {
    const n = parts.reduce((k, p) => k + p.shape[0], 0);
    if (n !== job.n) throw new GramfleetError('JOB_FAILED', `assembled Φ has ${n} rows, expected ${job.n}`);
  }
  const phiRefs = await Promise.all(rows.map((parts) => storeCsrRows(store, parts)));
  const nnz = rows.map((parts) => parts.reduce((k, p) => k + (p.indptr[p.shape[0]] ?? 0) - (p.indptr[0] ?? 0), 0));
  let labelSpreading: GrfJobResult['labelSpreading'];
  if (job.labels !== undefined && job.labelSpreading !== undefined) {
    const labels = (await store.get(job.labels)).data as Int32Array;
    const train = seededSubset(job.n, job.labelSpreading.trainFraction, job.labelSpreading.seed);
    // Label spreading multiplies by Φ: only here is it stacked in memory.
    const phis = [rows[0] as readonly CsrArrays[], rows[nStreams - 1] as readonly CsrArrays[]].map((parts) => csrVstack(parts));
    const [p1, p2] = phis as [CsrArrays, CsrArrays];
    const accuracy = labelSpreadingAccuracy((y, k) => applyKhat(p1, p2, y, k), labels, train);
    let nTrain = 0;
    for (const t of train) nTrain += t;
    labelSpreading = { accuracy, train: nTrain, test: job.n - nTrain };
  }
  return {
    jobId: job.jobId,
    n: job.n,
    phi: phiRefs,
    nnz,
    ...(labelSpreading !== undefined ? { labelSpreading } : {}),
  };
}
