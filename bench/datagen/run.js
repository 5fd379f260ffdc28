'use strict';
/**
 * bench/datagen — Krylov-recycled data generation: total time and mat-vecs to solve the same
 * COUNT Darcy and Helmholtz systems (grid G² unknowns, rtol 1e-8, no preconditioner) with
 *   GMRES(40)                 gramfleet's solver with k = 0 (restarted GMRES)
 *   GCRO-DR(40,20) reset      no recycled space carried between systems
 *   recycled, random order    U carried along the instances in generation order
 *   recycled, sorted (ours)   greedy nearest-neighbour chain, U carried (sort time included)
 *   SciPy gcrotmk carrying    gcrotmk(m=20, k=20: 20 new + 20 recycled vectors per cycle, as
 *                             GCRO-DR(40,20)) with CU passed across systems, discard_C=True
 *   SciPy gcrotmk carrying in our sorted order, gcrotmk fresh, and one SuperLU
 *   factorisation per system (a direct solver, for context).
 * Three untimed solves warm the JIT first.
 * All runs are in one process each, single-threaded (OPENBLAS_NUM_THREADS=1 for SciPy),
 * on the same systems (A, b exported to an npz). Ours is the solver the workers run
 * (`datagen-solve`), called in-process: cluster overhead is not included. Its dense basis
 * products run on the wasm kernels with the basis in wasm memory, as on a worker
 * (DENSE=js: the float64 reference loops instead).
 * GMRES(40) runs on the first GMRES_SUBSET systems only (it is slow and stagnates on
 * Helmholtz), capped at GMRES_CAP mat-vecs per system; its totals are scaled to COUNT and a
 * system that hit the cap counts at the cap, so a ratio against it is a lower bound.
 *
 *   bash bench/setup.sh && node bench/datagen/run.js
 *   env: PDES=darcy,helmholtz GRIDS=64 COUNTS=100 GMRES_SUBSET=10 GMRES_CAP=10000 SCIPY_TIMEOUT_S=1800
 *        METHODS=random,reset,gmres (which of ours besides sorted recycling run; SciPy always runs)
 * Ratios: reference/ours for times and mat-vecs (> 1 means gramfleet is better).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const core = require('@gramfleet/core');
const { buildPreconditioner, jsKrylovDense } = require('@gramfleet/core/internal');
const { writeNpz } = require('@gramfleet/orchestrator');
const { emit, runPython, unavailable, machineNote } = require('../lib/common');

const B = 'datagen';
const PDES = (process.env.PDES ?? 'darcy,helmholtz').split(',').filter(Boolean);
const GRIDS = (process.env.GRIDS ?? '64').split(',').map(Number);
const COUNTS = (process.env.COUNTS ?? '100').split(',').map(Number);
const GMRES_SUBSET = Number(process.env.GMRES_SUBSET ?? 10);
const GMRES_CAP = Number(process.env.GMRES_CAP ?? 10000);
const SCIPY_TIMEOUT_S = Number(process.env.SCIPY_TIMEOUT_S ?? 1800);
const METHODS = new Set((process.env.METHODS ?? 'random,reset,gmres').split(',').filter(Boolean));
const DENSE = process.env.DENSE ?? 'wasm';
const workers = require('@gramfleet/workers');
const { createWasmKrylovDense } = require('@gramfleet/workers/internal');
const arena = new workers.WasmArena(new WebAssembly.Module(workers.loadKernelModuleBytes(true).bytes));
const wasmDense = createWasmKrylovDense(arena);
/** The dense backend per solve: a fresh reservation on the (reset) arena, as a worker's kernel thread does. */
const dense =
  DENSE === 'js'
    ? jsKrylovDense
    : (n, v, s, nnz) => {
        arena.reset();
        return wasmDense(n, v, s, nnz);
      };
const RTOL = 1e-8;
const M = 40;
const K = 20;
const log = (...a) => process.stderr.write(`[bench/datagen] ${a.join(' ')}\n`);
const now = () => process.hrtime.bigint();
const secs = (t) => Number(process.hrtime.bigint() - t) / 1e9;

function solveAll(insts, order, k, carry, cap) {
  let rec = [];
  let matvecs = 0;
  let iterations = 0;
  let capped = 0;
  const t = now();
  for (const i of order) {
    const s = insts[i];
    try {
      const r = core.gcrodr(s.a, s.b, { m: M, k, rtol: RTOL, maxMatvecs: cap, precond: buildPreconditioner('none', s.a), dense }, carry ? rec : []);
      rec = r.recycle;
      matvecs += r.matvecs;
      iterations += r.iterations;
    } catch (e) {
      if (e.code !== 'SOLVER_NOT_CONVERGED') throw e;
      capped++;
      matvecs += e.details.matvecs;
      rec = [];
    }
  }
  return { seconds: secs(t), matvecs, iterations, capped };
}

async function main() {
  process.stderr.write(`${machineNote()}\n`);
  const why = unavailable('scipy', 'scipy');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-bench-datagen-'));
  try {
    for (const pde of PDES)
      for (const grid of GRIDS)
        for (const count of COUNTS) {
          const params = core.compileDatagenParams({ pde, grid, count, seed: 1, rtol: RTOL, restart: M, recycle: K });
          const spec = core.pdeSpecOf(params);
          const tg = now();
          const insts = Array.from({ length: count }, (_, i) => core.generateInstance(spec, i));
          log(`${pde} ${grid}² x${count}: generated in ${secs(tg).toFixed(1)} s; load ${os.loadavg()[0].toFixed(2)}`);
          const random = insts.map((_, i) => i);
          const ts = now();
          const sorted = core.sortInstances(
            insts.map((s) => core.instanceFeatures(spec, s.index)),
            'greedy',
          );
          const sortSeconds = secs(ts);
          const tag = `${pde} ${grid}² x${count}`;
          solveAll(insts, random.slice(0, Math.min(3, count)), K, true, params.maxMatvecs); // JIT warm-up, untimed
          const res = {};
          res.sorted = solveAll(insts, sorted, K, true, params.maxMatvecs);
          res.sorted.seconds += sortSeconds;
          log(`${tag} recycled sorted: ${JSON.stringify(res.sorted)} (sort ${sortSeconds.toFixed(2)} s)`);
          if (METHODS.has('random')) {
            res.random = solveAll(insts, random, K, true, params.maxMatvecs);
            log(`${tag} recycled random: ${JSON.stringify(res.random)}`);
          }
          if (METHODS.has('reset')) {
            res.reset = solveAll(insts, random, K, false, params.maxMatvecs);
            log(`${tag} reset: ${JSON.stringify(res.reset)}`);
          }
          if (METHODS.has('gmres')) {
            const sub = Math.min(GMRES_SUBSET, count);
            const g = solveAll(insts, random.slice(0, sub), 0, false, GMRES_CAP);
            res.gmres = { seconds: (g.seconds * count) / sub, matvecs: (g.matvecs * count) / sub, capped: g.capped, measured: sub };
            log(`${tag} GMRES(40) on ${sub}: ${JSON.stringify(g)}`);
          }
          let sci = null;
          if (why === null) {
            const file = path.join(tmp, `${pde}-${grid}-${count}.npz`);
            const first = insts[0].a;
            const data = new Float64Array(count * first.data.length);
            const bs = new Float64Array(count * first.shape[0]);
            insts.forEach((s, i) => {
              if (s.a.indices.length !== first.indices.length) throw new Error('pattern differs between systems');
              data.set(s.a.data, i * first.data.length);
              bs.set(s.b, i * first.shape[0]);
            });
            await writeNpz(file, {
              indptr: core.ndarray('i32', [first.indptr.length], first.indptr),
              indices: core.ndarray('i32', [first.indices.length], first.indices),
              data: core.ndarray('f64', [count, first.data.length], data),
              b: core.ndarray('f64', [count, first.shape[0]], bs),
              order_random: core.ndarray('i32', [count], Int32Array.from(random)),
              order_sorted: core.ndarray('i32', [count], Int32Array.from(sorted)),
            });
            process.env.OPENBLAS_NUM_THREADS = '1';
            process.env.OMP_NUM_THREADS = '1';
            sci = runPython(path.join(__dirname, 'scipy_ref.py'), [file, '20', String(K), String(RTOL), '1000'], SCIPY_TIMEOUT_S * 1000);
            log(`${tag} scipy: ${JSON.stringify(sci)}`);
          }
          const note = `${os.loadavg()[0].toFixed(2)} load; ${machineNote()}`;
          if (res.gmres !== undefined) {
            const gnote = `GMRES(40) measured on ${res.gmres.measured} systems and scaled to ${count}; ${res.gmres.capped} hit the cap of ${GMRES_CAP} mat-vecs (counted at the cap: ratio is a lower bound)`;
            emit(B, `${tag}: mat-vecs, sorted recycling vs GMRES(40)`, res.sorted.matvecs, res.gmres.matvecs, 'mat-vecs', { note: gnote });
            emit(B, `${tag}: time, sorted recycling vs GMRES(40)`, res.sorted.seconds, res.gmres.seconds, 's', { note: gnote });
          }
          if (res.reset !== undefined) {
            emit(B, `${tag}: mat-vecs, sorted recycling vs GCRO-DR reset`, res.sorted.matvecs, res.reset.matvecs, 'mat-vecs');
            emit(B, `${tag}: time, sorted recycling vs GCRO-DR reset`, res.sorted.seconds, res.reset.seconds, 's');
          }
          if (res.random !== undefined) {
            emit(B, `${tag}: mat-vecs, sorted vs random-order recycling`, res.sorted.matvecs, res.random.matvecs, 'mat-vecs');
            emit(B, `${tag}: time, sorted vs random-order recycling`, res.sorted.seconds, res.random.seconds, 's');
          }
          if (sci !== null && sci.error === undefined) {
            const c = sci.gcrotmk_carry;
            const f = sci.gcrotmk_fresh;
            const cnote = `scipy ${sci.scipy}; carrying: ${c.failures} not converged, max relres ${c.max_relres.toExponential(2)}; fresh: ${f.failures} not converged; ${note}`;
            emit(B, `${tag}: mat-vecs, sorted recycling vs SciPy gcrotmk carrying`, res.sorted.matvecs, c.matvecs, 'mat-vecs', { note: cnote });
            emit(B, `${tag}: time, sorted recycling vs SciPy gcrotmk carrying`, res.sorted.seconds, c.seconds, 's', { note: cnote });
            const cs = sci.gcrotmk_carry_sorted;
            emit(B, `${tag}: time, sorted recycling vs SciPy gcrotmk carrying in our sorted order`, res.sorted.seconds, cs.seconds, 's', {
              note: `mat-vecs ${cs.matvecs}, ${cs.failures} not converged; ${note}`,
            });
            emit(B, `${tag}: time, sorted recycling vs SciPy gcrotmk fresh`, res.sorted.seconds, f.seconds, 's', { note: cnote });
            emit(B, `${tag}: time, sorted recycling vs SciPy SuperLU per system (direct)`, res.sorted.seconds, sci.splu.seconds, 's', {
              note: `max relres ${sci.splu.max_relres.toExponential(2)}; ${note}`,
            });
          } else {
            emit(B, `${tag}: time, sorted recycling vs SciPy gcrotmk carrying`, res.sorted.seconds, null, 's', { note: why ?? sci?.error });
          }
          process.stdout.write(JSON.stringify({ bench: B, case: tag, dense: DENSE, load: os.loadavg(), ours: res, scipy: sci }) + '\n');
        }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
