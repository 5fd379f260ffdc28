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
 *   SciPy gcrotmk carrying in our sorted order, gcrotmk fresh, and
 *   SciPy SuperLU              splu (COLAMD ordering, SciPy's default) once per system, then solve
 * for the 2-D families (darcy, helmholtz, ...) and the 3-D ones (darcy-3d, helmholtz-3d, ...:
 * 7-point, grid G³ unknowns). Every timed method runs REPS times; the figure is the median
 * (mat-vecs are deterministic). Each case also prints the ratio against the best (fastest)
 * reference, and the run ends with the crossover per family: the largest grid where SuperLU
 * is the fastest method and the smallest where ours beats it.
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
 *        REPS=3 (runs per timed method, median reported)
 *        SPLU_SUBSET=0 (SuperLU on the first S systems only, scaled to COUNT; 0 = all. Its cost
 *          per system depends on the sparsity pattern, which every system of a case shares;
 *          in 3-D one factorisation takes ~0.7 s at 16³, ~13 s at 24³, ~90 s at 32³ here)
 *        SCIPY_METHODS=carry,carry_sorted,fresh,splu
 *   3-D crossover: PDES=darcy-3d,helmholtz-3d GRIDS=8,12,16,24 COUNTS=100 SPLU_SUBSET=5 node bench/datagen/run.js
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
const REPS = Math.max(1, Number(process.env.REPS ?? 3));
const SPLU_SUBSET = Number(process.env.SPLU_SUBSET ?? 0);
const SCIPY_METHODS = process.env.SCIPY_METHODS ?? 'carry,carry_sorted,fresh,splu';
/** Extra runs of sorted recycling that update the recycled space after cycles 1, 1+e, … only (recycleEvery = e). */
const EVERY = (process.env.EVERY ?? '').split(',').filter(Boolean).map(Number);
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

/** Runs `f` REPS times; its first result with `seconds` the median and `runs` every run's seconds. */
function median(f) {
  const runs = [];
  let first;
  for (let r = 0; r < REPS; r++) {
    const x = f();
    first ??= x;
    runs.push(x.seconds);
  }
  const s = [...runs].sort((a, b) => a - b);
  return { ...first, seconds: s[Math.floor(s.length / 2)], runs };
}

function solveAll(insts, order, k, carry, cap, every = 1) {
  let rec = [];
  let matvecs = 0;
  let iterations = 0;
  let capped = 0;
  const t = now();
  for (const i of order) {
    const s = insts[i];
    try {
      const r = core.gcrodr(
        s.a,
        s.b,
        { m: M, k, rtol: RTOL, maxMatvecs: cap, precond: buildPreconditioner('none', s.a), dense, recycleEvery: every },
        carry ? rec : [],
      );
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
  /** Per family: [{grid, count, fastest, ours, splu}] for the crossover. */
  const cross = {};
  try {
    for (const pde of PDES)
      for (const grid of GRIDS)
        for (const count of COUNTS) {
          const params = core.compileDatagenParams({ pde, grid, count, seed: 1, rtol: RTOL, restart: M, recycle: K });
          const spec = core.pdeSpecOf(params);
          const tg = now();
          const insts = Array.from({ length: count }, (_, i) => core.generateInstance(spec, i));
          const sq = core.pdeDim(pde) === 3 ? '³' : '²';
          log(`${pde} ${grid}${sq} x${count}: generated in ${secs(tg).toFixed(1)} s; load ${os.loadavg()[0].toFixed(2)}`);
          const random = insts.map((_, i) => i);
          const ts = now();
          const sorted = core.sortInstances(
            insts.map((s) => core.instanceFeatures(spec, s.index)),
            'greedy',
          );
          const sortSeconds = secs(ts);
          const tag = `${pde} ${grid}${sq} x${count}`;
          solveAll(insts, random.slice(0, Math.min(3, count)), K, true, params.maxMatvecs); // JIT warm-up, untimed
          const res = {};
          res.sorted = median(() => {
            const r = solveAll(insts, sorted, K, true, params.maxMatvecs);
            return { ...r, seconds: r.seconds + sortSeconds };
          });
          log(`${tag} recycled sorted: ${JSON.stringify(res.sorted)} (sort ${sortSeconds.toFixed(2)} s)`);
          for (const e of EVERY) {
            res[`every${e}`] = median(() => {
              const r = solveAll(insts, sorted, K, true, params.maxMatvecs, e);
              return { ...r, seconds: r.seconds + sortSeconds };
            });
            log(`${tag} recycled sorted, recycleEvery ${e}: ${JSON.stringify(res[`every${e}`])}`);
            emit(B, `${tag}: time, sorted recycling with recycleEvery ${e} vs every cycle (same run)`, res[`every${e}`].seconds, res.sorted.seconds, 's', {
              note: `mat-vecs ${res[`every${e}`].matvecs} vs ${res.sorted.matvecs}; median of ${REPS}`,
            });
          }
          if (METHODS.has('random')) {
            res.random = median(() => solveAll(insts, random, K, true, params.maxMatvecs));
            log(`${tag} recycled random: ${JSON.stringify(res.random)}`);
          }
          if (METHODS.has('reset')) {
            res.reset = median(() => solveAll(insts, random, K, false, params.maxMatvecs));
            log(`${tag} reset: ${JSON.stringify(res.reset)}`);
          }
          if (METHODS.has('gmres')) {
            const sub = Math.min(GMRES_SUBSET, count);
            const g = median(() => solveAll(insts, random.slice(0, sub), 0, false, GMRES_CAP));
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
            sci = runPython(
              path.join(__dirname, 'scipy_ref.py'),
              [file, '20', String(K), String(RTOL), '1000', String(REPS), String(SPLU_SUBSET), SCIPY_METHODS],
              SCIPY_TIMEOUT_S * 1000,
            );
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
          const refs = {};
          if (res.gmres !== undefined) refs['GMRES(40)'] = res.gmres.seconds;
          if (res.reset !== undefined) refs['GCRO-DR reset'] = res.reset.seconds;
          if (sci !== null && sci.error === undefined) {
            const c = sci.gcrotmk_carry;
            const f = sci.gcrotmk_fresh;
            const cs = sci.gcrotmk_carry_sorted;
            const cnote = `scipy ${sci.scipy}; median of ${REPS}; ${note}`;
            if (c !== undefined) {
              refs['SciPy gcrotmk carrying'] = c.seconds;
              for (const e of EVERY)
                emit(B, `${tag}: time, sorted recycling with recycleEvery ${e} vs SciPy gcrotmk carrying`, res[`every${e}`].seconds, c.seconds, 's', {
                  note: `mat-vecs ${res[`every${e}`].matvecs} vs ${c.matvecs}; ${cnote}`,
                });
              const n2 = `carrying: ${c.failures} not converged, max relres ${c.max_relres.toExponential(2)}; ${cnote}`;
              emit(B, `${tag}: mat-vecs, sorted recycling vs SciPy gcrotmk carrying`, res.sorted.matvecs, c.matvecs, 'mat-vecs', { note: n2 });
              emit(B, `${tag}: time, sorted recycling vs SciPy gcrotmk carrying`, res.sorted.seconds, c.seconds, 's', { note: n2 });
            }
            if (cs !== undefined) {
              refs['SciPy gcrotmk carrying, our order'] = cs.seconds;
              emit(B, `${tag}: time, sorted recycling vs SciPy gcrotmk carrying in our sorted order`, res.sorted.seconds, cs.seconds, 's', {
                note: `mat-vecs ${cs.matvecs}, ${cs.failures} not converged; ${cnote}`,
              });
            }
            if (f !== undefined) {
              refs['SciPy gcrotmk fresh'] = f.seconds;
              emit(B, `${tag}: time, sorted recycling vs SciPy gcrotmk fresh`, res.sorted.seconds, f.seconds, 's', {
                note: `${f.failures} not converged; ${cnote}`,
              });
            }
            if (sci.splu !== undefined) {
              refs['SciPy SuperLU'] = sci.splu.seconds;
              const sub = sci.splu.measured < count ? `; factorised ${sci.splu.measured} of ${count} systems, scaled to ${count}` : '';
              emit(B, `${tag}: time, sorted recycling vs SciPy SuperLU per system (direct)`, res.sorted.seconds, sci.splu.seconds, 's', {
                note: `max relres ${sci.splu.max_relres.toExponential(2)}${sub}; ${cnote}`,
              });
            }
          } else {
            emit(B, `${tag}: time, sorted recycling vs SciPy gcrotmk carrying`, res.sorted.seconds, null, 's', { note: why ?? sci?.error });
          }
          const names = Object.keys(refs);
          if (names.length > 0) {
            const best = names.reduce((a, b) => (refs[b] < refs[a] ? b : a));
            emit(B, `${tag}: time, sorted recycling vs the fastest reference (${best})`, res.sorted.seconds, refs[best], 's', {
              note: `references: ${names.map((n) => `${n} ${refs[n].toPrecision(4)} s`).join(', ')}; ${note}`,
            });
            const all = { ours: res.sorted.seconds, ...refs };
            const fastest = Object.keys(all).reduce((a, b) => (all[b] < all[a] ? b : a));
            (cross[pde] ??= []).push({ grid, count, fastest, ours: res.sorted.seconds, splu: refs['SciPy SuperLU'] ?? null });
          }
          process.stdout.write(JSON.stringify({ bench: B, case: tag, dense: DENSE, load: os.loadavg(), ours: res, scipy: sci }) + '\n');
        }
    for (const [pde, rows] of Object.entries(cross)) {
      const lu = rows.filter((r) => r.splu !== null).sort((a, b) => a.grid - b.grid);
      const luFastest = lu.filter((r) => r.fastest === 'SciPy SuperLU').map((r) => r.grid);
      const oursBeatLu = lu.filter((r) => r.ours < r.splu).map((r) => r.grid);
      const line = {
        bench: B,
        crossover: pde,
        superluFastestAt: luFastest,
        oursFasterThanSuperluAt: oursBeatLu,
        rows: lu.map((r) => ({ grid: r.grid, count: r.count, fastest: r.fastest, ours: r.ours, splu: r.splu, ratio: r.splu / r.ours })),
        load: os.loadavg(),
      };
      process.stdout.write(JSON.stringify(line) + '\n');
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
