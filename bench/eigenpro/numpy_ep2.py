"""A plain numpy EigenPro 2 — what a user writes by hand (WORKLOADS §2 formulas, the same
defaults as gramfleet: s = 2000, r = 160, alpha = 0.95, m_G = 2048, Laplacian kernel).

usage: numpy_ep2.py N_TRAIN N_TEST SIGMA EPOCHS TARGET
Prints one JSON line per epoch and a final summary line.
"""
import json
import sys
import time
import numpy as np
import scipy.linalg
from fmnist import load


def lap(x, z, sigma):
    d2 = (x * x).sum(1)[:, None] + (z * z).sum(1)[None, :] - 2 * (x @ z.T)
    return np.exp(-np.sqrt(np.maximum(d2, 0)) / sigma)


def main():
    n_train, n_test, sigma, epochs, target = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    x, y, xt, yt = load(n_train, n_test)
    n, c = x.shape[0], 10
    Y = np.eye(c, dtype=np.float32)[y]
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    s = min(n, 2000)
    r = min(s - 1, 160)
    S = rng.choice(n, s, replace=False)
    kss = lap(x[S].astype(np.float64), x[S].astype(np.float64), sigma) / s
    w, v = scipy.linalg.eigh(kss, subset_by_index=(s - r, s - 1))
    w, v = w[::-1], v[:, ::-1]
    alpha, mg, beta = 0.95, 2048, 1.0
    bound = min(max(s / 5, mg), s)
    q = min(max(5, int((w ** -alpha < bound).sum()) - 1), r)
    lq, l1 = w[q - 1], w[0]
    D = (1 - (lq / w[:q - 1]) ** alpha) / w[:q - 1]
    E = (v[:, :q - 1] / np.sqrt(s)).astype(np.float32)
    lp = l1 ** (1 - alpha) * lq ** alpha
    m = min(int(beta / lp) + 1, mg, n)
    eta = m / beta if m < beta / lp + 1 else 2 * m / (beta + (m - 1) * lp)
    gamma = np.float32(eta / m)
    a = np.zeros((n, c), dtype=np.float32)
    xs = x[S]
    setup_s = time.perf_counter() - t0
    reached = None
    epochs_s = []
    for ep in range(epochs):
        te = time.perf_counter()
        order = rng.permutation(n)
        for b in range(0, n, m):
            B = order[b:b + m]
            kb = lap(x[B], x, sigma)
            g = kb @ a - Y[B]
            phi = kb[:, S] @ E
            a[B] -= gamma * g
            a[S] += gamma * (E @ (D[:, None].astype(np.float32) * (phi.T @ g)))
        epoch_s = time.perf_counter() - te
        epochs_s.append(epoch_s)
        pred = np.concatenate([lap(xt[i:i + 2000], x, sigma) @ a for i in range(0, len(xt), 2000)])
        acc = float((pred.argmax(1) == yt).mean())
        elapsed = time.perf_counter() - t0
        if reached is None and acc >= target:
            reached = elapsed
        print(json.dumps({"epoch": ep + 1, "epoch_s": epoch_s, "test_acc": acc, "elapsed_s": elapsed}), flush=True)
    print(json.dumps({"system": "numpy-ep2", "setup_s": setup_s, "q": int(q), "batch": int(m), "time_to_target_s": reached, "final_test_acc": acc, "epoch_s": epoch_s, "epoch_mean_s": sum(epochs_s) / len(epochs_s), "epochs_s": epochs_s, "elapsed_s": time.perf_counter() - t0}), flush=True)


main()
