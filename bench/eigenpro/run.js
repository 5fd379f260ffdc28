'use strict';
/**
 * bench/eigenpro — EigenPro 2 on Fashion-MNIST (Debian dataset-fashion-mnist, installed by
 * bench/eigenpro/setup.sh), Laplacian σ = 10, the same rows, cores and run for every system:
 *
 *   node bench/eigenpro/run.js     (env: N_TRAIN=60000 N_TEST=10000 EPOCHS=3 SIGMA=10
 *                                   TARGET=0.895 WORKERS=1,2,1x2 SKIP_REF=1 REF_TIMEOUT_S=7200
 *                                   TRAIN_EVAL_ROWS=0 ACCUMULATE=f32 REFS=numpy,sklearn
 *                                   CACHE_MB=<kernel-row cache of the machine, split over
 *                                   the workers; 17800 keeps every 60k row on a 24 GB host>)
 *
 *   gramfleet (W workers, or WxT: W workers of T kernel threads each): a LocalCluster with W
 *     WASM workers × T threads (unless given, the cores shared out over the workers) in a temp dir;
 *     fleet.submit({ kind: 'eigenpro', train: <IDX path>, … }) with shards = W, f32 features and
 *     f32 kernel products (ACCUMULATE=f32, the default here: numpy's blocks are f32 sgemm too;
 *     ACCUMULATE=f64 measures the f64-accumulated path);
 *     times are client-observed from the job's progress events: setup = submit (data upload
 *     included) to the setup event; epoch i = the previous event to epoch i's, scoring
 *     included ("without scoring": minus the epoch's evalMs); time per epoch = the mean of all
 *     EPOCHS epochs (the first epoch computes every kernel row, later ones read the workers'
 *     kernel-row caches, so the first and later epochs are also reported apart); time to
 *     target = submit to the first epoch whose test accuracy reaches TARGET.
 *   numpy EigenPro 2 (bench/eigenpro/numpy_ep2.py): the same formulas by hand, f32 kernel
 *     blocks through OpenBLAS, recomputed every epoch; its epoch times exclude the evaluation,
 *     (elapsed − setup) / EPOCHS includes it; setup and time to target exclude reading the files.
 *   scikit-learn-extra EigenProClassifier (bench/eigenpro/sklearn_extra_ref.py): one fit of
 *     EPOCHS epochs; time per epoch = fit time / EPOCHS.
 * Ratios: reference / ours for times (> 1 means gramfleet is faster). Prints JSON lines.
 *
 * EigenPro 3 mode (MODE=ep3; env CENTERS=10000 PROJECTION=exact, defaults EPOCHS=5 TARGET=0.88):
 *   gramfleet trains on CENTERS centers sampled from the training rows with the given
 *   projection; the side-by-side reference is bench/eigenpro/numpy_ep3.py (the same formulas
 *   by hand: one Cholesky of K(Z, Z), cho_solve per batch); lines carry bench 'eigenpro3'.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execSync } = require('node:child_process');
const { LocalCluster, connect, loadRows } = require('@gramfleet/orchestrator');
const { emit, runPython, unavailable } = require('../lib/common');

const DIR = process.env.FMNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
const N_TRAIN = Number(process.env.N_TRAIN ?? 60000);
const N_TEST = Number(process.env.N_TEST ?? 10000);
const MODE = process.env.MODE ?? 'ep2';
const EP3 = MODE === 'ep3';
const CENTERS = Number(process.env.CENTERS ?? 10000);
const PROJECTION = process.env.PROJECTION ?? 'exact';
const BENCH = EP3 ? 'eigenpro3' : 'eigenpro';
const EPOCHS = Number(process.env.EPOCHS ?? (EP3 ? 5 : 3));
const SIGMA = Number(process.env.SIGMA ?? 10);
const TARGET = Number(process.env.TARGET ?? (EP3 ? 0.88 : 0.895));
// Configurations: W (W workers, the cores shared out over them: LocalCluster's default) or WxT
// (W workers × T kernel threads each).
const CONFIGS = (process.env.WORKERS ?? '1,2').split(',').map((s) => {
  const [w, t] = s.split('x').map(Number);
  return { workers: w, threads: t ?? Math.max(1, Math.floor(os.cpus().length / w)), name: t === undefined ? `${w}w` : `${w}w${t}t` };
});
const REF_TIMEOUT_S = Number(process.env.REF_TIMEOUT_S ?? 7200);
// Training rows scored after each epoch. The references score the test set only, so the
// default 0 gives gramfleet the same per-epoch work (2000 is the product's default).
const TRAIN_EVAL_ROWS = Number(process.env.TRAIN_EVAL_ROWS ?? 0);
const ACCUMULATE = process.env.ACCUMULATE ?? 'f32';
// References to run (REFS=numpy skips scikit-learn-extra, which needs > 1200 s on the full set).
const REFS = new Set((process.env.REFS ?? 'numpy,sklearn').split(','));
// Kernel-row cache budget of the whole machine in MB, split over the run's workers
// (GRAMFLEET_KERNEL_CACHE_MB each); unset: the workers' default (a quarter of memory each).
const CACHE_MB = process.env.CACHE_MB === undefined ? undefined : Number(process.env.CACHE_MB);

function head(rows, k) {
  return { rows: Math.min(k, rows.rows), cols: rows.cols, data: rows.data.subarray(0, Math.min(k, rows.rows) * rows.cols) };
}

async function gramfleet({ workers, threads, name }, data) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gf-bench-eigenpro-'));
  // The training activity appends its per-epoch time breakdown here (orchestrator/src/eigenpro/profile.ts).
  const profileFile = path.join(dir, 'profile.jsonl');
  process.env.GRAMFLEET_EIGENPRO_PROFILE = profileFile;
  // The workers inherit this process's environment.
  if (CACHE_MB !== undefined) process.env.GRAMFLEET_KERNEL_CACHE_MB = String(Math.floor(CACHE_MB / workers));
  const cluster = await LocalCluster.start({ dataDir: dir, workers, threadsPerWorker: threads, logLevel: 'warn' });
  const fleet = await connect({ dataDir: dir, startLocal: false });
  try {
    const t0 = Date.now();
    const h = await fleet.submit({
      kind: 'eigenpro',
      ...data,
      kernel: 'laplacian',
      bandwidth: SIGMA,
      epochs: EPOCHS,
      shards: workers,
      featureDtype: 'f32',
      accumulate: ACCUMULATE,
      seed: 0,
      trainEvalRows: TRAIN_EVAL_ROWS,
      ...(EP3 ? { centers: CENTERS, projection: PROJECTION } : {}),
    });
    let setup;
    let setupAt = null;
    // Client-observed times (s since submit) of the setup event and of each epoch event.
    const epochAt = [];
    const r = await h.watch((e) => {
      if (e.kind === 'setup') {
        setup = e.setup;
        setupAt = (Date.now() - t0) / 1000;
      }
      if (e.kind === 'epoch') {
        epochAt[e.epoch - 1] = (Date.now() - t0) / 1000;
        process.stderr.write(`gramfleet ${name}: ${JSON.stringify(e)}\n`);
      }
    });
    const wall = (Date.now() - t0) / 1000;
    // Epoch i's time: from the previous epoch's event (the setup event for the first) to its
    // own, scoring included; without scoring: minus the epoch's evalMs.
    const ep = r.history.map((e, i) => (epochAt[i] ?? NaN) - (i === 0 ? setupAt : (epochAt[i - 1] ?? NaN)));
    const tr = r.history.map((e, i) => ep[i] - (e.evalMs ?? 0) / 1000);
    const hit = r.history.findIndex((e) => (e.testAccuracy ?? 0) >= TARGET);
    const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
    const profile = fs.existsSync(profileFile)
      ? fs
          .readFileSync(profileFile, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
      : [];
    for (const pr of profile) process.stdout.write(JSON.stringify({ bench: BENCH, system: `gramfleet-${name}`, profile: pr }) + '\n');
    return {
      ...(EP3 ? { projection: r.projection } : {}),
      epochS: mean(ep),
      epochTrainS: mean(tr),
      firstEpochTrainS: tr[0],
      laterEpochTrainS: tr.length > 1 ? mean(tr.slice(1)) : null,
      epochsS: ep,
      evalS: mean(r.history.map((e) => (e.evalMs ?? 0) / 1000)),
      setupS: setupAt,
      toTarget: hit >= 0 ? epochAt[hit] : null,
      accs: r.history.map((e) => e.testAccuracy),
      acc: r.history[r.history.length - 1].testAccuracy,
      kernelRows: r.kernelRows,
      setup: setup ?? r.setup,
      wall,
    };
  } finally {
    await fleet.close().catch(() => undefined);
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;

async function main() {
  const load = execSync('uptime').toString().trim();
  const common = {
    cache_mb: CACHE_MB ?? null,
    accumulate: ACCUMULATE,
    train_eval_rows: TRAIN_EVAL_ROWS,
    n_train: N_TRAIN,
    n_test: N_TEST,
    epochs: EPOCHS,
    sigma: SIGMA,
    target: TARGET,
    cores: os.cpus().length,
    load,
    ...(EP3 ? { centers: CENTERS, projection: PROJECTION } : {}),
  };
  process.stdout.write(JSON.stringify({ bench: BENCH, ...common }) + '\n');
  const [xtr, ytr, xte, yte] = await Promise.all(
    ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'].map((f) =>
      loadRows(path.join(DIR, f)),
    ),
  );
  const data = { train: head(xtr, N_TRAIN), trainLabels: head(ytr, N_TRAIN), test: head(xte, N_TEST), testLabels: head(yte, N_TEST) };
  const ours = {};
  for (const cfg of CONFIGS) {
    const o = await gramfleet(cfg, data);
    ours[cfg.name] = o;
    process.stdout.write(JSON.stringify({ bench: BENCH, system: `gramfleet-${cfg.name}`, ...o, setup: { q: o.setup.q, batch: o.setup.batch } }) + '\n');
  }
  const refs = {};
  if (process.env.SKIP_REF === undefined) {
    const args = [String(N_TRAIN), String(N_TEST), String(SIGMA), String(EPOCHS), String(TARGET)];
    if (!REFS.has('numpy')) {
      /* skipped: REFS */
    } else if (EP3)
      refs.numpy = unavailable('scipy', 'scipy') ?? runPython(path.join(__dirname, 'numpy_ep3.py'), [...args, String(CENTERS)], REF_TIMEOUT_S * 1000);
    else refs.numpy = unavailable('scipy', 'scipy') ?? runPython(path.join(__dirname, 'numpy_ep2.py'), args, REF_TIMEOUT_S * 1000);
    const why = unavailable('scikit-learn-extra', 'sklearn');
    if (!EP3 && REFS.has('sklearn'))
      refs.sklearn = why !== null ? { error: why } : runPython(path.join(__dirname, 'sklearn_extra_ref.py'), args, REF_TIMEOUT_S * 1000);
    for (const [k, v] of Object.entries(refs))
      process.stdout.write(JSON.stringify({ bench: BENCH, system: k, ...(typeof v === 'string' ? { error: v } : v) }) + '\n');
  }
  for (const { name: w } of CONFIGS) {
    const o = ours[w];
    for (const [k, v] of Object.entries(refs)) {
      const ok = typeof v === 'object' && v.error === undefined;
      const note = ok ? undefined : (v.error ?? v);
      // numpy: epoch_mean_s excludes scoring; (elapsed − setup) / E includes it. scikit-learn-extra: fit / E.
      const refEpoch = ok ? (v.elapsed_s !== undefined ? (v.elapsed_s - v.setup_s) / EPOCHS : v.epoch_s) : NaN;
      const refTrain = ok ? (v.epoch_mean_s ?? v.epoch_s) : NaN;
      emit(BENCH, `time per epoch (mean of ${EPOCHS}, scoring included), gramfleet ${w} vs ${k}`, o.epochS, refEpoch, 's', { note });
      emit(BENCH, `time per epoch without scoring (mean of ${EPOCHS}), gramfleet ${w} vs ${k}`, o.epochTrainS, refTrain, 's', { note });
      if (ok && Array.isArray(v.epochs_s)) {
        emit(BENCH, `first epoch without scoring, gramfleet ${w} vs ${k}`, o.firstEpochTrainS, v.epochs_s[0], 's');
        if (o.laterEpochTrainS !== null && v.epochs_s.length > 1)
          emit(BENCH, `later epochs without scoring (mean), gramfleet ${w} vs ${k}`, o.laterEpochTrainS, mean(v.epochs_s.slice(1)), 's');
      }
      emit(BENCH, `setup, gramfleet ${w} vs ${k}`, o.setupS, ok ? v.setup_s : NaN, 's', { note });
      emit(BENCH, `time to ${TARGET} test acc, gramfleet ${w} vs ${k}`, o.toTarget ?? NaN, ok && v.time_to_target_s !== null ? v.time_to_target_s : NaN, 's', {
        note:
          o.toTarget === null || !ok || v.time_to_target_s === null
            ? `target not reached by ${o.toTarget === null ? 'gramfleet' : k} in ${EPOCHS} epochs (final acc ours ${o.acc}, ${k} ${ok ? v.final_test_acc : 'n/a'})`
            : undefined,
      });
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
