"""scikit-learn-extra's EigenProClassifier on the same data (Laplacian kernel: its 'laplace'
kernel is exp(-||x - z||_2 / bw) with bw = 1/sqrt(2 gamma), so gamma = 1/(2 sigma^2)).

usage: sklearn_extra_ref.py N_TRAIN N_TEST SIGMA EPOCHS TARGET
One fit with n_epoch = EPOCHS (it reports no per-epoch progress): time per epoch = fit time /
EPOCHS, time to target = the fit time when the final accuracy reaches TARGET, else null.
"""
import json
import sys
import time
import types

# The PyPI wheel's Cython fast-Hadamard module does not import under this venv's numpy;
# EigenProClassifier does not use it, so its package is stubbed out before the import.
sys.modules["sklearn_extra.kernel_approximation"] = types.ModuleType("sklearn_extra.kernel_approximation")
# EigenProClassifier calls scipy.linalg.eigh(W, eigvals=(lo, hi)); SciPy 1.14 renamed that
# argument subset_by_index (same meaning). Translate it before the classifier imports eigh.
import scipy.linalg  # noqa: E402

_eigh = scipy.linalg.eigh


def _eigh_compat(a, *args, eigvals=None, **kwargs):
    if eigvals is not None:
        kwargs["subset_by_index"] = eigvals
    return _eigh(a, *args, **kwargs)


scipy.linalg.eigh = _eigh_compat
from sklearn_extra.kernel_methods import EigenProClassifier  # noqa: E402
from fmnist import load  # noqa: E402


def main():
    n_train, n_test, sigma, epochs, target = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    x, y, xt, yt = load(n_train, n_test)
    t0 = time.perf_counter()
    clf = EigenProClassifier(n_epoch=epochs, kernel="laplace", gamma=1 / (2 * sigma * sigma), random_state=0)
    clf.fit(x, y)
    fit_s = time.perf_counter() - t0
    acc = float((clf.predict(xt) == yt).mean())
    reached = fit_s if acc >= target else None
    last = {"epochs": epochs, "fit_s": fit_s, "test_acc": acc}
    print(json.dumps({"system": "sklearn-extra", "time_to_target_s": reached, "final_test_acc": last["test_acc"], "epoch_s": last["fit_s"] / last["epochs"]}), flush=True)


main()
