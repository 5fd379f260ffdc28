"""The client of the gramfleet jobs HTTP API (pure Python: the standard library, numpy and scipy)."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import IO, Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple, Union

import numpy as np
import scipy.sparse as sp

from ._errors import GramfleetError, error_from_response

#: What :meth:`Fleet.get` and :meth:`Job.result` give for an array: a numpy array, a scipy CSR
#: matrix, or a dict of arrays (an ``.npz`` that is not a sparse matrix).
ArrayValue = Union[np.ndarray, sp.csr_matrix, Dict[str, np.ndarray]]

#: What :meth:`Fleet.put` takes: a numpy array (or anything ``np.asarray`` takes), a scipy sparse
#: matrix, or the path of a ``.npy``/``.npz`` file (streamed as it is).
PutValue = Union[np.ndarray, sp.spmatrix, "sp.sparray", str, "os.PathLike[str]"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ObjectRef:
    """An object in the cluster's API object store: the sha256 of its bytes and its format.

    Pass it as a job parameter (``submit(kind="grf", graph=ref)``) or read it with :meth:`Fleet.get`.
    """

    id: str
    format: str = "npy"
    bytes: int = -1

    def to_json(self) -> Dict[str, str]:
        """The reference as a job spec carries it."""
        return {"$object": self.id}


class _Http:
    def __init__(self, url: str, token: str, timeout: float) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def open(
        self,
        method: str,
        path: str,
        body: Optional[Union[bytes, IO[bytes]]] = None,
        headers: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
    ) -> Any:
        h = {"authorization": f"Bearer {self.token}", "accept": "application/json"}
        h.update(headers or {})
        req = urllib.request.Request(self.url + path, data=body, method=method, headers=h)
        try:
            return urllib.request.urlopen(req, timeout=timeout if timeout is not None else self.timeout)
        except urllib.error.HTTPError as e:
            raise error_from_response(e.code, e.read()) from None
        except urllib.error.URLError as e:
            raise GramfleetError(
                "CLUSTER_UNAVAILABLE",
                f"[CLUSTER_UNAVAILABLE] cannot reach the jobs API at {self.url}: {e.reason} (is the cluster up? 'gramfleet status' prints the api address)",
                {"url": self.url},
            ) from None

    def json(self, method: str, path: str, payload: Any = None) -> Any:
        body = None
        headers: Dict[str, str] = {}
        if payload is not None:
            body = json.dumps(payload, default=_json_default).encode("utf-8")
            headers["content-type"] = "application/json"
        with self.open(method, path, body, headers) as r:
            return json.loads(r.read().decode("utf-8"))


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, ObjectRef):
        return v.to_json()
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")


def _is_sparse(v: Any) -> bool:
    return bool(sp.issparse(v))


def _npy_ready(a: np.ndarray) -> np.ndarray:
    """C order, little-endian: what every reader of the cluster takes."""
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return a


class Job:
    """A job on the cluster (submitted here or elsewhere): its status, progress events, result, cancellation."""

    def __init__(self, fleet: "Fleet", job_id: str, kind: Optional[str] = None) -> None:
        self._fleet = fleet
        #: The job id (the Temporal workflow id).
        self.id: str = job_id
        #: The workload kind (``grf``, ``eigenpro``, ``kron-gp``, ``datagen``), once known.
        self.kind: Optional[str] = kind

    def __repr__(self) -> str:
        return f"Job({self.id!r}, kind={self.kind!r})"

    def status(self) -> Dict[str, Any]:
        """The job's state (``running``, ``completed``, ``failed``, ``cancelled``, ``terminated``, ``timed-out``) and its progress while it runs."""
        s: Dict[str, Any] = self._fleet._http.json("GET", f"/v1/jobs/{_q(self.id)}")
        self.kind = s.get("kind", self.kind)
        return s

    def events(self) -> Iterator[Tuple[str, Any]]:
        """The job's server-sent events as ``(event, data)``: ``progress`` events, then one ``end`` (the final status)."""
        with self._fleet._http.open("GET", f"/v1/jobs/{_q(self.id)}/events", headers={"accept": "text/event-stream"}, timeout=None) as r:
            event, data = "message", []  # type: str, List[str]
            for raw in r:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line == "":
                    if data:
                        yield event, json.loads("\n".join(data))
                    event, data = "message", []
                elif line.startswith(":"):
                    continue
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())

    def wait(self, timeout: Optional[float] = None, on_progress: Optional[Callable[[Any], None]] = None) -> Dict[str, Any]:
        """Blocks until the job ends; returns its final status. ``on_progress`` gets each progress event.

        Raises :class:`TimeoutError` after ``timeout`` seconds (the job keeps running).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                for event, data in self.events():
                    if event == "progress" and on_progress is not None:
                        on_progress(data)
                    elif event == "end":
                        return dict(data)
                    elif event == "error":
                        raise error_from_response(503, json.dumps(data).encode())
                    if deadline is not None and time.monotonic() > deadline:
                        break
            except GramfleetError as e:
                if e.code not in ("CLUSTER_UNAVAILABLE", "API_INTERNAL"):
                    raise
            s = self.status()
            if s.get("state") != "running":
                return s
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {self.id} still runs after {timeout} s")
            time.sleep(0.5)

    def result(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Waits for the job and returns its result, every array in it as numpy (dense) or scipy CSR (sparse).

        A job that failed, was cancelled or timed out raises :class:`JobFailedError` with the job's error code.
        """
        self.wait(timeout)
        r = self._fleet._http.json("GET", f"/v1/jobs/{_q(self.id)}/result")
        out: Dict[str, Any] = self._fleet._materialise(r["result"])
        return out

    def cancel(self) -> Dict[str, Any]:
        """Cancels the job if it runs; ``cancelRequested`` says whether it did."""
        r: Dict[str, Any] = self._fleet._http.json("POST", f"/v1/jobs/{_q(self.id)}/cancel")
        return r


class Campaign:
    """A campaign of runs (a grid or list of jobs whose metrics form a table)."""

    def __init__(self, fleet: "Fleet", campaign_id: str) -> None:
        self._fleet = fleet
        #: The campaign id.
        self.id: str = campaign_id

    def __repr__(self) -> str:
        return f"Campaign({self.id!r})"

    def status(self) -> Dict[str, Any]:
        """The campaign's state and progress (runs done, failed, running)."""
        r: Dict[str, Any] = self._fleet._http.json("GET", f"/v1/campaigns/{_q(self.id)}")
        return r

    def wait(self, timeout: Optional[float] = None, poll: float = 1.0) -> Dict[str, Any]:
        """Blocks until the campaign ends; returns its final status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            s = self.status()
            if s.get("state") != "running":
                return s
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"campaign {self.id} still runs after {timeout} s")
            time.sleep(poll)

    def rows(self, artifacts: bool = False) -> List[Dict[str, Any]]:
        """The result table, one row per finished run; with ``artifacts=True`` each row's arrays are fetched (numpy/scipy)."""
        r = self._fleet._http.json("GET", f"/v1/campaigns/{_q(self.id)}/rows{'?artifacts=true' if artifacts else ''}")
        rows: List[Dict[str, Any]] = r["rows"]
        return [self._fleet._materialise(row) for row in rows] if artifacts else rows

    def cancel(self) -> None:
        """Cancels the campaign (running runs are cancelled; written rows stay)."""
        self._fleet._http.json("POST", f"/v1/campaigns/{_q(self.id)}/cancel")


def _q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


class Fleet:
    """A connection to a gramfleet cluster's jobs HTTP API. Make one with :func:`connect`."""

    def __init__(self, url: str, token: str, timeout: float = 300.0) -> None:
        self._http = _Http(url, token, timeout)
        #: The API's base URL.
        self.url: str = self._http.url

    def __repr__(self) -> str:
        return f"Fleet({self.url!r})"

    # -- objects ---------------------------------------------------------------------------

    def put(self, value: PutValue) -> ObjectRef:
        """Uploads an array, a sparse matrix or a ``.npy``/``.npz`` file; returns its reference.

        Dense arrays go as ``.npy`` (C order, little-endian), sparse matrices as a scipy CSR
        ``.npz``; files are streamed as they are. The same bytes give the same reference.
        """
        if isinstance(value, (str, os.PathLike)):
            size = os.path.getsize(value)
            with open(value, "rb") as f:
                return self._upload(f, size)
        with tempfile.TemporaryFile() as f:
            if _is_sparse(value):
                sp.save_npz(f, sp.csr_matrix(value), compressed=False)
            else:
                np.save(f, _npy_ready(np.asarray(value)), allow_pickle=False)
            size = f.tell()
            f.seek(0)
            return self._upload(f, size)

    def _upload(self, f: IO[bytes], size: int) -> ObjectRef:
        headers = {"content-type": "application/octet-stream", "content-length": str(size)}
        with self._http.open("POST", "/v1/objects", f, headers) as r:
            o = json.loads(r.read().decode("utf-8"))
        return ObjectRef(o["id"], o["format"], int(o["bytes"]))

    def get(self, ref: Union[ObjectRef, str, Mapping[str, Any]], out: Optional[Union[str, "os.PathLike[str]"]] = None) -> ArrayValue:
        """Downloads an object: a numpy array (``.npy``), a scipy CSR matrix (a sparse ``.npz``) or a dict of arrays.

        With ``out``, the bytes are also streamed to that file.
        """
        oid = ref.id if isinstance(ref, ObjectRef) else str(ref["$object"]) if isinstance(ref, Mapping) else ref
        with self._http.open("GET", f"/v1/objects/{_q(oid)}", headers={"accept": "application/octet-stream"}) as r:
            fmt = r.headers.get("x-gramfleet-format", "npy")
            buf: IO[bytes]
            if out is not None:
                with open(out, "wb") as f:
                    shutil.copyfileobj(r, f, _CHUNK)
                buf = open(out, "rb")
            else:
                buf = io.BytesIO(r.read())
        with buf:
            if fmt == "npy":
                a: np.ndarray = np.load(buf, allow_pickle=False)
                return a
            with np.load(buf, allow_pickle=False) as z:
                if "format" in z.files and "indptr" in z.files:
                    buf.seek(0)
                    return sp.csr_matrix(sp.load_npz(buf))
                return {k: z[k] for k in z.files}

    def _materialise(self, v: Any) -> Any:
        if isinstance(v, dict):
            if "$object" in v:
                return self.get(str(v["$object"]))
            return {k: self._materialise(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self._materialise(x) for x in v]
        return v

    # -- jobs ------------------------------------------------------------------------------

    def _spec_value(self, v: Any) -> Any:
        if isinstance(v, ObjectRef):
            return v.to_json()
        if isinstance(v, np.ndarray) or _is_sparse(v):
            return self.put(v).to_json()
        if isinstance(v, dict):
            return {k: self._spec_value(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [self._spec_value(x) for x in v]
        return v

    def submit(self, kind: str, **params: Any) -> Job:
        """Submits a job of any workload kind with its parameters (as the TypeScript SDK's ``fleet.submit`` takes them).

        numpy arrays and scipy sparse matrices are uploaded first (``.npy``/``.npz``) and passed
        by reference; so are :class:`ObjectRef` values. Bad parameters raise
        :class:`InputError` naming the field before anything runs.
        """
        spec = {k: self._spec_value(v) for k, v in params.items()}
        spec["kind"] = kind
        r = self._http.json("POST", "/v1/jobs", spec)
        return Job(self, r["jobId"], r["kind"])

    def job(self, job_id: str) -> Job:
        """A job submitted earlier (by anyone)."""
        return Job(self, job_id)

    def jobs(self, kind: Optional[str] = None, state: Optional[str] = None, limit: Optional[int] = None) -> List[Dict[str, Any]]:
        """Jobs, newest first, optionally of one kind and state."""
        q = {k: str(v) for k, v in (("kind", kind), ("state", state), ("limit", limit)) if v is not None}
        r = self._http.json("GET", "/v1/jobs" + (f"?{urllib.parse.urlencode(q)}" if q else ""))
        jobs: List[Dict[str, Any]] = r["jobs"]
        return jobs

    # -- campaigns -------------------------------------------------------------------------

    def campaign(self, spec: Mapping[str, Any]) -> Campaign:
        """Starts a campaign from a spec (as ``gramfleet campaign start`` takes it); arrays in its runs are uploaded first."""
        r = self._http.json("POST", "/v1/campaigns", self._spec_value(dict(spec)))
        return Campaign(self, r["campaignId"])

    def campaigns(self) -> List[Dict[str, Any]]:
        """Every campaign of the cluster."""
        r = self._http.json("GET", "/v1/campaigns")
        out: List[Dict[str, Any]] = r["campaigns"]
        return out

    def health(self) -> Dict[str, Any]:
        """The API's liveness answer (no token needed)."""
        r: Dict[str, Any] = self._http.json("GET", "/v1/health")
        return r


def connect(url: Optional[str] = None, token: Optional[str] = None, timeout: float = 300.0) -> Fleet:
    """Connects to a cluster's jobs HTTP API.

    Args:
        url: The API's address, e.g. ``http://127.0.0.1:8080`` (``gramfleet up`` and
            ``gramfleet status`` print it). Default: ``$GRAMFLEET_API_URL``.
        token: A token from ``gramfleet token create``. Default: ``$GRAMFLEET_API_TOKEN``.
        timeout: Seconds a single request may take (event streams excepted).

    The token is checked at once: a bad or expired one raises :class:`AuthenticationError`.
    """
    url = url or os.environ.get("GRAMFLEET_API_URL")
    token = token or os.environ.get("GRAMFLEET_API_TOKEN")
    if not url:
        raise GramfleetError("INPUT_INVALID", "[INPUT_INVALID] url: give the jobs API address (gramfleet status prints it) or set GRAMFLEET_API_URL", {"field": "url"})
    if not token:
        raise GramfleetError("INPUT_INVALID", "[INPUT_INVALID] token: give a token from 'gramfleet token create' or set GRAMFLEET_API_TOKEN", {"field": "token"})
    fleet = Fleet(url, token, timeout)
    fleet.jobs(limit=1)
    return fleet
