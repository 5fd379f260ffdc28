/**
 * Data generation from the SDK side: {@link prepareDatagen} validates the parameters,
 * computes every instance's sort features, sorts and cuts the chain into chunks (before
 * anything is scheduled) under a job id derived from parameters and chunking, so a rerun
 * attaches to the same workflow and re-solves nothing that is finished; {@link writeDataset}
 * writes inputs, right-hand sides and solutions as `.npy` shards (one per chunk) plus
 * `manifest.json`, recomputing every true residual itself.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  DATAGEN_MAX_SYSTEMS,
  GramfleetError,
  checkDatagenBounds,
  checkJobId,
  compileDatagenParams,
  csrMatvec,
  generateInstance,
  instanceFeatures,
  ndarray,
  num,
  pdeSpecOf,
  sortInstances,
  type ArrayRef,
  type DatagenJobInput,
  type DatagenJobResult,
  type DatagenParams,
  type DatagenProgress,
  type NdArray,
  type WorkerClass,
} from '@gramfleet/core';
import type { ArrayStore } from '@gramfleet/workers';
import { writeCsrNpz, writeNpy } from '../io/npz';

/** A data-generation job as submitted through the SDK. */
export interface DatagenJobSpec extends DatagenParams {
  readonly kind: 'datagen';
  /** Worker class to run on. @default 'wasm' */
  readonly backend?: WorkerClass;
  /** Job id. @default derived from parameters and chunking (a rerun resumes the same job) */
  readonly jobId?: string;
  /** Whole-job time limit, ms. @default 24 h */
  readonly timeoutMs?: number;
}

/** Largest count one job carries (results are paged through the object store; the chain is the workflow input). */
export const DATAGEN_MAX_COUNT = DATAGEN_MAX_SYSTEMS;

/** Progress as the SDK reports it. */
export interface DatagenProgressView {
  readonly phase: DatagenProgress['phase'];
  readonly systemsDone: number;
  readonly systemsTotal: number;
  readonly chunksDone: number;
  readonly chunksTotal: number;
  /** Mat-vecs of the finished systems. */
  readonly matvecs: number;
  /** Σ over chunks of (mat-vecs of the chunk's first, cold-started system − mat-vecs of each later one). */
  readonly matvecsSaved: number;
}

/** Validates, sorts and chunks; throws typed `INPUT_*` errors before anything is scheduled. */
export function prepareDatagen(spec: DatagenJobSpec): DatagenJobInput {
  const params = compileDatagenParams(spec);
  checkDatagenBounds(params);
  const timeoutMs = num('timeoutMs', spec.timeoutMs ?? 24 * 3600_000, { min: 1000 });
  const pspec = pdeSpecOf(params);
  const features = Array.from({ length: params.count }, (_, i) => instanceFeatures(pspec, i));
  const chain = sortInstances(features, params.sort);
  const chunks: number[][] = [];
  for (let s = 0; s < chain.length; s += params.chunkSize) chunks.push(chain.slice(s, s + params.chunkSize));
  const jobId = spec.jobId ?? `datagen-${createHash('sha256').update(JSON.stringify({ params, chunks })).digest('hex').slice(0, 20)}`;
  checkJobId(jobId);
  return { jobId, params, chunks, cls: spec.backend ?? 'wasm', timeoutMs };
}

/** One system's line in the manifest. */
export interface DatasetSystem {
  readonly index: number;
  readonly chunk: number;
  readonly position: number;
  readonly iterations: number;
  readonly matvecs: number;
  readonly cycles: number;
  /** Dimension of the recycled space carried out of this system. */
  readonly recycled: number;
  /** ‖b − Ax‖/‖b‖ recomputed here from a freshly generated A (not the solver's figure). */
  readonly relres: number;
  readonly solverRelres: number;
  readonly timeMs: number;
  readonly worker: string;
  readonly deliveries: number;
  /** Content digest of x (equal digests = byte-identical solutions). */
  readonly solutionDigest: string;
  readonly scalars: readonly number[];
}

/** The manifest written beside the shards. */
export interface DatasetManifest {
  readonly format: 'gramfleet-datagen/1';
  readonly jobId: string;
  readonly params: DatagenJobInput['params'];
  readonly chain: readonly number[];
  readonly chunks: readonly {
    readonly chunk: number;
    readonly indices: readonly number[];
    readonly inputs: string;
    readonly rhs: string;
    readonly solutions: string;
  }[];
  readonly systems: readonly DatasetSystem[];
  readonly totals: { readonly matvecs: number; readonly iterations: number; readonly timeMs: number; readonly maxRelres: number };
  readonly storedSystems: boolean;
}

function stack(arrs: readonly NdArray[]): NdArray {
  const first = arrs[0];
  if (first === undefined) return ndarray('f64', [0], new Float64Array(0));
  const size = first.data.length;
  const out = new Float64Array(arrs.length * size);
  arrs.forEach((a, i) => out.set(a.data as Float64Array, i * size));
  return ndarray('f64', [arrs.length, ...first.shape], out);
}

/** Writes the dataset of a finished job into `outDir`; returns the manifest. */
export async function writeDataset(
  store: ArrayStore,
  input: DatagenJobInput,
  result: DatagenJobResult,
  outDir: string,
  o: { storeSystems?: boolean } = {},
): Promise<DatasetManifest> {
  fs.mkdirSync(outDir, { recursive: true });
  if (o.storeSystems === true) fs.mkdirSync(path.join(outDir, 'systems'), { recursive: true });
  const spec = pdeSpecOf(input.params);
  const get = (r: ArrayRef | undefined): Promise<NdArray> => {
    if (r === undefined) throw new GramfleetError('STORE_MISSING_OBJECT', 'a system has fewer outputs than expected');
    return store.get(r);
  };
  const systems: DatasetSystem[] = [];
  const chunks: DatasetManifest['chunks'][number][] = [];
  for (let ci = 0; ci < input.chunks.length; ci++) {
    const outs = result.systems.filter((s) => s.chunk === ci).sort((a, b) => a.position - b.position);
    const xs: NdArray[] = [];
    const ins: NdArray[] = [];
    const bs: NdArray[] = [];
    for (const s of outs) {
      const [x, , fld, b, st] = await Promise.all([get(s.outputs[0]), get(s.outputs[1]), get(s.outputs[2]), get(s.outputs[3]), get(s.outputs[4])]);
      const inst = generateInstance(spec, s.index);
      const ax = new Float64Array(inst.b.length);
      csrMatvec(inst.a, x.data as Float64Array, ax);
      let rr = 0;
      let bb = 0;
      for (let i = 0; i < ax.length; i++) {
        rr += ((inst.b[i] as number) - (ax[i] as number)) ** 2;
        bb += (inst.b[i] as number) ** 2;
      }
      const sd = st.data as Float64Array;
      systems.push({
        index: s.index,
        chunk: ci,
        position: s.position,
        iterations: sd[0] as number,
        matvecs: sd[1] as number,
        cycles: sd[2] as number,
        recycled: sd[4] as number,
        relres: Math.sqrt(rr / bb),
        solverRelres: sd[3] as number,
        timeMs: s.stats.computeMs,
        worker: s.stats.workerId,
        deliveries: s.stats.deliveryCount,
        solutionDigest: s.outputs[0]?.digest ?? '',
        scalars: inst.scalars,
      });
      xs.push(x);
      ins.push(fld);
      bs.push(b);
      if (o.storeSystems === true) {
        const tag = String(s.index).padStart(6, '0');
        await writeCsrNpz(path.join(outDir, 'systems', `A_${tag}.npz`), inst.a);
        await writeNpy(path.join(outDir, 'systems', `b_${tag}.npy`), ndarray('f64', [inst.b.length], inst.b));
      }
    }
    const tag = String(ci).padStart(5, '0');
    const files = { inputs: `inputs_c${tag}.npy`, rhs: `rhs_c${tag}.npy`, solutions: `solutions_c${tag}.npy` };
    await writeNpy(path.join(outDir, files.inputs), stack(ins));
    await writeNpy(path.join(outDir, files.rhs), stack(bs));
    await writeNpy(path.join(outDir, files.solutions), stack(xs));
    chunks.push({ chunk: ci, indices: outs.map((s) => s.index), ...files });
  }
  const manifest: DatasetManifest = {
    format: 'gramfleet-datagen/1',
    jobId: input.jobId,
    params: input.params,
    chain: input.chunks.flat(),
    chunks,
    systems,
    totals: {
      matvecs: systems.reduce((a, s) => a + s.matvecs, 0),
      iterations: systems.reduce((a, s) => a + s.iterations, 0),
      timeMs: systems.reduce((a, s) => a + s.timeMs, 0),
      maxRelres: systems.reduce((a, s) => Math.max(a, s.relres), 0),
    },
    storedSystems: o.storeSystems === true,
  };
  fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  return manifest;
}

/** The types of the `datagen` workload. */
export interface DatagenTypes {
  readonly kind: 'datagen';
  readonly spec: DatagenJobSpec;
  readonly input: DatagenJobInput;
  readonly result: DatagenJobResult;
  readonly progress: DatagenProgressView;
  readonly event: DatagenProgressView;
}
