"""Fashion-MNIST from the Debian package dataset-fashion-mnist (gzipped IDX), scaled to [0, 1]."""
import gzip
import os
import numpy as np

DIR = os.environ.get("FMNIST_DIR", "/usr/share/datasets/fashion-mnist")


def _idx(name):
    with gzip.open(os.path.join(DIR, name), "rb") as f:
        b = f.read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def load(n_train, n_test):
    """The first n_train training and n_test test rows (features f32 in [0, 1], labels int)."""
    xtr = _idx("train-images-idx3-ubyte.gz").reshape(60000, -1)[:n_train].astype(np.float32) / 255
    ytr = _idx("train-labels-idx1-ubyte.gz")[:n_train].astype(np.int64)
    xte = _idx("t10k-images-idx3-ubyte.gz").reshape(10000, -1)[:n_test].astype(np.float32) / 255
    yte = _idx("t10k-labels-idx1-ubyte.gz")[:n_test].astype(np.int64)
    return xtr, ytr, xte, yte
