"""SciPy references for bench/datagen: gcrotmk carrying its recycled subspace across the
systems (CU passed from one solve to the next, discard_C=True so C is recomputed for each
new matrix) in generation order and in our sorted order, gcrotmk fresh per system, and one
sparse LU (SuperLU) per system.

usage: scipy_ref.py systems.npz M K RTOL MAXITER
The npz holds indptr, indices (one 5-point pattern), data (count x nnz), b (count x n),
order_random and order_sorted. Prints one JSON line.
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

    out["gcrotmk_carry"] = run(True, z["order_random"])
    out["gcrotmk_carry_sorted"] = run(True, z["order_sorted"])
    out["gcrotmk_fresh"] = run(False, z["order_random"])
    t0 = time.perf_counter()
    worst = 0.0
    for i in z["order_random"]:
        x = sla.splu(mats[i].tocsc()).solve(bs[i])
        worst = max(worst, float(np.linalg.norm(bs[i] - mats[i] @ x) / np.linalg.norm(bs[i])))
    out["splu"] = {"seconds": time.perf_counter() - t0, "max_relres": worst}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
