/**
 * The Kronecker GP's two ops ({@link KronLinalg}: `eigh`, `mode-product`) on the wasm kernel
 * library, for in-process use by the orchestrator, benches and tests.
 */
import {
  GramfleetError,
  kronFactorOp,
  kronFactorRun,
  kronGpSolveOp,
  kronGpSolveRun,
  kronSlabOp,
  kronSlabRun,
  modeSplit,
  type KernelRegistry,
  type KronLinalg,
} from '@gramfleet/core';
import { WasmArena } from './arena';
import { loadKernelModuleBytes } from './kernel-module';
import { eighInArena } from './eigh';
import { LA_STATUS, allocF64, putF64, readF64 } from './linalg-host';

/**
 * A {@link KronLinalg} over one wasm instance (arena reused; a fresh one after a trap).
 * `module` defaults to the plain kernel build.
 */
export function createWasmKronLinalg(
  module: WebAssembly.Module = new WebAssembly.Module(loadKernelModuleBytes(false).bytes),
  maxBytes = 2 ** 32 - 65536,
): KronLinalg {
  let arena: WasmArena | undefined;
  return kronLinalgOverArena(() => {
    if (arena === undefined || arena.poisoned) arena = new WasmArena(module, { maxBytes });
    arena.reset();
    return arena;
  });
}

/** A {@link KronLinalg} over arenas from `get` (each call gets a reset arena). */
export function kronLinalgOverArena(get: () => WasmArena): KronLinalg {
  return {
    eigh: (n, a) => eighInArena(get(), n, a),
    modeProduct(x, shape, mode, m, p, transpose) {
      const a = get();
      const { l, r } = modeSplit(shape, mode);
      const nd = shape[mode] as number;
      const px = putF64(a, x);
      const pm = putF64(a, m);
      const py = allocF64(a, l * p * r);
      const work = a.alloc(a.call('gf_mode_product_work_bytes', nd, p), 64);
      const st = a.call('gf_mode_product', l, nd, r, px, p, pm, Math.max(transpose ? p : nd, 1), transpose ? 1 : 0, py, work);
      if (st !== LA_STATUS.OK)
        throw new GramfleetError('KERNEL_STATUS', `mode-product: gf_mode_product returned status ${st}`, { op: 'mode-product', status: st });
      return readF64(a, py, l * p * r);
    },
    // The tensor stays in wasm memory between the mode products: one copy in, one copy out.
    kronMatvec(shape, factors, x) {
      const a = get();
      const sh = [...shape];
      let len = x.length;
      let most = len;
      let work = 0;
      for (const [d, f] of factors.entries()) {
        if (f === null) continue;
        len = (len / (sh[d] as number)) * f.p;
        most = Math.max(most, len);
        work = Math.max(work, a.call('gf_mode_product_work_bytes', sh[d] as number, f.p));
        sh[d] = f.p;
      }
      sh.splice(0, sh.length, ...shape);
      let src = putF64(a, x);
      let dst = allocF64(a, most);
      if (most > x.length) {
        const grown = allocF64(a, most);
        a.f64(grown, x.length).set(x);
        src = grown;
      }
      const pw = a.alloc(work, 64);
      const mark = a.mark();
      for (const [d, f] of factors.entries()) {
        if (f === null) continue;
        const { l, r } = modeSplit(sh, d);
        const nd = sh[d] as number;
        const pm = putF64(a, f.m);
        const st = a.call('gf_mode_product', l, nd, r, src, f.p, pm, Math.max(f.transpose ? f.p : nd, 1), f.transpose ? 1 : 0, dst, pw);
        if (st !== LA_STATUS.OK)
          throw new GramfleetError('KERNEL_STATUS', `mode-product: gf_mode_product returned status ${st}`, { op: 'mode-product', status: st });
        a.release(mark);
        [src, dst] = [dst, src];
        sh[d] = f.p;
      }
      return {
        y: readF64(
          a,
          src,
          sh.reduce((p, q) => p * q, 1),
        ),
        shape: sh,
      };
    },
  };
}

/** Registers the wasm kernels of the Kronecker GP shard ops (`kron-factor`, `kron-slab`, `kron-gp-solve`). */
export function registerKronGpWasm(registry: KernelRegistry, arenaOf: () => WasmArena): void {
  const lin = kronLinalgOverArena(arenaOf);
  registry.register('wasm', kronFactorOp, (a, inputs) => kronFactorRun(lin, a, inputs));
  registry.register('wasm', kronSlabOp, (a, inputs) => kronSlabRun(lin, a, inputs));
  registry.register('wasm', kronGpSolveOp, (a, inputs) => kronGpSolveRun(lin, a, inputs));
}
