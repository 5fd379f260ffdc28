"""numpy/SciPy (OpenBLAS/LAPACK) side of bench/kernels/factor.js.

Usage: factor_ref.py <dir> — reads <dir>/eigh.npy, chol.npy, topk.npy (and topk_k.txt),
times numpy.linalg.eigh, numpy.linalg.cholesky and scipy.linalg.eigh(subset_by_index) on
the same matrices, and prints one JSON line with median-of-reps seconds and a few checksums.
The caller sets OPENBLAS_NUM_THREADS (same thread count as ours).
"""
import json
import os
import sys
import time

import numpy as np
import scipy.linalg as sla


def timed(fn, reps):
    """Median of reps wall-clock runs (and all of them)."""
    ts = []
    out = None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    s = sorted(ts)
    return s[(len(s) - 1) // 2], ts, out


def main():
    d = sys.argv[1]
    reps = int(os.environ.get("REPS", "2"))
    res = {"threads": os.environ.get("OPENBLAS_NUM_THREADS")}
    p = os.path.join(d, "eigh.npy")
    if os.path.exists(p):
        a = np.load(p)
        t, ts, (w, v) = timed(lambda: np.linalg.eigh(a), reps)
        res["eigh_s"] = t
        res["eigh_all"] = ts
        res["eigh_w"] = [float(w[0]), float(w[-1]), float(w.sum())]
    p = os.path.join(d, "chol.npy")
    if os.path.exists(p):
        a = np.load(p)
        t, _, l = timed(lambda: np.linalg.cholesky(a), reps)
        res["chol_s"] = t
        res["chol_diag_sum"] = float(np.trace(l))
    p = os.path.join(d, "topk.npy")
    if os.path.exists(p):
        a = np.load(p)
        k = int(open(os.path.join(d, "topk_k.txt")).read())
        n = a.shape[0]
        t, _, (w, v) = timed(lambda: sla.eigh(a, subset_by_index=[n - k, n - 1], driver="evr"), 1)
        res["topk_s"] = t
        res["topk_w"] = [float(w[-1]), float(w[0])]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
