/**
 * `datagen-solve`: generates PDE instance `index` (a pure function of the attributes) and
 * solves it with GCRO-DR(m, k) / GMRES(m), starting from the recycled space U of the
 * previous system in the chain when one is given (input 0, k×n). Outputs: x (N×N, N×N×N in
 * 3-D), the new U (k'×n, empty for GMRES), the input field ((N+2)^dim), b (as x) and the solver stats
 * [iterations, mat-vecs, cycles, relative residual, k'] — all deterministic, so a shard that
 * runs twice produces the same bytes.
 */
import { ndarray, type NdArray } from '../array';
import { GramfleetError } from '../errors';
import { obj, int } from '../validate';
import { gcrodr } from '../datagen/gcrodr';
import { compileDatagenParams, pdeSpecOf, type CompiledDatagenParams, type DatagenParams } from '../datagen/params';
import { generateInstance, pdeDim, pdeUnknowns } from '../datagen/pde';
import type { KrylovDenseFactory } from '../datagen/krylov-dense';
import { buildPreconditioner } from '../datagen/precond';
import type { OpDef } from './types';

/** Wire name of the op. */
export const DATAGEN_SOLVE_OP_ID = 'datagen-solve';

/** Attributes: the compiled job parameters plus the instance index. */
export interface DatagenSolveAttrs {
  readonly params: CompiledDatagenParams;
  readonly index: number;
}

/**
 * Runs one system; `recycle` is the previous U (rows of length n); `dense` the backend of the
 * basis products (default: the float64 reference).
 */
export function datagenSolve(attrs: DatagenSolveAttrs, recycle: readonly Float64Array[], dense?: KrylovDenseFactory): NdArray[] {
  const p = attrs.params;
  const inst = generateInstance(pdeSpecOf(p), attrs.index);
  const r = gcrodr(
    inst.a,
    inst.b,
    {
      m: p.restart,
      k: p.recycle,
      rtol: p.rtol,
      maxMatvecs: p.maxMatvecs,
      recycleEvery: p.recycleEvery ?? 1,
      precond: buildPreconditioner(p.precond, inst.a),
      ...(dense !== undefined ? { dense } : {}),
    },
    p.solver === 'gcrodr' ? recycle : [],
  );
  const n = inst.b.length;
  const keep = p.solver === 'gcrodr' ? r.recycle : [];
  const u = new Float64Array(keep.length * n);
  keep.forEach((v, i) => u.set(v, i * n));
  const dims = new Array<number>(pdeDim(p.pde)).fill(p.grid);
  const nodes = dims.map((d) => d + 2);
  return [
    ndarray('f64', dims, r.x),
    ndarray('f64', [keep.length, n], u),
    ndarray('f64', nodes, inst.input),
    ndarray('f64', dims, inst.b),
    ndarray('f64', [5], Float64Array.from([r.iterations, r.matvecs, r.cycles, r.relres, keep.length])),
  ];
}

/** The `datagen-solve` op. */
export const datagenSolveOp: OpDef<DatagenSolveAttrs> = {
  id: DATAGEN_SOLVE_OP_ID,
  summary: 'generate one PDE instance and solve it with GCRO-DR / GMRES, carrying the recycled space',
  parseAttrs(raw: unknown): DatagenSolveAttrs {
    const o = obj('attrs', raw);
    const params = compileDatagenParams(obj('params', o['params']) as unknown as DatagenParams);
    return Object.freeze({ params, index: int('index', o['index'], 0, 2 ** 32 - 1) });
  },
  checkInputs(attrs: DatagenSolveAttrs, inputs: readonly NdArray[]): void {
    if (inputs.length > 1)
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `datagen-solve takes at most 1 input (U), got ${inputs.length}`, { field: 'inputs' });
    const u = inputs[0];
    const n = pdeUnknowns(attrs.params.pde, attrs.params.grid);
    if (u !== undefined && (u.dtype !== 'f64' || u.shape.length !== 2 || u.shape[1] !== n)) {
      throw new GramfleetError('INPUT_SHAPE_MISMATCH', `datagen-solve: U must be f64 k×${n}, got ${u.dtype} [${u.shape.join(',')}]`, { field: 'U' });
    }
  },
  reference(attrs: DatagenSolveAttrs, inputs: readonly NdArray[]): NdArray[] {
    return datagenSolve(attrs, recycleRows(inputs[0]));
  },
};

/** The rows of the recycled-space input U (k×n), or none. */
export function recycleRows(u: NdArray | undefined): Float64Array[] {
  const rec: Float64Array[] = [];
  if (u !== undefined) {
    const [k, n] = u.shape as [number, number];
    for (let i = 0; i < k; i++) rec.push((u.data as Float64Array).subarray(i * n, (i + 1) * n));
  }
  return rec;
}
