"""Reference for bench/kron: solve + LML + gradient of a grid GP with GPyTorch's
linear_operator KroneckerProductAddedDiagLinearOperator (CPU torch, float64), and dense
numpy (Cholesky) where it fits. Same problem as run.js: RBF per axis on [0,1]^D, y from a
fixed generator, noise 0.01. Prints one JSON line: {"gpytorch_s", "dense_s", "lml", ...}.
Usage: python gpytorch_ref.py n1,n2,... threads [dense]"""
import json, sys, time, math
import numpy as np

def main():
    shape = [int(s) for s in sys.argv[1].split(',')]
    threads = int(sys.argv[2])
    want_dense = len(sys.argv) > 3 and sys.argv[3] == 'dense'
    import torch
    torch.set_num_threads(threads)
    from linear_operator.operators import KroneckerProductLinearOperator, KroneckerProductAddedDiagLinearOperator, ConstantDiagLinearOperator, DenseLinearOperator
    N = int(np.prod(shape))
    y_np = np.sin(np.arange(N) * 0.37) + 0.1 * np.cos(np.arange(N) * 1.3)
    out = {"n": N}
    axes = [np.linspace(0, 1, n) for n in shape]
    ls0 = [0.2 + 0.1 * d for d in range(len(shape))]
    t0 = time.perf_counter()
    ls = torch.tensor(ls0, dtype=torch.float64, requires_grad=True)
    s = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    noise = torch.tensor(0.01, dtype=torch.float64, requires_grad=True)
    y = torch.from_numpy(y_np)
    facs = []
    for d, x in enumerate(axes):
        xt = torch.from_numpy(x)
        k = torch.exp(-(xt[:, None] - xt[None, :]) ** 2 / (2 * ls[d] ** 2))
        facs.append(DenseLinearOperator(k * s if d == 0 else k))
    K = KroneckerProductAddedDiagLinearOperator(KroneckerProductLinearOperator(*facs), ConstantDiagLinearOperator(noise.reshape(1), N))
    # default settings: KroneckerProductAddedDiagLinearOperator with a constant diagonal
    # solves and takes the log-det through the factors' eigendecompositions
    inv_quad, logdet = K.inv_quad_logdet(inv_quad_rhs=y.unsqueeze(-1), logdet=True)
    lml = -0.5 * inv_quad - 0.5 * logdet - 0.5 * N * math.log(2 * math.pi)
    lml.backward()
    out["gpytorch_s"] = time.perf_counter() - t0
    out["lml"] = float(lml)
    out["grad_ls"] = ls.grad.tolist()
    out["grad_noise"] = float(noise.grad)
    if want_dense:
        t0 = time.perf_counter()
        facs = [np.exp(-(x[:, None] - x[None, :]) ** 2 / (2 * l ** 2)) for x, l in zip(axes, ls0)]
        Kd = facs[0]
        for f in facs[1:]:
            Kd = np.kron(Kd, f)
        Kd[np.diag_indices(N)] += 0.01
        L = np.linalg.cholesky(Kd)
        import scipy.linalg
        a = scipy.linalg.cho_solve((L, True), y_np)
        out["dense_lml"] = float(-0.5 * y_np @ a - np.log(np.diag(L)).sum() - 0.5 * N * math.log(2 * math.pi))
        out["dense_s"] = time.perf_counter() - t0
    print(json.dumps(out))

main()
