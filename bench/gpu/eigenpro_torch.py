"""The reference for bench/gpu: one EigenPro 2 epoch in PyTorch (float64, on the GPU), the same
iteration as bench/gpu/run.js runs with gramfleet's GPU ops: Laplacian kernel, Nyström
preconditioner from the top-q eigensystem of K(X_S, X_S)/s (S = the first s points),
eta = m / (1 + (m - 1) * lambda_{q+1}), minibatches in order.
usage: eigenpro_torch.py DIR s q batch bandwidth  → {"epoch_s": …, "mse": …}"""
import json, sys, time
import numpy as np
import torch

d_, s, q, m, bw = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
dev = torch.device('cuda')
X = torch.from_numpy(np.load(f'{d_}/x.npy')).to(dev)
Y = torch.from_numpy(np.load(f'{d_}/y.npy')).to(dev)
n, c = Y.shape

def kernel(a, b):
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return torch.exp(-torch.sqrt(torch.clamp(d2, min=0.0)) / bw)

torch.cuda.synchronize()
t0 = time.perf_counter()
xs = X[:s]
w, v = torch.linalg.eigh(kernel(xs, xs) / s)
w, v = w.flip(0), v.flip(1)
lq1 = w[q]
E = v[:, :q]
D = (1 - lq1 / w[:q]) / (s * w[:q])
eta = m / (1 + (m - 1) * lq1)
alpha = torch.zeros(n, c, dtype=torch.float64, device=dev)
for b0 in range(0, n, m):
    xb = X[b0:b0 + m]
    mb = xb.shape[0]
    g = kernel(xb, X) @ alpha - Y[b0:b0 + mb]
    h = kernel(xs, xb) @ g
    corr = E @ (D[:, None] * (E.T @ h))
    alpha[b0:b0 + mb] -= (eta / mb) * g
    alpha[:s] += (eta / mb) * corr
torch.cuda.synchronize()
epoch = time.perf_counter() - t0
ev = min(2000, n)
mse = float(((kernel(X[:ev], X) @ alpha - Y[:ev]) ** 2).sum() / ev)
print(json.dumps({"epoch_s": epoch, "mse": mse}))
