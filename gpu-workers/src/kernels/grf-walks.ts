/**
 * GPU `grf-walks`: one CUDA thread per (origin, walker) walks with the same Philox counters,
 * uniforms and load updates as core's float64 reference (compiled without FMA contraction)
 * and records its trajectory; the host then sums the trajectories of each origin in
 * walker-major order — the reference's order — so Φ is bit-identical to the reference and to
 * the WASM kernel. The walks (random numbers, neighbour gathers) run on the GPU; the sparse
 * accumulation, O(visits), stays on the host. `repelling` walks couple the walkers of an
 * origin and are not implemented on the GPU: the worker runs them with the reference and
 * reports backend `reference`.
 */
import { GramfleetError, checkGrfWalksInputs, effectiveSteps, ndarray, seedKey, type GrfWalksAttrs, type NdArray } from '@gramfleet/core';
import { arg, type GpuDevice } from '../device';

/** Why the GPU kernel declines these attributes, or undefined when it runs them. */
export function grfWalksGpuDeclines(attrs: GrfWalksAttrs): string | undefined {
  return attrs.variance === 'repelling' ? 'repelling walks couple the walkers of an origin; the GPU kernel runs none/antithetic only' : undefined;
}

/** GPU `grf-walks`. */
export async function grfWalksGpu(dev: GpuDevice, attrs: GrfWalksAttrs, inputs: readonly NdArray[]): Promise<NdArray[]> {
  checkGrfWalksInputs(attrs, inputs);
  const declined = grfWalksGpuDeclines(attrs);
  if (declined !== undefined)
    throw new GramfleetError('KERNEL_NOT_REGISTERED', `gpu grf-walks: ${declined}`, { backend: 'gpu', op: 'grf-walks', variance: attrs.variance });
  const [ip, ix, wt] = inputs as [NdArray, NdArray, NdArray];
  const n = ip.data.length - 1;
  const m = attrs.walks;
  const L = effectiveSteps(attrs.f);
  const [k0, k1] = seedKey(attrs.seed);
  const q = 1 / (1 - attrs.pHalt);
  const rows = attrs.nodeEnd - attrs.nodeStart;
  const perRow = m * (L + 1) * 12 + m * 4;
  const chunkRows = Math.max(1, Math.min(rows, Math.floor(Math.min(512 << 20, dev.allocator.budgetBytes / 4) / perRow)));
  return dev.scoped(async (s) => {
    const IP = s.upload(ip.data, 'indptr'),
      IX = s.upload(ix.data, 'indices'),
      WT = s.upload(wt.data, 'weights');
    const F = s.upload(Float64Array.from(attrs.f), 'f');
    const tn = s.alloc(chunkRows * m * (L + 1) * 4, 'trajectory nodes');
    const tv = s.alloc(chunkRows * m * (L + 1) * 8, 'trajectory values');
    const tl = s.alloc(chunkRows * m * 4, 'trajectory lengths');
    const acc = new Float64Array(n);
    const mark = new Uint8Array(n);
    const touched = new Int32Array(n);
    const out: NdArray[] = [];
    for (const stream of attrs.streams) {
      const outPtr = new Int32Array(rows + 1);
      const outIdx: number[] = [];
      const outVal: number[] = [];
      for (let c0 = 0; c0 < rows; c0 += chunkRows) {
        const cr = Math.min(chunkRows, rows - c0);
        dev.launch('gf_grf_walks', cr * m, [
          arg.ptr(IP),
          arg.ptr(IX),
          arg.ptr(WT),
          arg.ptr(F),
          arg.i32(L),
          arg.i32(m),
          arg.f64(attrs.pHalt),
          arg.f64(q),
          arg.i32(attrs.variance === 'antithetic' ? 1 : 0),
          arg.i32(attrs.nodeStart + c0),
          arg.i32(cr),
          arg.u32(stream),
          arg.u32(k0),
          arg.u32(k1),
          arg.ptr(tn),
          arg.ptr(tv),
          arg.ptr(tl),
        ]);
        const nodes = await dev.download(tn, new Int32Array(cr * m * (L + 1)));
        const vals = await dev.download(tv, new Float64Array(cr * m * (L + 1)));
        const lens = await dev.download(tl, new Int32Array(cr * m));
        for (let o = 0; o < cr; o++) {
          let nt = 0;
          for (let w = 0; w < m; w++) {
            const t = o * m + w;
            const base = t * (L + 1);
            const len = lens[t] as number;
            for (let st = 0; st < len; st++) {
              const v = nodes[base + st] as number;
              if (mark[v] === 0) {
                mark[v] = 1;
                touched[nt++] = v;
              }
              acc[v] = (acc[v] as number) + (vals[base + st] as number);
            }
          }
          const tt = touched.subarray(0, nt).sort();
          for (let z = 0; z < tt.length; z++) {
            const v = tt[z] as number;
            const x = acc[v] as number;
            if (x !== 0) {
              outIdx.push(v);
              outVal.push(x);
            }
            acc[v] = 0;
            mark[v] = 0;
          }
          outPtr[c0 + o + 1] = outIdx.length;
        }
      }
      out.push(
        ndarray('i32', [rows + 1], outPtr),
        ndarray('i32', [outIdx.length], Int32Array.from(outIdx)),
        ndarray('f64', [outVal.length], Float64Array.from(outVal)),
      );
    }
    return out;
  });
}
