"""SciPy references for bench/datagen: gcrotmk carrying its recycled subspace across the
systems (CU passed from one solve to the next, discard_C=True so C is recomputed for each
new matrix) in generation order and in our sorted order, gcrotmk fresh per system, and one
sparse LU (SuperLU) per system.

usage: scipy_ref.py systems.npz M K RTOL MAXITER [REPS [SPLU_SUBSET [METHODS]]]
The npz holds indptr, indices (one 5- or 7-point pattern), data (count x nnz), b (count x n),
order_random and order_sorted. Each timed method runs REPS times (default 1); "seconds" is
the median, "runs" every run. SuperLU factorises the first SPLU_SUBSET systems (default all;
its per-system cost depends on the pattern, which every system shares) and reports
"seconds" scaled to the count, with "measured" the number factorised. METHODS (comma list,
default carry,carry_sorted,fresh,splu) picks the methods. Prints one JSON line.
"""
import json
import sys
import time

import numpy as np
import scipy
import scipy.sparse as sp
import scipy.sparse.linalg as sla


def main():
    path, m, k, rtol, maxiter = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    reps = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    splu_subset = int(sys.argv[7]) if len(sys.argv) > 7 else 0
    methods = set((sys.argv[8] if len(sys.argv) > 8 else "carry,carry_sorted,fresh,splu").split(","))
    z = np.load(path)
    indptr, indices, data, bs = z["indptr"], z["indices"], z["data"], z["b"]
    n = bs.shape[1]
    mats = [sp.csr_matrix((data[i], indices, indptr), shape=(n, n)) for i in range(data.shape[0])]
    out = {"scipy": scipy.__version__}

    def run(carry, order):
        cu = [] if carry else None
        total_mv = 0
        worst = 0.0
        failures = 0
        t0 = time.perf_counter()
        for i in order:
            a = mats[i]
            b = bs[i]
            cnt = [0]

            def mv(v, a=a, cnt=cnt):
                cnt[0] += 1
                return a @ v

            op = sla.LinearOperator((n, n), matvec=mv, dtype=np.float64)
            x, info = sla.gcrotmk(op, b, rtol=rtol, atol=0.0, m=m, k=k, maxiter=maxiter, CU=cu if carry else None, discard_C=True)
            total_mv += cnt[0]
            if info != 0:
                failures += 1
            worst = max(worst, float(np.linalg.norm(b - a @ x) / np.linalg.norm(b)))
        return {"seconds": time.perf_counter() - t0, "matvecs": total_mv, "max_relres": worst, "failures": failures}

    def median_of(f):
        runs = [f() for _ in range(reps)]
        best = dict(runs[0])
        best["runs"] = [r["seconds"] for r in runs]
        best["seconds"] = float(np.median(best["runs"]))
        return best

    if "carry" in methods:
        out["gcrotmk_carry"] = median_of(lambda: run(True, z["order_random"]))
    if "carry_sorted" in methods:
        out["gcrotmk_carry_sorted"] = median_of(lambda: run(True, z["order_sorted"]))
    if "fresh" in methods:
        out["gcrotmk_fresh"] = median_of(lambda: run(False, z["order_random"]))

    def splu():
        order = list(z["order_random"])
        sub = order[:splu_subset] if splu_subset > 0 else order
        worst = 0.0
        t0 = time.perf_counter()
        for i in sub:
            x = sla.splu(mats[i].tocsc()).solve(bs[i])
            worst = max(worst, float(np.linalg.norm(bs[i] - mats[i] @ x) / np.linalg.norm(bs[i])))
        dt = time.perf_counter() - t0
        return {"seconds": dt * len(order) / len(sub), "measured": len(sub), "max_relres": worst}

    if "splu" in methods:
        out["splu"] = median_of(splu)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
