"""The Python client against a real local cluster (npm test's integration/python test starts it
and passes its jobs API address and tokens): tokens, objects, GRF, EigenPro, jobs, typed errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.sparse as sp

import gramfleet

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")
CORA = os.path.abspath(os.path.join(SHARED_DATA, "graphs", "cora.npz"))


def cora() -> sp.csr_matrix:
    """The Cora citation graph (its .npz holds CSR arrays and labels, without scipy's format key)."""
    with np.load(CORA) as z:
        return sp.csr_matrix((z["data"].astype(np.float64), z["indices"], z["indptr"]), shape=tuple(z["shape"]))


def test_bad_and_expired_tokens_are_typed_401s(api: tuple, request: pytest.FixtureRequest) -> None:
    url, token = api
    with pytest.raises(gramfleet.AuthenticationError) as e:
        gramfleet.connect(url, "gft_000000000000_" + "A" * 43)
    assert e.value.code == "API_UNAUTHENTICATED"
    assert e.value.status == 401
    assert e.value.field == "authorization"
    assert e.value.message.startswith("[API_UNAUTHENTICATED]")
    with pytest.raises(gramfleet.AuthenticationError) as e:
        gramfleet.connect(url, "not a token")
    assert e.value.code == "API_UNAUTHENTICATED"
    expired = request.config.getoption("--gramfleet-expired-token")
    if expired:
        with pytest.raises(gramfleet.AuthenticationError) as e:
            gramfleet.connect(url, expired)
        assert e.value.code == "API_TOKEN_EXPIRED"
        assert "expiresAt" in e.value.details
    with pytest.raises(gramfleet.GramfleetError) as e:
        gramfleet.connect("http://127.0.0.1:9", token, timeout=5)
    assert e.value.code == "CLUSTER_UNAVAILABLE"


def test_put_and_get_keep_arrays_and_sparse_matrices(fleet: gramfleet.Fleet) -> None:
    rng = np.random.default_rng(1)
    dense = rng.standard_normal((7, 5))
    back = fleet.get(fleet.put(dense))
    assert isinstance(back, np.ndarray)
    np.testing.assert_array_equal(back, dense)
    # Fortran order and big-endian arrays are sent as the values they hold.
    np.testing.assert_array_equal(fleet.get(fleet.put(np.asfortranarray(dense))), dense)
    np.testing.assert_array_equal(fleet.get(fleet.put(dense.astype(">f8"))), dense)
    ints = np.arange(10, dtype=np.int32)
    np.testing.assert_array_equal(fleet.get(fleet.put(ints)), ints)
    a = sp.random(30, 30, density=0.1, format="csr", random_state=2)
    ref = fleet.put(a)
    assert ref.format == "npz"
    assert fleet.put(a) == ref, "the same bytes give the same object"
    m = fleet.get(ref)
    assert isinstance(m, sp.csr_matrix)
    assert (m != a).nnz == 0
    with pytest.raises(gramfleet.NotFoundError) as e:
        fleet.get("0" * 64)
    assert e.value.code == "API_NOT_FOUND"


def test_grf_from_a_scipy_matrix_equals_grf_from_the_file(fleet: gramfleet.Fleet, tmp_path: "os.PathLike[str]") -> None:
    graph = cora()
    params = dict(kernel="diffusion", scale=0.5, walks=8, pHalt=0.5, seed=3)
    seen = []
    job = fleet.submit(kind="grf", graph=graph, **params)
    assert job.kind == "grf"
    final = job.wait(on_progress=seen.append)
    assert final["state"] == "completed"
    r = job.result()
    phi = r["phi"][0]
    assert isinstance(phi, sp.csr_matrix)
    assert phi.shape[0] == r["n"]
    assert phi.nnz == r["nnz"][0] > 0
    # The same graph uploaded as the file itself: the same Φ, bit for bit.
    r2 = fleet.submit(kind="grf", graph=fleet.put(CORA), **params).result()
    phi2 = r2["phi"][0]
    assert np.array_equal(phi.indptr, phi2.indptr)
    assert np.array_equal(phi.indices, phi2.indices)
    assert np.array_equal(phi.data, phi2.data)
    # The status and the listing know the job.
    assert fleet.job(job.id).status()["state"] == "completed"
    assert any(j["jobId"] == job.id for j in fleet.jobs(kind="grf"))
    assert job.cancel()["cancelRequested"] is False
    # A result written to a file as it downloads.
    out = os.path.join(os.fspath(tmp_path), "phi.npz")
    again = fleet.get(fleet.put(phi), out=out)
    assert (sp.load_npz(out) != phi).nnz == 0 and (again != phi).nnz == 0


def _laplacian_exact(x: np.ndarray, y: np.ndarray, sigma: float) -> np.ndarray:
    r = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    return np.linalg.solve(np.exp(-r / sigma), y)


def test_eigenpro_from_numpy_converges_to_the_interpolant(fleet: gramfleet.Fleet) -> None:
    rng = np.random.default_rng(5)
    n, d, c = 200, 4, 3
    x = rng.uniform(size=(n, d))
    labels = ((x[:, 0] + x[:, 1] > 1).astype(np.int64) + (x[:, 2] > 0.7)).astype(np.float64)
    events = []
    job = fleet.submit(kind="eigenpro", train=x, trainLabels=labels.reshape(n, 1), kernel="laplacian", bandwidth=0.5, epochs=150, seed=3, trainEvalRows=0, shards=1)
    job.wait(on_progress=events.append)
    r = job.result()
    a = r["coefficients"]
    assert isinstance(a, np.ndarray) and a.shape == (n, c)
    exact = _laplacian_exact(x, np.eye(c)[labels.astype(int)], 0.5)
    err = np.linalg.norm(a - exact) / np.linalg.norm(exact)
    assert err < 1e-5, f"|a - K^-1 Y| / |K^-1 Y| = {err}"
    np.testing.assert_array_equal(r["centers"], x)
    assert len(r["history"]) == 150
    assert events, "progress events arrived"


def test_bad_parameters_are_typed_errors_naming_the_field(fleet: gramfleet.Fleet) -> None:
    g = cora()
    with pytest.raises(gramfleet.InputError) as e:
        fleet.submit(kind="grf", graph=g, kernel="diffusion", scale=0.5, walks=-1, pHalt=0.5)
    assert e.value.field == "walks" and e.value.code.startswith("INPUT_")
    with pytest.raises(gramfleet.InputError) as e:
        fleet.submit(kind="grff")
    assert e.value.field == "kind"
    with pytest.raises(gramfleet.InputError) as e:
        fleet.submit(kind="grf", graph="/etc/passwd")
    assert e.value.field == "graph"
    with pytest.raises(gramfleet.NotFoundError):
        fleet.job("no-such-job").status()


def test_campaign_grid_of_grf_runs_from_a_scipy_matrix(fleet: gramfleet.Fleet) -> None:
    g = cora()
    base = dict(graph=g, kernel="diffusion", scale=0.5, pHalt=0.5, seed=1)
    c = fleet.campaign({"name": "python grid", "grid": {"kind": "grf", "base": base, "axes": {"walks": [4, 8]}}})
    s = c.wait(timeout=600)
    assert s["state"] == "done", s
    assert s["runsDone"] == 2 and s["runsFailed"] == 0
    rows = c.rows(artifacts=True)
    assert sorted(r["params"]["walks"] for r in rows) == [4, 8]
    for r in rows:
        assert r["status"] == "done"
        phi = r["artifacts"]["phi"]
        assert isinstance(phi, sp.csr_matrix) and phi.shape[0] == r["metrics"]["n"]
    # The walks=8 run is the job of the same parameters: the same Φ.
    one = fleet.submit(kind="grf", **dict(base, walks=8)).result()["phi"][0]
    eight = next(r for r in rows if r["params"]["walks"] == 8)["artifacts"]["phi"]
    assert np.array_equal(one.indices, eight.indices) and np.array_equal(one.data, eight.data)
    assert any(x["campaignId"] == c.id for x in fleet.campaigns())
