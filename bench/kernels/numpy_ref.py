"""numpy/SciPy (OpenBLAS) side of bench/kernels: same problems as run.js, best-of-R wall times.

Usage: python numpy_ref.py <figures-json>; OPENBLAS_NUM_THREADS is set by the caller.
Prints one JSON object {figure: seconds, ..., "blas": "..."} as its last line.
"""
import json
import sys
import time

import numpy as np


def best(fn, reps):
    fn()  # warm-up (allocations, BLAS thread start)
    t = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


def main():
    figs = json.loads(sys.argv[1])
    rng = np.random.default_rng(1)
    out = {}
    for f in figs:
        kind, reps = f["kind"], f["reps"]
        if kind == "gemm":
            m, n, k = f["m"], f["n"], f["k"]
            dt = np.float64 if f["dtype"] == "f64" else np.float32
            a = rng.random((m, k)).astype(dt)
            b = rng.random((k, n)).astype(dt)
            c = np.empty((m, n), dtype=dt)
            out[f["name"]] = best(lambda: np.matmul(a, b, out=c), reps)
        elif kind == "laplacian":
            n, m, d, sigma = f["n"], f["m"], f["d"], f["sigma"]
            x = rng.random((n, d))
            z = rng.random((m, d))

            def lap():
                xn = np.einsum("ij,ij->i", x, x)
                zn = np.einsum("ij,ij->i", z, z)
                g = x @ z.T
                g *= -2.0
                g += xn[:, None]
                g += zn[None, :]
                np.maximum(g, 0.0, out=g)
                np.sqrt(g, out=g)
                g *= -1.0 / sigma
                np.exp(g, out=g)
                return g

            out[f["name"]] = best(lap, reps)
        elif kind == "kmatmul":
            n, m, d, c, sigma = f["n"], f["m"], f["d"], f["c"], f["sigma"]
            x = rng.random((n, d), dtype=np.float32)
            z = rng.random((m, d), dtype=np.float32)
            a = rng.random((m, c), dtype=np.float32)

            def kmm():
                xn = np.einsum("ij,ij->i", x, x)
                zn = np.einsum("ij,ij->i", z, z)
                g = x @ z.T
                g *= -2.0
                g += xn[:, None]
                g += zn[None, :]
                np.maximum(g, 0.0, out=g)
                np.sqrt(g, out=g)
                g *= -1.0 / sigma
                np.exp(g, out=g)
                return g @ a

            out[f["name"]] = best(kmm, reps)
        elif kind == "spmv-file":
            import scipy.sparse as sp

            z = np.load(f["file"])
            a = sp.csr_matrix((z["data"].astype(np.float64), z["indices"], z["indptr"]), shape=tuple(z["shape"]))
            a.sum_duplicates()
            x = rng.random(a.shape[1])
            inner = f["inner"]

            def many():
                for _ in range(inner):
                    a @ x

            out[f["name"]] = best(many, reps) / inner
            out[f["name"] + ":nnz"] = int(a.nnz)
        elif kind == "spmv":
            import scipy.sparse as sp

            g = f["grid"]
            t = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(g, g))
            eye = sp.identity(g)
            a = (sp.kron(eye, t) + sp.kron(t, eye)).tocsr()
            a.sort_indices()
            x = rng.random(a.shape[1])
            out[f["name"]] = best(lambda: a @ x, reps)
            out[f["name"] + ":nnz"] = int(a.nnz)
    try:
        cfg = np.show_config(mode="dicts")
        out["blas"] = cfg["Build Dependencies"]["blas"]["name"] + " " + str(cfg["Build Dependencies"]["blas"].get("version", ""))
    except Exception:  # older numpy
        out["blas"] = "unknown"
    print(json.dumps(out))


if __name__ == "__main__":
    main()
