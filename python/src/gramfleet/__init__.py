"""gramfleet: submit kernel-method jobs to a gramfleet cluster from Python.

A thin client of the cluster's jobs HTTP API (``gramfleet up`` starts it and prints its
address; ``gramfleet token create`` makes a token)::

    import gramfleet, scipy.sparse as sp
    fleet = gramfleet.connect("http://127.0.0.1:PORT", "gft_...")
    job = fleet.submit(kind="grf", graph=A, kernel="diffusion", scale=0.5, walks=32, pHalt=0.5)
    phi = job.result()["phi"][0]          # a scipy.sparse.csr_matrix

Arrays go up as ``.npy``, sparse matrices as scipy ``.npz``; results come back as numpy arrays
and scipy CSR matrices. Errors are :class:`GramfleetError` subclasses carrying the cluster's
error ``code`` and the ``field`` it names.
"""

from ._client import ArrayValue, Campaign, Fleet, Job, ObjectRef, PutValue, connect
from ._errors import (
    AuthenticationError,
    GramfleetError,
    InputError,
    JobFailedError,
    JobRunningError,
    NotFoundError,
    ServerError,
)

__version__ = "0.1.0"

__all__ = [
    "ArrayValue",
    "AuthenticationError",
    "Campaign",
    "Fleet",
    "GramfleetError",
    "InputError",
    "Job",
    "JobFailedError",
    "JobRunningError",
    "NotFoundError",
    "ObjectRef",
    "PutValue",
    "ServerError",
    "connect",
]
